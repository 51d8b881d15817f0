"""Checks for the attention exercises (notebooks 05 and 11).

- :func:`attention` compares the learner's scaled dot-product attention (with and without the
  causal mask) with :func:`aigc_course.models.attention.scaled_dot_product_attention`;
- :func:`top_k_sample` compares the learner's sampling step (temperature, then top-k, then a
  draw) with :func:`aigc_course.models.gpt.sample_next`, the step the mini-GPT's ``generate`` uses.
"""

from __future__ import annotations

from ..check import _describe, _fail, function

__all__ = ["attention", "top_k_sample"]

ATTENTION_HINT = ("the most common mistakes: the mask on the wrong side (the query at position i may "
                  "see keys j ≤ i: keep the lower triangle, `tril`, and set the others to -inf before "
                  "the softmax), forgetting to divide the scores by √d_k (d_k = q.shape[-1]), the "
                  "softmax over the queries (dim=-2) instead of the keys (dim=-1), and transposing "
                  "the wrong axes of k (use k.transpose(-2, -1))")

SAMPLE_HINT = ("the most common mistakes: multiplying the logits by the temperature instead of "
               "dividing them, keeping k + 1 tokens (or k - 1), a softmax before the top-k filter "
               "without renormalising, and drawing with something else than "
               "torch.multinomial(probs, 1) (the check draws with it from the same seed)")


def _pair(name: str, out, first: str, second: str, hint: str) -> dict:
    """``(first, second)`` → a dict that compares ``second`` first (it locates the mistake best)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        _fail(f"{name}: expected a pair ({first}, {second}), got a {_describe(out)}", hint)
    return {second: out[1], first: out[0]}


def attention(mine) -> None:
    """Check ``mine(q, k, v, causal)`` → ``(output, weights)`` against the package's attention.

    The inputs are small and fixed: ``q, k, v`` of shape ``[batch 2, heads 2, T 5, d 4]``. The
    function runs once without a mask (``causal=False``) and once with the causal mask
    (``causal=True``); the weights are compared first, then the outputs.
    """
    import torch

    from ..models.attention import scaled_dot_product_attention

    def make_inputs():
        g = torch.Generator().manual_seed(5)
        return tuple(torch.randn(2, 2, 5, 4, generator=g) for _ in range(3))

    def both(fn):
        def run(q, k, v):
            return {f"causal={c}": _pair("attention", fn(q, k, v, c), "output", "weights", ATTENTION_HINT)
                    for c in (False, True)}
        return run

    def reference(q, k, v, causal):
        return scaled_dot_product_attention(q, k, v, causal=causal)

    def diagnosed(q, k, v):
        """The learner's results, with two mistakes named before the element-wise comparison."""
        out = both(mine)(q, k, v)
        w = out["causal=True"]["weights"]
        if isinstance(w, torch.Tensor) and tuple(w.shape) == (2, 2, 5, 5):
            future = torch.ones(5, 5, dtype=torch.bool).triu(1)
            if (w[..., future].abs() > 1e-6).any():
                _fail("attention: with causal=True some weights above the diagonal are not 0: a query "
                      "at position i attends to a key j > i, in its future", ATTENTION_HINT)
            sums = out["causal=False"]["weights"].sum(-1)
            if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
                _fail("attention: the rows of the weights do not sum to 1 over the keys (the last "
                      "axis): is the softmax taken over the right axis?", ATTENTION_HINT)
        return out

    function("attention", diagnosed, both(reference), make_inputs, hint=ATTENTION_HINT)


def top_k_sample(mine) -> None:
    """Check ``mine(logits, temperature, k)`` → ``(next_ids [B, 1], probs [B, V])``.

    ``probs`` is the distribution the token is drawn from: ``softmax(logits / temperature)``
    restricted to the ``k`` largest logits of each row (zero elsewhere) and renormalised;
    ``next_ids`` is one draw per row with ``torch.multinomial(probs, 1)``. The reference is
    :func:`aigc_course.models.gpt.sample_next` (its probabilities come from the same
    :func:`~aigc_course.models.gpt.filter_logits` it uses). Inputs: 6 rows of 10 logits,
    temperature 0.7, k = 3; both functions draw from the same seed.
    """
    import torch

    from ..models.gpt import filter_logits, sample_next

    def make_inputs():
        g = torch.Generator().manual_seed(11)
        return (torch.randn(6, 10, generator=g) * 2, 0.7, 3)

    def reference(logits, temperature, k):
        probs = filter_logits(logits / temperature, top_k=k).softmax(-1)
        return sample_next(logits, temperature=temperature, top_k=k), probs

    def named(fn):
        return lambda logits, temperature, k: _pair("top_k_sample", fn(logits, temperature, k),
                                                    "next_ids", "probs", SAMPLE_HINT)

    function("top_k_sample", named(mine), named(reference), make_inputs, hint=SAMPLE_HINT)
