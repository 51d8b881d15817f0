"""A probabilistic grammar for an English-like toy language whose entropy is known exactly.

Real text has an unknown entropy, so we never know how far a language model is from
perfect. This module defines a *stochastic regular grammar* (a Markov chain over word
categories that emits one word per step) whose entropy rate we can compute in closed form:

* the chain moves between states ``s`` (``"subject"``, ``"verb"``, ``"end"``, ...) with
  transition probabilities ``T[s][s']``;
* every visit to a state emits one *surface string* from that state's distribution
  ``E[s]`` (``" the"``, ``" dog"``, ``"."``; words carry their leading space);
* the text is the concatenation of the surfaces.

If the text can be parsed back into surfaces unambiguously, and the successors of each
state never share a surface (so the state path is a function of the words), the text and
the (state, word) sequence carry the same information. The entropy rate of the text in
bits per character is then exactly

.. math::
    H = \\frac{\\sum_s \\pi_s \\left[ H(T_s) + H(E_s) \\right]}
             {\\sum_s \\pi_s \\, \\mathbb{E}[\\,\\text{length of a surface of } s\\,]}

where :math:`\\pi` is the stationary distribution of the chain: bits per step divided by
characters per step. :class:`Grammar` checks both conditions when it is built.

>>> g = english_grammar()
>>> round(g.entropy_rate(), 3) > 0
True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..validation import check_int, check_number

_SURFACE = re.compile(r" [a-z]+|[.,;!?]")


def _entropy_bits(probs) -> float:
    p = np.asarray(list(probs), dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _normalised(name: str, table: dict) -> dict[str, float]:
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{name} must be a non-empty dict of {{outcome: weight}}")
    for key, w in table.items():
        check_number(f"weight {name}[{key!r}]", w, low=0.0)
    total = float(sum(table.values()))
    if total <= 0:
        raise ValueError(f"{name} has no positive weight")
    return {k: float(w) / total for k, w in table.items() if w > 0}


@dataclass(frozen=True)
class Grammar:
    """A stochastic regular grammar (see the module docstring).

    Args:
        transitions: ``{state: {next_state: weight}}`` (weights are normalised).
        emissions: ``{state: {surface: weight}}``; a surface is a space followed by lowercase
            letters (``" dog"``) or one punctuation mark (``"."``).
        start: the state the text starts in.
    """

    transitions: dict
    emissions: dict
    start: str

    def __post_init__(self):
        if set(self.transitions) != set(self.emissions):
            raise ValueError(
                "transitions and emissions must name the same states; "
                f"only in transitions: {sorted(set(self.transitions) - set(self.emissions))}, "
                f"only in emissions: {sorted(set(self.emissions) - set(self.transitions))}"
            )
        if self.start not in self.transitions:
            raise ValueError(f"start state {self.start!r} is not one of {sorted(self.transitions)}")
        trans = {s: _normalised(f"transitions[{s!r}]", t) for s, t in self.transitions.items()}
        emit = {s: _normalised(f"emissions[{s!r}]", e) for s, e in self.emissions.items()}
        for s, t in trans.items():
            unknown = set(t) - set(trans)
            if unknown:
                raise ValueError(f"transitions[{s!r}] goes to unknown states {sorted(unknown)}")
        for s, e in emit.items():
            for surface in e:
                if not isinstance(surface, str) or not _SURFACE.fullmatch(surface):
                    raise ValueError(
                        f"emissions[{s!r}] has surface {surface!r}: a surface must be a space and "
                        "lowercase letters (' dog') or one punctuation mark ('.')"
                    )
        for s, t in trans.items():  # the next state must be readable from the next word
            seen: dict[str, str] = {}
            for nxt in t:
                for surface in emit[nxt]:
                    if surface in seen and seen[surface] != nxt:
                        raise ValueError(
                            f"after state {s!r}, surface {surface!r} can come from both "
                            f"{seen[surface]!r} and {nxt!r}: the state path would be ambiguous"
                        )
                    seen[surface] = nxt
        object.__setattr__(self, "transitions", trans)
        object.__setattr__(self, "emissions", emit)
        pi = self._stationary()
        object.__setattr__(self, "_pi", pi)

    # ------------------------------------------------------------------ exact quantities
    @property
    def states(self) -> list[str]:
        return list(self.transitions)

    def _matrix(self) -> np.ndarray:
        idx = {s: i for i, s in enumerate(self.states)}
        m = np.zeros((len(idx), len(idx)))
        for s, t in self.transitions.items():
            for nxt, p in t.items():
                m[idx[s], idx[nxt]] = p
        return m

    def _stationary(self) -> dict[str, float]:
        m = self._matrix()
        n = len(m)
        # solve pi (M - I) = 0 with sum(pi) = 1 (least squares: exact for an irreducible chain)
        a = np.vstack([(m - np.eye(n)).T, np.ones(n)])
        b = np.zeros(n + 1)
        b[-1] = 1.0
        pi, *_ = np.linalg.lstsq(a, b, rcond=None)
        if np.any(pi < -1e-9) or not np.allclose(pi @ m, pi, atol=1e-9):
            raise ValueError("the chain has no unique stationary distribution (is it irreducible?)")
        # irreducibility: every state reachable from every other
        reach = (m > 0).astype(int) + np.eye(n, dtype=int)
        closure = np.linalg.matrix_power(reach, n) > 0
        if not closure.all():
            raise ValueError("every state must be reachable from every other state (irreducible chain)")
        return {s: float(max(p, 0.0)) for s, p in zip(self.states, pi)}

    def stationary(self) -> dict[str, float]:
        """Long-run share of steps spent in each state, ``{state: probability}``."""
        return dict(self._pi)

    def bits_per_step(self) -> float:
        """Entropy rate per emitted surface (word or punctuation), in bits."""
        return sum(p * (_entropy_bits(self.transitions[s].values()) + _entropy_bits(self.emissions[s].values()))
                   for s, p in self._pi.items())

    def chars_per_step(self) -> float:
        """Mean number of characters per emitted surface."""
        return sum(p * sum(q * len(w) for w, q in self.emissions[s].items()) for s, p in self._pi.items())

    def entropy_rate(self) -> float:
        """The exact entropy rate of the text, in bits per character."""
        return self.bits_per_step() / self.chars_per_step()

    @property
    def alphabet(self) -> str:
        """All characters the grammar can produce, sorted."""
        return "".join(sorted({c for e in self.emissions.values() for w in e for c in w}))

    # ------------------------------------------------------------------ sampling and scoring
    def sample(self, n_chars: int, seed: int = 0) -> str:
        """Generate at least ``n_chars`` characters (whole surfaces, cut to exactly ``n_chars``)."""
        check_int("n_chars", n_chars)
        rng = np.random.default_rng(seed)
        tables = {s: (list(t), np.fromiter(t.values(), float)) for s, t in self.transitions.items()}
        words = {s: (list(e), np.fromiter(e.values(), float)) for s, e in self.emissions.items()}
        out, length, state = [], 0, self.start
        while length < n_chars:
            names, probs = words[state]
            w = names[rng.choice(len(names), p=probs)]
            out.append(w)
            length += len(w)
            names, probs = tables[state]
            state = names[rng.choice(len(names), p=probs)]
        return "".join(out)[:n_chars]

    def log2_prob(self, text: str, state: str | None = None) -> float:
        """``log2 p(text)`` under the grammar, for a text of whole surfaces starting in ``state``.

        Raises ``ValueError`` if the text cannot be produced by the grammar.
        """
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty string")
        surfaces = _SURFACE.findall(text)
        if "".join(surfaces) != text:
            raise ValueError("text contains characters outside the grammar's surfaces")
        state = self.start if state is None else state
        total, prev = 0.0, None
        for i, w in enumerate(surfaces):
            if prev is not None:  # which successor of prev emits w?
                nxt = [s for s in self.transitions[prev] if w in self.emissions[s]]
                if not nxt:
                    raise ValueError(f"surface {i} ({w!r}) cannot follow state {prev!r}")
                state = nxt[0]
                total += math.log2(self.transitions[prev][state])
            if w not in self.emissions[state]:
                raise ValueError(f"surface {i} ({w!r}) cannot be emitted by state {state!r}")
            total += math.log2(self.emissions[state][w])
            prev = state
        return total


def _zipf(words: str) -> dict[str, float]:
    """Weights 1/rank for the space-separated ``words`` (each gets a leading space)."""
    return {f" {w}": 1.0 / (i + 1) for i, w in enumerate(words.split())}


def english_grammar() -> Grammar:
    """The course's English-like toy language ("the small dog sees a bird. a cat sleeps.").

    Sentences: determiner, optional adjectives, noun, then a transitive verb with an object or
    an intransitive verb, an optional adverb, then ``.`` or ``and`` + another clause. Word
    frequencies follow Zipf's law inside each category. About 1.7 bits per character.
    """
    det = _zipf("the a this every some that")
    adj = _zipf("small big old young red quiet happy clever lazy brave")
    noun = _zipf("dog cat bird child farmer teacher robot fox horse king")
    verb = _zipf("sees likes follows helps finds watches calls feeds")
    intr = _zipf("sleeps runs sings waits smiles jumps")
    adv = _zipf("today again quickly slowly here")
    emissions = {
        "det": det, "adj": adj, "noun": noun, "verb": verb, "intrans": intr,
        "obj_det": det, "obj_adj": adj, "obj_noun": noun, "adverb": adv,
        "and": {" and": 1.0}, "end": {".": 1.0},
    }
    transitions = {
        "det": {"adj": 0.3, "noun": 0.7},
        "adj": {"adj": 0.15, "noun": 0.85},
        "noun": {"verb": 0.6, "intrans": 0.4},
        "verb": {"obj_det": 1.0},
        "obj_det": {"obj_adj": 0.3, "obj_noun": 0.7},
        "obj_adj": {"obj_adj": 0.15, "obj_noun": 0.85},
        "obj_noun": {"end": 0.6, "adverb": 0.2, "and": 0.2},
        "intrans": {"end": 0.5, "adverb": 0.3, "and": 0.2},
        "adverb": {"end": 0.8, "and": 0.2},
        "and": {"det": 1.0},
        "end": {"det": 1.0},
    }
    return Grammar(transitions, emissions, start="det")


def load_grammar_text(n_train: int = 200_000, n_val: int = 20_000, seed: int = 0,
                      grammar: Grammar | None = None) -> tuple[str, str]:
    """Train and validation text sampled from ``grammar`` (default :func:`english_grammar`).

    The two texts come from independent random streams (seeds ``seed`` and
    ``seed + 1_000_003``).
    """
    check_int("n_train", n_train)
    check_int("n_val", n_val)
    g = grammar or english_grammar()
    return g.sample(n_train, seed=seed), g.sample(n_val, seed=seed + 1_000_003)
