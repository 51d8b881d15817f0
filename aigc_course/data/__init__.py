"""Datasets for the course: bundled or generated offline, real downloads for the full profile.

Every loader returns ready tensors (see :class:`TensorSplit` / :class:`Splits`).
"""

from .customer_service import FAQEntry, customer_service_dialogues, faq_knowledge_base
from .digits import IMAGE_SHAPE, NUM_CLASSES, Splits, TensorSplit, load_digits
from .download import DownloadError, Remote, fetch
from .grammar import Grammar, english_grammar, load_grammar_text
from .pydocs import load_pydocs, pydocs_documents
from .sentiment import load_sentiment, sentiment_stream
from .text_downloads import load_imdb, load_tiny_shakespeare

__all__ = [
    "IMAGE_SHAPE",
    "NUM_CLASSES",
    "DownloadError",
    "FAQEntry",
    "Grammar",
    "Remote",
    "Splits",
    "TensorSplit",
    "customer_service_dialogues",
    "english_grammar",
    "faq_knowledge_base",
    "fetch",
    "load_digits",
    "load_grammar_text",
    "load_imdb",
    "load_pydocs",
    "load_sentiment",
    "load_tiny_shakespeare",
    "pydocs_documents",
    "sentiment_stream",
]
