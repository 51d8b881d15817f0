"""A small Chinese corpus and three ways to tokenise it: characters, words, BPE.

* :func:`load_corpus` — 185 short sentences of plain modern Chinese written for the course
  (everyday topics and the course's subjects), bundled as ``chinese_corpus.json`` next to this
  module, so nothing downloads. :func:`split_corpus` holds out a fixed share of the sentences.
* :func:`char_tokenize`, :func:`word_tokenize` (``jieba``), :func:`train_char_bpe`
  (Hugging Face ``tokenizers``; optionally with byte fallback) — the three tokenisers.
* :func:`tokenizer_stats` / :func:`compare_tokenizers` — vocabulary size, tokens per sentence,
  out-of-vocabulary (OOV) rate and UTF-8 bytes per token, measured on held-out sentences.

The corpus is tiny on purpose (it trains a tokeniser in milliseconds); numbers measured on it
show the mechanics, not the sizes of a production tokeniser. ``jieba`` and ``tokenizers`` are
imported inside the functions that use them. ``jieba`` ships its dictionary in the wheel, so
word segmentation works offline.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..validation import check_bool, check_int, check_number

__all__ = [
    "BYTE_TOKENS",
    "TokenStats",
    "char_tokenize",
    "compare_tokenizers",
    "corpus_topics",
    "load_corpus",
    "split_corpus",
    "tokenizer_stats",
    "train_char_bpe",
    "word_tokenize",
]

#: The 256 byte tokens of a byte-fallback BPE, ``"<0x00>"`` ... ``"<0xFF>"`` (SentencePiece's names).
BYTE_TOKENS = tuple(f"<0x{b:02X}>" for b in range(256))
UNK = "<unk>"


@cache
def _corpus() -> dict[str, tuple[str, ...]]:
    text = resources.files(__package__).joinpath("chinese_corpus.json").read_text("utf-8")
    return {topic: tuple(sentences) for topic, sentences in json.loads(text)["topics"].items()}


def corpus_topics() -> list[str]:
    """The corpus's topics, in file order (``"weather"``, ``"cooking"``, ...)."""
    return list(_corpus())


def load_corpus(topic: str | None = None) -> list[str]:
    """The bundled Chinese sentences, one string per sentence, in file order.

    Args:
        topic: one of :func:`corpus_topics` to get only that topic's sentences; None (default)
            for all of them (185 sentences, about 18 characters each, none with spaces).
    """
    corpus = _corpus()
    if topic is None:
        return [s for sentences in corpus.values() for s in sentences]
    if topic not in corpus:
        raise ValueError(f"unknown topic {topic!r}; the topics are {list(corpus)}")
    return list(corpus[topic])


def split_corpus(sentences: Sequence[str] | None = None, held_out_fraction: float = 0.2,
                 seed: int = 0) -> tuple[list[str], list[str]]:
    """Split sentences into ``(train, held_out)``, by sentence; the same seed gives the same split.

    Args:
        sentences: the sentences to split (default: :func:`load_corpus`).
        held_out_fraction: share of the sentences held out (0 < f < 1); at least one is.
        seed: which sentences are held out (fixed by default so results compare). The global
            random state is untouched.

    Both lists keep the sentences' original order; together they are the input, without overlap.
    """
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of strings, not one string")
    sentences = load_corpus() if sentences is None else list(sentences)
    if not all(isinstance(s, str) for s in sentences):
        raise TypeError("sentences must be a list of strings")
    if len(sentences) < 2:
        raise ValueError(f"need at least 2 sentences to split, got {len(sentences)}")
    check_number("held_out_fraction", held_out_fraction, 0.0, 1.0, low_open=True, high_open=True)
    check_int("seed", seed, low=None)
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    n_held = min(len(sentences) - 1, max(1, round(len(sentences) * held_out_fraction)))
    held = set(order[:n_held])
    return ([s for i, s in enumerate(sentences) if i not in held],
            [s for i, s in enumerate(sentences) if i in held])


def _check_sentence(sentence) -> str:
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
    return sentence


def char_tokenize(sentence: str) -> list[str]:
    """One token per character (whitespace dropped): ``"今天下雨。"`` → ``['今', '天', '下', '雨', '。']``."""
    return [c for c in _check_sentence(sentence) if not c.isspace()]


