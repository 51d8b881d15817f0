"""Measuring what scaling tricks buy: eager versus ``torch.compile`` training steps.

:func:`time_training_steps` times plain SGD steps of a classifier; :func:`compare_compile` runs
it on an eager model and on ``torch.compile`` of an identical one, so the first (compiling)
step and the steady per-step time can be read side by side. The scaling-up lab calls it in the
full profile (compiling costs more than the fast profile's budget).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from .validation import check_choice, check_int, check_tensor

__all__ = ["compare_compile", "time_training_steps"]

BACKENDS = ("inductor", "aot_eager", "eager")


def time_training_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        steps: int = 50) -> dict:
    """Time ``steps + 1`` SGD steps of ``model`` on the batch ``x [B, ...]``, ``y [B]`` (class ids).

    The batch is moved to the model's device. Returns ``{"first_s": seconds of the first step
    (where compilation happens), "step_s": median seconds of the next steps (the median, not the
    mean, so that a pause of the machine does not decide a comparison), "loss": last loss}``.
    """
    check_int("steps", steps)
    check_tensor("x", x, floating=True)
    check_tensor("y", y, dim=1, floating=False)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":  # GPU work is asynchronous: wait before reading the clock
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return {"first_s": times[0], "step_s": statistics.median(times[1:]), "loss": float(loss.detach())}


def compare_compile(make_model: Callable[[], nn.Module], x: torch.Tensor, y: torch.Tensor,
                    steps: int = 50, backend: str = "inductor") -> dict:
    """Train two identical models from ``make_model()`` for ``steps + 1`` steps each: one eager,
    one through ``torch.compile(model, backend=backend)``.

    ``backend="inductor"`` (the default) generates fused kernels (a C++ compiler on a CPU);
    ``"eager"`` only traces the model, which checks the plumbing quickly. Returns
    ``{"eager": ..., "compiled": ...}``, each the dict of :func:`time_training_steps`; the two
    final losses agree when the compiled model computes the same function.
    """
    check_choice("backend", backend, BACKENDS)
    eager = time_training_steps(make_model(), x, y, steps)
    compiled = time_training_steps(torch.compile(make_model(), backend=backend), x, y, steps)
    return {"eager": eager, "compiled": compiled}
