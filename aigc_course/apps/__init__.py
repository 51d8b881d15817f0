"""Small building blocks for the practice chapters (13–15).

* :mod:`.retrieval` — a TF-IDF FAQ retriever with a confidence score and a "don't know" path.
* :mod:`.grounded` — a word-level GRU language model whose replies are conditioned on control
  codes (the retrieved intent, a tone), with its tokenizer and sampler.
* :mod:`.watermark` — green-list watermarking of generated text and its detection z-score.
* :mod:`.bias` — a counterfactual bias probe (swap names or groups, measure the shift).

Import the submodule you need, e.g. ``from aigc_course.apps import retrieval``.
"""

from . import bias, grounded, retrieval, watermark

__all__ = ["bias", "grounded", "retrieval", "watermark"]
