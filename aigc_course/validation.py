"""Input checks shared by the whole package: one copy of each, with one style of message.

Every public function validates its arguments with these, so a wrong call fails at once with
a ``TypeError`` / ``ValueError`` that names the argument, what it got and what it expects::

    check_int("epochs", 0)          # ValueError: epochs must be an int >= 1, got 0
    check_number("lr", "1e-3")      # TypeError: lr must be a number, got str '1e-3'

The checks are cheap Python tests on arguments. Checks that look at tensor *values*
(``check_finite``) synchronise with the device, so they belong at the data boundary
(a dataset, a metric), never inside a model's ``forward``.
"""

from __future__ import annotations

import math
import numbers


def _got(value) -> str:
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (int, float)) else repr(value)


def check_bool(name: str, value) -> bool:
    """``value`` must be ``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_got(value)}")
    return value


def check_int(name: str, value, low: int | None = 1, high: int | None = None) -> int:
    """``value`` must be an int (not a bool) with ``low <= value <= high``; returns it.

    ``low=None`` / ``high=None`` leave that side open.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_got(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f">= {low}" if high is None else f"in [{low}, {high}]") if low is not None \
            else f"<= {high}"
        raise ValueError(f"{name} must be an int {bounds}, got {value}")
    return value


def check_number(name: str, value, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` must be a finite real number within the bounds; returns it as a float.

    ``low_open=True`` excludes ``low`` itself (e.g. a learning rate must be > 0).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_got(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value:g}")
    return value


def check_choice(name: str, value, choices) -> object:
    """``value`` must be one of ``choices``; returns it."""
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_tensor(name: str, value, *, dim: int | None = None, floating: bool | None = None):
    """``value`` must be a ``torch.Tensor`` (with ``dim`` dimensions, floating point or
    integer as asked); returns it. Looks at shape and dtype only: no device sync."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if dim is not None and value.dim() != dim:
        raise ValueError(f"{name} must have {dim} dimensions, got shape {tuple(value.shape)}")
    if floating is True and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if floating is False and value.is_floating_point():
        raise TypeError(f"{name} must be an integer tensor (ids or labels), got {value.dtype}")
    return value


def check_finite(name: str, value):
    """Every element of a tensor or array ``value`` must be finite (no NaN, no ±inf).

    Reads the values, so on a GPU it waits for them: call it on data, not in ``forward``.
    """
    import numpy as np
    import torch

    ok = bool(torch.isfinite(value).all()) if isinstance(value, torch.Tensor) \
        else bool(np.isfinite(np.asarray(value, dtype=float)).all())
    if not ok:
        raise ValueError(f"{name} contains NaN or infinite values")
    return value
