"""Random draws that respect devices: the one rule every sampler of the course follows.

A ``torch.Generator`` lives on one device and can only drive draws there: a CPU generator
cannot feed a CUDA ``randn`` or ``multinomial``. So a draw with a generator happens on the
*generator's* device and the result moves to where the model is. With a CPU generator the
numbers are then the same on every machine (CPU or GPU), which keeps seeded samples comparable.
"""

from __future__ import annotations

import torch


def randn(shape, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal noise of ``shape`` on ``device`` (drawn on ``generator``'s device)."""
    where = generator.device if generator is not None else device
    return torch.randn(tuple(shape), generator=generator, device=where).to(device)


def multinomial(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One index per row of ``probs [B, V]`` → ``[B, 1]``, on ``probs``' device."""
    where = generator.device if generator is not None else probs.device
    return torch.multinomial(probs.to(where), 1, generator=generator).to(probs.device)

