"""Checks for the divergence exercises of notebook 03 (the mathematics of GANs).

- :func:`optimal_discriminator` compares the learner's ``D*(x) = p(x) / (p(x) + q(x))`` with
  :func:`optimal_discriminator_reference`;
- :func:`js_divergence` compares the learner's Jensen–Shannon divergence of discrete distributions
  with :func:`js_divergence_reference`.

The package's GAN code *learns* a discriminator and never computes these two quantities, so the
references live here, as small public functions; ``tests/test_exercises_maths.py`` checks them
against ``scipy.spatial.distance.jensenshannon`` and values computed by hand.

When a learner's result is wrong, the check also tries the usual mistakes (logarithm base 2, a
missing ½, ``0 · log 0``, p and q swapped, ...) and names the one the result reproduces.
"""

from __future__ import annotations

import math

import numpy as np

from ..check import _array, function

__all__ = ["js_divergence", "optimal_discriminator"]

D_STAR_HINT = ("D*(x) = p(x) / (p(x) + q(x)), element by element, where p is the data's density and "
               "q the generator's; it is a probability between 0 and 1, not the density ratio p / q")

JS_HINT = ("JS(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with the mixture m = (p + q) / 2, in nats (natural "
           "log, torch.log), summed over the last dimension (the outcomes), one value per row; "
           "outcomes with p = 0 add nothing to KL(p ‖ m) (0 · log 0 = 0: use torch.where(p > 0, ...)); "
           "the result lies between 0 and log 2 ≈ 0.693")


def _as_tensors(name: str, p, q):
    import torch

    p, q = torch.as_tensor(p), torch.as_tensor(q)
    if p.shape != q.shape:
        raise ValueError(f"{name}: p {tuple(p.shape)} and q {tuple(q.shape)} must have the same shape")
    if not (torch.is_floating_point(p) and torch.is_floating_point(q)):
        raise TypeError(f"{name}: p and q must be floating-point tensors, got {p.dtype} and {q.dtype}")
    if (p < 0).any() or (q < 0).any() or not (torch.isfinite(p).all() and torch.isfinite(q).all()):
        raise ValueError(f"{name}: p and q must be finite and non-negative")
    return p, q


def optimal_discriminator_reference(p, q):
    """The optimal discriminator ``D*(x) = p(x) / (p(x) + q(x))``, element by element.

    ``p`` (the data's density or probabilities) and ``q`` (the generator's) are tensors of the same
    shape, evaluated at the same points, with ``p + q > 0`` everywhere (elsewhere D* is
    undefined). Returns a tensor of that shape, with values in [0, 1].
    """
    p, q = _as_tensors("optimal_discriminator_reference", p, q)
    if ((p + q) <= 0).any():
        raise ValueError("optimal_discriminator_reference: D* is undefined where p + q = 0")
    return p / (p + q)


def js_divergence_reference(p, q):
    """Jensen–Shannon divergence ``JS(p ‖ q)`` in nats of discrete distributions ``[..., K]`` → ``[...]``.

    Each row of the last dimension is a probability vector (non-negative, sums to 1).
    ``JS = ½ KL(p ‖ m) + ½ KL(q ‖ m)`` with ``m = (p + q) / 2``; terms with ``p = 0`` (or ``q = 0``)
    are 0. The result lies in ``[0, log 2]``.
    """
    import torch

    p, q = _as_tensors("js_divergence_reference", p, q)
    if p.dim() == 0:
        raise ValueError("js_divergence_reference: expected probability vectors [..., K], got scalars")
    for name, x in (("p", p), ("q", q)):
        if not torch.allclose(x.sum(-1), torch.ones((), dtype=x.dtype), atol=1e-6):
            raise ValueError(f"js_divergence_reference: each row of {name} must sum to 1")
    m = (p + q) / 2

    def kl_to_m(a):
        return torch.where(a > 0, a * torch.log(a / m), torch.zeros_like(a)).sum(-1)

    return 0.5 * kl_to_m(p) + 0.5 * kl_to_m(q)