@cache
def _jieba():
    """``jieba``, initialised once, without its log lines on stderr."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # loads the dictionary bundled with the wheel (no download)
    return jieba


def word_tokenize(sentence: str) -> list[str]:
    """Words from ``jieba.lcut`` (its default, accurate mode; whitespace dropped).

    >>> word_tokenize("我喜欢机器学习。")   # doctest: +SKIP
    ['我', '喜欢', '机器', '学习', '。']
    """
    return [w for w in _jieba().lcut(_check_sentence(sentence)) if not w.isspace()]


def train_char_bpe(texts: Iterable[str], vocab_size: int = 800, *, byte_fallback: bool = False,
                   min_frequency: int = 2):
    """Train a character-level BPE tokeniser on Chinese text and return it.

    The base alphabet is the characters of ``texts``; each merge joins the most frequent pair
    of adjacent tokens. Runs of letters (Chinese characters, Latin letters, digits) are merged
    within themselves, punctuation marks stay apart.

    Args:
        texts: training sentences (strings, any length).
        vocab_size: the size of the vocabulary: ``<unk>``, the alphabet and the merges
            (``byte_fallback`` adds 256 byte tokens on top, so the merges are the same). If the
            text has too few frequent pairs, the vocabulary stays smaller.
        byte_fallback: False (default): a character never seen in training becomes ``<unk>``.
            True: it is spelled with its UTF-8 bytes instead (``<0xE4>``, ...; 3 tokens for a
            Chinese character), so nothing is unknown and ``decode`` gives the text back.
        min_frequency: a pair must occur this often to be merged.

    Returns:
        a ``tokenizers.Tokenizer``: ``tok.encode(s).tokens`` / ``.ids``, ``tok.decode(ids)``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string")
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts) or not any(texts):
        raise ValueError("texts must be a non-empty list of non-empty strings")
    check_bool("byte_fallback", byte_fallback)
    check_int("vocab_size", vocab_size, low=2)
    check_int("min_frequency", min_frequency)
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=[UNK], show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    if byte_fallback:  # append the 256 byte tokens as ordinary tokens (decode keeps them)
        spec = json.loads(tok.to_str())
        model = spec["model"]
        n = len(model["vocab"])
        model["vocab"].update({b: n + i for i, b in enumerate(BYTE_TOKENS)})
        model["byte_fallback"] = True
        spec["decoder"] = {"type": "Sequence", "decoders": [{"type": "ByteFallback"},
                                                            {"type": "Fuse"}]}
        tok = Tokenizer.from_str(json.dumps(spec))
    return tok


@dataclass(frozen=True)
class TokenStats:
    """What a tokeniser does to held-out text.

    Attributes:
        name: the tokeniser's name.
        vocab_size: number of distinct tokens it knows (built from the training text).
        tokens_per_sentence: mean number of tokens per held-out sentence.
        oov_rate: share of held-out tokens that are unknown (0..1): not in the vocabulary, or
            ``<unk>``.
        bytes_per_token: UTF-8 bytes of the held-out text per token (a Chinese character is 3).
    """

    name: str
    vocab_size: int
    tokens_per_sentence: float
    oov_rate: float
    bytes_per_token: float


def tokenizer_stats(name: str, tokenize: Callable[[str], list[str]], train: Sequence[str],
                    held_out: Sequence[str], *, vocab: int | None = None) -> TokenStats:
    """Measure a tokeniser on held-out sentences.

    Args:
        name: a label for the table.
        tokenize: sentence → list of token strings.
        train: training sentences; without ``vocab``, the vocabulary is the set of tokens that
            ``tokenize`` produces on them, and a held-out token outside it counts as OOV.
        held_out: the sentences to measure on (non-empty).
        vocab: for a trained tokeniser (BPE) that has its own vocabulary: its size. Then a
            held-out token is OOV when it is ``"<unk>"``.
    """
    if not held_out:
        raise ValueError("held_out is empty")
    tokens = [tokenize(s) for s in held_out]
    flat = [t for sentence in tokens for t in sentence]
    if not flat:
        raise ValueError("the tokeniser produced no tokens on held_out")
    if vocab is None:
        known = {t for s in train for t in tokenize(s)}
        vocab, oov = len(known), sum(t not in known for t in flat)
    else:
        vocab, oov = check_int("vocab", vocab), sum(t == UNK for t in flat)
    n_bytes = sum(len(s.encode("utf-8")) for s in held_out)
    return TokenStats(name, vocab, len(flat) / len(held_out), oov / len(flat), n_bytes / len(flat))


def compare_tokenizers(train: Sequence[str], held_out: Sequence[str],
                       bpe_vocab_size: int = 800) -> dict[str, TokenStats]:
    """Characters, jieba words, a character BPE and the same BPE with byte fallback, side by side.

    Returns ``{"characters", "words", "bpe", "bpe_bytes": TokenStats}``, measured on
    ``held_out`` with vocabularies and merges learned from ``train`` only.
    """
    bpe = train_char_bpe(train, bpe_vocab_size)
    bpe_bytes = train_char_bpe(train, bpe_vocab_size, byte_fallback=True)
    return {
        "characters": tokenizer_stats("characters", char_tokenize, train, held_out),
        "words": tokenizer_stats("words (jieba)", word_tokenize, train, held_out),
        "bpe": tokenizer_stats(f"BPE ({bpe.get_vocab_size()})", lambda s: bpe.encode(s).tokens,
                               train, held_out, vocab=bpe.get_vocab_size()),
        "bpe_bytes": tokenizer_stats("BPE + byte fallback", lambda s: bpe_bytes.encode(s).tokens,
                                     train, held_out, vocab=bpe_bytes.get_vocab_size()),
    }
