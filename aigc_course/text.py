"""Text → numbers: character and word vocabularies, BPE tokenisers, language-model batches.

* :class:`CharVocab` — one id per character; ``encode`` fails with a clear message on a
  character it has never seen (or maps it to ``<unk>`` when built with ``unk=True``).
* :class:`WordVocab` + :func:`simple_tokenize` + :func:`pad_batch` — word ids for classifiers.
* :func:`train_bpe` — a byte-pair-encoding tokeniser trained with Hugging Face ``tokenizers``
  (byte-level by default, so *any* text, Chinese included, round-trips without ``<unk>``);
  :func:`bpe_merges` lists the merges it learned, in order.
* :func:`lm_batches` — cut a long sequence of ids into ``(input, target)`` windows for a
  language model (targets are the inputs shifted by one); :func:`bptt_batches` lays the
  sequence out as ``batch_size`` parallel streams for truncated back-propagation through time.

``tokenizers`` is imported only inside the BPE functions.
"""

from __future__ import annotations

import json
import numbers
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch

from .validation import check_int, check_tensor


def _check_text(text, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError(f"{name} is empty")
    return text


# --------------------------------------------------------------------------- characters
class CharVocab:
    """A character vocabulary: ``encode`` a string to ids, ``decode`` ids back.

    Args:
        chars: the characters, in id order (duplicates are an error).
        unk: when True, id 0 is reserved for characters not in ``chars`` (decoded as ``"\ufffd"``);
            when False (default), encoding an unknown character raises ``ValueError``.
    """

    UNK = "\ufffd"

    def __init__(self, chars: Iterable[str], unk: bool = False):
        chars = list(chars)
        if not chars:
            raise ValueError("a vocabulary needs at least one character")
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"vocabulary entries must be single characters, got {bad[:5]!r}")
        if len(set(chars)) != len(chars):
            dup = [c for c, n in Counter(chars).items() if n > 1]
            raise ValueError(f"duplicate characters in the vocabulary: {dup[:5]!r}")
        self.unk = bool(unk)
        self.itos = ([self.UNK] if self.unk else []) + chars
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def from_text(cls, text: str, unk: bool = False) -> CharVocab:
        """The sorted set of characters in ``text``."""
        return cls(sorted(set(_check_text(text))), unk=unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters{', with <unk>' if self.unk else ''})"

    def encode(self, text: str) -> torch.Tensor:
        """``text`` → ids, a ``LongTensor [len(text)]``."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        if self.unk:
            return torch.tensor([self.stoi.get(c, 0) for c in text], dtype=torch.long)
        try:
            return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        except KeyError:
            pos = next(i for i, c in enumerate(text) if c not in self.stoi)
            unknown = sorted({c for c in text if c not in self.stoi})
            raise ValueError(
                f"unknown character {text[pos]!r} at position {pos} (unknown: {unknown[:10]!r}); "
                "build the vocabulary from this text too, or use CharVocab(..., unk=True)"
            ) from None

    def decode(self, ids) -> str:
        """ids (a tensor or a sequence of ints) → text."""
        return "".join(self.itos[i] for i in _id_list(ids, len(self)))


def _id_list(ids, size: int) -> list[int]:
    """``ids`` (an integer tensor or a sequence of ints) as a list of ints in ``0..size-1``."""
    if isinstance(ids, torch.Tensor):
        if ids.is_floating_point():
            raise TypeError(f"ids must be integers, got a {ids.dtype} tensor")
        ids = ids.reshape(-1).tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be a list of ints or a tensor, got {type(ids).__name__} {ids!r}")
    ids = list(ids)
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < size:
            raise ValueError(f"id {i!r} is not in the vocabulary (valid ids: 0..{size - 1})")
    return [int(i) for i in ids]


# --------------------------------------------------------------------------- words
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def simple_tokenize(text: str) -> list[str]:
    """Lower-case word tokens; punctuation marks are tokens of their own.

    >>> simple_tokenize("Profits aren't up, but sales are!")
    ['profits', "aren't", 'up', ',', 'but', 'sales', 'are', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


class WordVocab:
    """Word ids with ``<pad>`` = 0 and ``<unk>`` = 1 (out-of-vocabulary words).

    Build it with :meth:`build` from training texts only; words seen fewer than
    ``min_freq`` times become ``<unk>``.
    """

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, words: Sequence[str]):
        words = [w for w in words if w not in (self.PAD, self.UNK)]
        if len(set(words)) != len(words):
            raise ValueError("duplicate words in the vocabulary")
        self.itos = [self.PAD, self.UNK, *words]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str], min_freq: int = 1, max_size: int | None = None) -> WordVocab:
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        check_int("min_freq", min_freq)
        if max_size is not None:
            check_int("max_size", max_size)
        counts = Counter(tok for t in texts for tok in simple_tokenize(t))
        if not counts:
            raise ValueError("no words found: texts is empty")
        words = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_freq]
        return cls(words[:max_size] if max_size else words)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(tok, 1) for tok in simple_tokenize(text)]

    def decode(self, ids) -> str:
        """ids (a tensor or a sequence of ints) → words joined by spaces; padding is dropped."""
        return " ".join(self.itos[i] for i in _id_list(ids, len(self)) if i != 0)

    def oov_rate(self, texts: Iterable[str]) -> float:
        """Share of the tokens in ``texts`` that are not in the vocabulary."""
        toks = [tok for t in texts for tok in simple_tokenize(t)]
        if not toks:
            raise ValueError("no tokens in texts")
        return sum(tok not in self.stoi for tok in toks) / len(toks)


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0,
              max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into ``ids [B, T]`` and return ``lengths [B]`` too.

    Sequences longer than ``max_len`` (an int >= 1, or None: no limit) are cut; an empty
    sequence becomes one ``pad_id`` with length 1, so every row has something to read.
    """
    if isinstance(sequences, torch.Tensor) or not len(sequences):
        raise ValueError("sequences must be a non-empty list of id lists")
    check_int("pad_id", pad_id, low=0)
    if max_len is not None:
        check_int("max_len", max_len)
    seqs = [list(s)[:max_len] for s in sequences]
    lengths = torch.tensor([max(len(s), 1) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), int(lengths.max())), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out, lengths


# --------------------------------------------------------------------------- BPE
def train_bpe(texts: Iterable[str] | str, vocab_size: int, *, min_frequency: int = 2,
              special_tokens: Sequence[str] = ("<|endoftext|>",), byte_level: bool = True):
    """Train a byte-pair-encoding tokeniser (Sennrich et al., 2016) and return it.

    Args:
        texts: the training texts (a string or an iterable of strings).
        vocab_size: the size of the final vocabulary (special tokens and, for byte-level,
            the 256 byte symbols included).
        min_frequency: a pair must occur this often to be merged.
        special_tokens: tokens that are never split, added first (ids 0, 1, ...).
        byte_level: GPT-2-style byte-level BPE (default): the base alphabet is the 256 bytes,
            so any Unicode text encodes without ``<unk>`` and decodes back exactly. When False,
            a whitespace pre-tokeniser over characters with an ``<unk>`` token.

    Returns:
        a ``tokenizers.Tokenizer``: ``tok.encode(text).ids``, ``.tokens``, ``tok.decode(ids)``;
        wrap it with ``transformers.PreTrainedTokenizerFast(tokenizer_object=tok)`` for 🤗 models.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a string or a non-empty iterable of strings")
    if not any(texts):
        raise ValueError("texts are all empty")
    special_tokens = list(special_tokens)
    base = 256 if byte_level else 1
    check_int("vocab_size", vocab_size, low=None)
    if vocab_size <= base + len(special_tokens):
        raise ValueError(f"vocab_size must be larger than the base alphabet plus special tokens "
                         f"({base} + {len(special_tokens)}), got {vocab_size}")
    if byte_level:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special_tokens,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
        )
    else:
        unk = "<unk>"
        special_tokens = special_tokens if unk in special_tokens else [unk, *special_tokens]
        tok = Tokenizer(models.BPE(unk_token=unk))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.decoder = decoders.BPEDecoder()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=special_tokens, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def bpe_merges(tokenizer) -> list[tuple[str, str]]:
    """The merges a BPE tokeniser learned, in the order it learned them."""
    if not hasattr(tokenizer, "to_str"):
        raise TypeError(f"expected a tokenizers.Tokenizer, got {type(tokenizer).__name__}")
    model = json.loads(tokenizer.to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"not a BPE tokeniser (model type {model.get('type')!r})")
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]


