"""Datasets for the course: bundled or generated offline, real downloads for the full profile.

Every loader returns ready tensors (see :class:`TensorSplit` / :class:`Splits`).
"""

from .digits import IMAGE_SHAPE, NUM_CLASSES, Splits, TensorSplit, load_digits
from .download import DownloadError, Remote, fetch
from .pydocs import load_pydocs, pydocs_documents

__all__ = [
    "IMAGE_SHAPE", "NUM_CLASSES", "Splits", "TensorSplit", "load_digits",
    "DownloadError", "Remote", "fetch", "load_pydocs", "pydocs_documents",
]
