"""Full-profile text corpora, downloaded once with :func:`aigc_course.data.fetch` (pooch).

* :func:`load_tiny_shakespeare` — Karpathy's Tiny Shakespeare (1,115,394 characters) used by
  char-rnn; returns ``(train_text, val_text)`` (the last 10 % is validation).
* :func:`load_imdb` — the Large Movie Review Dataset of Maas et al. (2011): 25,000 training and
  25,000 test reviews labelled positive (1) or negative (0).

Both verify the file's SHA-256, write atomically, and raise
:class:`~aigc_course.data.DownloadError` with instructions when the machine is offline. The
fast profile never calls them: it uses the generated and bundled corpora instead. Pass
``remote=`` to use a local mirror (``file://``) or a test fixture.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from ..validation import check_choice, check_int, check_number
from .download import Remote, fetch

TINY_SHAKESPEARE = Remote(
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    "tinyshakespeare.txt",
)
IMDB = Remote(
    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    "aclImdb_v1.tar.gz",
)


def load_tiny_shakespeare(val_fraction: float = 0.1, *, remote: Remote = TINY_SHAKESPEARE,
                          folder=None, progress: bool = True) -> tuple[str, str]:
    """Tiny Shakespeare as ``(train_text, val_text)``; the validation text is the last part."""
    check_number("val_fraction", val_fraction, 0, 1, low_open=True, high_open=True)
    text = fetch(remote, folder, progress).read_text(encoding="utf-8")
    if len(text) < 2:
        raise ValueError(f"{remote.filename} holds too little text to split")
    cut = min(max(1, int(len(text) * (1 - val_fraction))), len(text) - 1)
    return text[:cut], text[cut:]


def load_imdb(split: str = "train", *, remote: Remote = IMDB, folder=None,
              progress: bool = True, limit: int | None = None) -> tuple[list[str], list[int]]:
    """Reviews and labels (1 = positive) of the IMDB ``"train"`` or ``"test"`` split.

    The archive is read in place (nothing is extracted to disk). ``limit`` keeps the first
    ``limit`` reviews of each class, in file-name order.
    """
    check_choice("split", split, ("train", "test"))
    if limit is not None:
        check_int("limit", limit)
    path = fetch(remote, folder, progress)
    found: dict[int, list[tuple[str, str]]] = {0: [], 1: []}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) != 4 or parts[1] != split or not parts[3].endswith(".txt"):
                continue
            if parts[2] not in ("pos", "neg"):
                continue
            raw = tar.extractfile(member).read().decode("utf-8", errors="replace")
            found[int(parts[2] == "pos")].append((parts[3], raw.replace("<br />", " ")))
    if not found[0] and not found[1]:
        raise ValueError(f"{path.name} has no reviews under aclImdb/{split}/pos or /neg")
    texts, labels = [], []
    for label in (0, 1):
        rows = sorted(found[label])[:limit] if limit else sorted(found[label])
        texts += [t for _, t in rows]
        labels += [label] * len(rows)
    return texts, labels