# --------------------------------------------------------------------------- LM batches
def _as_ids(ids) -> torch.Tensor:
    """A 1-D LongTensor ``[N]`` from a list of ints or an integer tensor."""
    if isinstance(ids, (list, tuple)):
        ids = torch.tensor(ids, dtype=torch.long)
    check_tensor("ids", ids, dim=1, floating=False)
    if ids.dtype == torch.bool:
        raise TypeError("ids must be integers (torch.long), got torch.bool")
    return ids.long()


def lm_batches(ids, seq_len: int, *, stride: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of a token stream for next-token prediction.

    Args:
        ids: a 1-D sequence of token ids ``[N]``.
        seq_len: tokens per window.
        stride: step between window starts (default ``seq_len``: non-overlapping).

    Returns:
        ``(x, y)``, both ``LongTensor [num_windows, seq_len]``, with ``y[:, t] = ids[start + t + 1]``.
        Pass the tuple to :func:`aigc_course.train.fit`, which shuffles and batches it.
    """
    ids = _as_ids(ids)
    check_int("seq_len", seq_len)
    stride = seq_len if stride is None else check_int("stride", stride)
    if len(ids) < seq_len + 1:
        raise ValueError(f"need at least seq_len + 1 = {seq_len + 1} tokens, got {len(ids)}")
    starts = torch.arange(0, len(ids) - seq_len, stride)
    offsets = torch.arange(seq_len)
    x = ids[starts[:, None] + offsets]
    y = ids[starts[:, None] + offsets + 1]
    return x, y


def bptt_batches(ids, batch_size: int, seq_len: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Lay ``ids`` out as ``batch_size`` parallel streams, cut into consecutive chunks.

    Row ``b`` of batch ``k + 1`` continues row ``b`` of batch ``k``, so a recurrent model can
    carry its hidden state from one batch to the next (truncated BPTT). Returns a list of
    ``(x, y)`` pairs, each ``[batch_size, seq_len]`` (keep their order: do not shuffle).
    """
    ids = _as_ids(ids)
    check_int("batch_size", batch_size)
    check_int("seq_len", seq_len)
    per_row = (len(ids) - 1) // batch_size
    n_chunks = per_row // seq_len
    if n_chunks < 1:
        raise ValueError(
            f"{len(ids)} tokens are too few for batch_size={batch_size} × seq_len={seq_len} (+1)"
        )
    usable = n_chunks * seq_len
    rows = torch.stack([ids[b * per_row: b * per_row + usable + 1] for b in range(batch_size)])
    return [(rows[:, k * seq_len:(k + 1) * seq_len], rows[:, k * seq_len + 1:(k + 1) * seq_len + 1])
            for k in range(n_chunks)]
