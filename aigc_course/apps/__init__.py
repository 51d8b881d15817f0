"""Small building blocks for the practice chapters (13–15).

* :mod:`.retrieval` — a TF-IDF FAQ retriever with a confidence score and a "don't know" path.
* :mod:`.rag` — retrieval-augmented generation: a small Transformer with a copy head that
  reads the retrieved passage and the question, trained on shops with random policies.
* :mod:`.watermark` — green-list watermarking of generated text and its detection z-score.
* :mod:`.bias` — a counterfactual bias probe (swap names or groups, measure the shift).

Import the submodule you need, e.g. ``from aigc_course.apps import retrieval``.
"""

from . import bias, rag, retrieval, watermark

__all__ = ["bias", "rag", "retrieval", "watermark"]
