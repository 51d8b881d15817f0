"""A statistical watermark for generated text: the green-list scheme of Kirchenbauer et al. (2023).

At every step the previous token and a secret ``key`` seed a random split of the vocabulary
into a *green list* (a share ``gamma`` of the tokens) and a red list. Generation adds ``delta``
to the logits of the green tokens, so a watermarked text holds more green tokens than chance.
Anyone with the key can count them; without a watermark the count of green tokens among ``T``
scored tokens is Binomial(T, gamma), so

.. math:: z = \\frac{|s|_G - \\gamma T}{\\sqrt{T \\gamma (1 - \\gamma)}}

is ≈ N(0, 1) for ordinary text and large for watermarked text (z > 4 is a strong signal:
a false-positive rate of about 3 in 100,000). No model is needed to detect, only the key.

Tokens are integer ids in ``[0, vocab_size)``; the language model is any function
``next_logits(ids: list[int]) -> torch.Tensor [vocab_size]``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from ..validation import check_int, check_number


def _check_vocab_gamma(vocab_size, gamma) -> None:
    check_int("vocab_size", vocab_size, low=2)
    check_number("gamma", gamma, 0.0, 1.0, low_open=True, high_open=True)  # the green share


def green_list(prev_token: int, vocab_size: int, gamma: float = 0.5, key: int = 15485863) -> torch.Tensor:
    """Boolean mask ``[vocab_size]``: the green tokens after ``prev_token`` (``round(gamma·V)`` of them).

    The split is a permutation drawn from a generator seeded with a hash of ``(key, prev_token)``,
    so the same key and previous token always give the same list.
    """
    _check_vocab_gamma(vocab_size, gamma)
    return _green_list(int(prev_token), vocab_size, float(gamma), int(key)).clone()


@lru_cache(maxsize=65536)
def _green_list(prev_token: int, vocab_size: int, gamma: float, key: int) -> torch.Tensor:
    digest = hashlib.sha256(f"{key}:{prev_token}".encode()).digest()
    generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
    perm = torch.randperm(vocab_size, generator=generator)
    mask = torch.zeros(vocab_size, dtype=torch.bool)
    mask[perm[: max(1, round(gamma * vocab_size))]] = True
    return mask


def generate(next_logits: Callable[[list[int]], torch.Tensor], prompt: Sequence[int], n_tokens: int, *,
             vocab_size: int, watermark: bool = True, gamma: float = 0.5, delta: float = 2.0,
             key: int = 15485863, temperature: float = 1.0, generator: torch.Generator | None = None) -> list[int]:
    """Sample ``n_tokens`` after ``prompt``; with ``watermark`` the green logits get ``+delta``.

    Returns only the new token ids. ``delta = 0`` (or ``watermark=False``) is plain sampling.
    """
    _check_vocab_gamma(vocab_size, gamma)
    prompt = [int(t) for t in prompt]
    if not prompt:
        raise ValueError("prompt must hold at least one token (the first green list needs a previous token)")
    check_int("n_tokens", n_tokens)
    check_number("delta", delta, 0.0)
    check_number("temperature", temperature, 0.0, low_open=True)
    ids, new = list(prompt), []
    for _ in range(n_tokens):
        logits = torch.as_tensor(next_logits(ids), dtype=torch.float32).flatten()
        if logits.numel() != vocab_size:
            raise ValueError(f"next_logits returned {logits.numel()} logits, expected vocab_size={vocab_size}")
        logits = logits / temperature
        if watermark and delta > 0:
            logits = logits + delta * _green_list(ids[-1], vocab_size, float(gamma), int(key)).float()
        token = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator))
        ids.append(token)
        new.append(token)
    return new


@dataclass(frozen=True)
class Detection:
    """Result of :func:`detect`: ``z`` score, green share and number of scored tokens."""

    z: float
    green_fraction: float
    n_scored: int


def detect(tokens: Sequence[int], vocab_size: int, *, gamma: float = 0.5, key: int = 15485863,
           prev_token: int | None = None, ignore_repeats: bool = True) -> Detection:
    """Count the green tokens of ``tokens`` and return the one-proportion z-test.

    Each token ``t_i`` is scored against the green list of ``t_{i-1}``; the first token needs
    ``prev_token`` (the last prompt token) or is skipped. With ``ignore_repeats`` each
    ``(previous, token)`` pair counts once: a repeated phrase would otherwise count its green
    tokens again and again, and the binomial model behind ``z`` assumes independent draws
    (without it, ordinary repetitive text can reach z > 4).
    """
    _check_vocab_gamma(vocab_size, gamma)
    tokens = [int(t) for t in tokens]
    if any(t < 0 or t >= vocab_size for t in tokens):
        raise ValueError(f"token ids must be in [0, {vocab_size - 1}]")
    pairs = list(itertools.pairwise(tokens))
    if prev_token is not None and tokens:
        pairs.insert(0, (int(prev_token), tokens[0]))
    if ignore_repeats:
        pairs = list(dict.fromkeys(pairs))
    if not pairs:
        raise ValueError("need at least 2 tokens (or 1 token and prev_token) to score")
    green = sum(bool(_green_list(p, vocab_size, float(gamma), int(key))[t]) for p, t in pairs)
    n = len(pairs)
    z = (green - gamma * n) / math.sqrt(n * gamma * (1 - gamma))
    return Detection(z=z, green_fraction=green / n, n_scored=n)