def _diagnose(mine, make_inputs, reference, mistakes: dict, *, nan_text: str | None = None,
              seed: int = 0, rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """Name the mistake whose result ``mine`` reproduces on the check's inputs, or ``None``.

    ``mistakes`` maps a description ("you used log base 2") to a function computing what that
    mistake gives. ``nan_text`` is returned when ``mine`` gives NaN where the reference does not.
    Any error in ``mine`` (including the stub's NotImplementedError) gives ``None``: the check
    itself then reports it.
    """
    import torch

    def run(fn):
        args = make_inputs()
        torch.manual_seed(seed)
        np.random.seed(seed)
        return _array(fn(*args))

    try:
        got, expected = run(mine), run(reference)
    except Exception:  # noqa: BLE001 - the check reports the learner's errors itself
        return None
    if got.shape == expected.shape and np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True):
        return None
    if nan_text and np.isnan(got).any() and not np.isnan(expected).any():
        return nan_text
    for text, wrong in mistakes.items():
        value = run(wrong)
        if value.shape == got.shape and np.allclose(got, value, rtol=rtol, atol=atol, equal_nan=True):
            return text
    return None


def _hint(mistake: str | None, general: str) -> str:
    return f"it looks like {mistake}. In general: {general}" if mistake else general


def optimal_discriminator(mine) -> None:
    """Check ``mine(p, q)`` → ``D*`` against :func:`optimal_discriminator_reference`.

    The inputs: the densities of ``p = N(0, 1)`` (data) and ``q = N(1, 1.5²)`` (generator) at 7
    points of ``[-3, 3]``, float64 tensors of shape ``[7]``.
    """
    import torch

    def make_inputs():
        x = torch.linspace(-3, 3, 7, dtype=torch.float64)
        p = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
        q = torch.exp(-0.5 * ((x - 1) / 1.5) ** 2) / (1.5 * math.sqrt(2 * math.pi))
        return p, q

    mistakes = {
        "you swapped p and q (q / (p + q) is the probability of 'fake')": lambda p, q: q / (p + q),
        "you returned the density ratio p / q, which is D* / (1 − D*), not D*": lambda p, q: p / q,
        "you divided by p + q twice or by (p + q)²": lambda p, q: p / (p + q) ** 2,
    }
    mistake = _diagnose(mine, make_inputs, optimal_discriminator_reference, mistakes)
    function("optimal_discriminator", mine, optimal_discriminator_reference, make_inputs,
             hint=_hint(mistake, D_STAR_HINT))


def js_divergence(mine) -> None:
    """Check ``mine(p, q)`` → ``JS(p ‖ q)`` in nats against :func:`js_divergence_reference`.

    The inputs: 4 pairs of distributions over 3 outcomes, float64 ``[4, 3]``; the answer is
    ``[4]``. The rows include a pair of coins, two distributions with disjoint supports
    (JS = log 2), two equal ones (JS = 0), and zeros, so ``0 · log 0`` must count as 0.
    """
    import torch

    def make_inputs():
        p = torch.tensor([[0.2, 0.8, 0.0], [1.0, 0.0, 0.0], [0.5, 0.25, 0.25], [0.1, 0.6, 0.3]],
                         dtype=torch.float64)
        q = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0], [0.5, 0.25, 0.25], [0.3, 0.3, 0.4]],
                         dtype=torch.float64)
        return p, q

    def kl(a, b):
        return torch.where(a > 0, a * torch.log(a / b), torch.zeros_like(a)).sum(-1)

    ln2 = math.log(2)
    mistakes = {
        "you used log base 2 (bits); the course measures in nats with the natural log, "
        "so your values are the right ones divided by log 2":
            lambda p, q: js_divergence_reference(p, q) / ln2,
        "you forgot the ½ in front of each KL term (your values are twice the right ones)":
            lambda p, q: 2 * js_divergence_reference(p, q),
        "you took the mixture m = p + q instead of (p + q) / 2 (your values are log 2 too small)":
            lambda p, q: js_divergence_reference(p, q) - ln2,
        "you returned the square root (the Jensen–Shannon *distance* that "
        "scipy.spatial.distance.jensenshannon returns), not the divergence":
            lambda p, q: js_divergence_reference(p, q).sqrt(),
        "you computed ½ (KL(p ‖ q) + KL(q ‖ p)) without the mixture m: it is infinite when the "
        "supports differ":
            lambda p, q: 0.5 * (kl(p, q) + kl(q, p)),
        "you computed only one of the two terms, ½ KL(p ‖ m)":
            lambda p, q: 0.5 * kl(p, (p + q) / 2),
    }
    nan_text = ("your result has NaN where p or q is 0: 0 · log(0 / m) gives 0 · (−inf) = NaN in "
                "floating point, but the term is 0 by definition")
    mistake = _diagnose(mine, make_inputs, js_divergence_reference, mistakes, nan_text=nan_text)
    function("js_divergence", mine, js_divergence_reference, make_inputs, hint=_hint(mistake, JS_HINT))
