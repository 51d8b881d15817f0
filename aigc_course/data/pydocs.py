"""A real English corpus that needs no download: Python's own documentation.

Every Python installation ships the text of the language reference's topics
(``pydoc_data.topics``: 79 documents, ≈ 465,000 characters) for ``help()``.
It is technical English with code, which makes it a good small corpus for
character and token language models. The split is *by document*, so the
validation text comes from topics the model never saw.
"""

from __future__ import annotations

import random

from ..validation import check_number


def pydocs_documents() -> dict[str, str]:
    """All topics as ``{title: text}`` (sorted by title)."""
    from pydoc_data.topics import topics

    return {name: topics[name] for name in sorted(topics)}


def load_pydocs(val_fraction: float = 0.1, seed: int = 0) -> tuple[str, str]:
    """The Python documentation as ``(train_text, val_text)``, split by document.

    Args:
        val_fraction: share of the documents held out for validation (0 < f < 1).
        seed: which documents are held out (fixed by default so results compare).

    Documents are joined with a blank line; the validation set gets at least one document.
    """
    check_number("val_fraction", val_fraction, 0.0, 1.0, low_open=True, high_open=True)
    docs = pydocs_documents()
    names = list(docs)
    random.Random(seed).shuffle(names)
    n_val = max(1, round(len(names) * val_fraction))
    val_names, train_names = sorted(names[:n_val]), sorted(names[n_val:])
    join = "\n\n".join
    return join(docs[n] for n in train_names), join(docs[n] for n in val_names)
