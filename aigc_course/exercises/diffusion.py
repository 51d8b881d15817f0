"""Checks for the diffusion exercises (notebook 10): write the ancestral (DDPM) sampling loop.

The reference is the package's :func:`aigc_course.models.diffusion.ddpm_sample`, run on a tiny
untrained :class:`~aigc_course.models.diffusion.Denoiser` with a 10-step cosine schedule, so a
check takes a fraction of a second. Both functions get a fresh ``torch.Generator`` seeded alike:
a loop that draws its noise from it, in the package's order (first ``x_T``, then one draw per
step ``t = T-1 … 1``, none at ``t = 0``), draws the same numbers.
"""

from __future__ import annotations

import torch

from .. import check as _check  # not `from ..check import`: that looks up check.__path__

__all__ = ["ddpm_sample"]

_SHAPE = (4, 1, 8, 8)   # four 8x8 images, the digits' shape
_STEPS = 10             # a short chain: the check runs in well under a second


def _make_inputs():
    """A tiny untrained denoiser, a 10-step cosine schedule, the shape and a seeded generator."""
    from ..models.diffusion import Denoiser, NoiseSchedule

    torch.manual_seed(0)   # the same weights for the learner's call and the reference's
    model = Denoiser(channels=8, blocks=1, emb_dim=16).eval()
    return (model, NoiseSchedule.cosine(_STEPS), _SHAPE, torch.Generator().manual_seed(0))


def _reference(model, schedule, shape, generator):
    """The package's sampler, unconditional, as ``x_0`` in the model's range [-1, 1]."""
    from ..models.diffusion import ddpm_sample

    if tuple(shape[1:]) != (1, 8, 8):
        raise ValueError(f"the package's sampler makes [n, 1, 8, 8] images, got shape {tuple(shape)}")
    images = ddpm_sample(model, schedule, n=shape[0], generator=generator)   # in [0, 1]
    return images * 2.0 - 1.0


def ddpm_sample(mine) -> None:
    """Compare the learner's ``mine(model, schedule, shape, generator) -> x_0`` with the package.

    ``model(x, t)`` predicts the noise (``t`` a ``[B]`` tensor of steps, no label: the
    unconditional model); ``schedule`` is a :class:`~aigc_course.models.diffusion.NoiseSchedule`
    (``betas``, ``alphas``, ``alpha_bars``, steps ``0 … T-1``); ``shape`` is ``(B, 1, 8, 8)``;
    every random draw must come from ``generator``. ``mine`` returns ``x_0`` ``[B, 1, 8, 8]`` in
    [-1, 1], compared with :func:`aigc_course.models.diffusion.ddpm_sample` (whose images in
    [0, 1] are mapped back with ``2x - 1``).
    """
    _check.function("ddpm_sample", mine, _reference, _make_inputs, rtol=1e-4, atol=1e-5,
             hint="start from x = randn(shape, generator=generator); for t = T-1 down to 0: "
                  "eps = model(x, t), x̂0 = (x - √(1-ᾱ_t)·eps) / √ᾱ_t clipped to [-1, 1] (ᾱ_t, "
                  "alpha_bars, not β_t or α_t), the posterior mean μ̃_t of x_{t-1}, and noise "
                  "√β̃_t·z with z drawn from the generator only while t > 0 (no noise at t = 0; "
                  "ᾱ_{-1} = 1). Draw every z from `generator`, not from the global random state.")
