"""Self-checks for exercises and the learning outcomes each lab asserts.

Every check prints a friendly verdict. When it fails it raises
:class:`CheckFailed` (a subclass of ``AssertionError``, so test runners see a
failure) whose message says what was expected, what was found, and a hint.

>>> from aigc_course import check
>>> check.close("mean of [1, 2, 3]", 2.0, expected=2.0)
✅ mean of [1, 2, 3]: 2 (expected 2 ± 1e-06)
"""

from __future__ import annotations

import math

import numpy as np

from . import results
from .validation import check_number


class CheckFailed(AssertionError):
    """A self-check or a learning-outcome check did not pass."""


def _fail(message: str, hint: str | None) -> None:
    text = f"❌ {message}"
    if hint:
        text += f"\n   Hint: {hint}"
    print(text)
    raise CheckFailed(text)


def _is_tensor(x) -> bool:
    """True for a torch tensor, without importing torch (keeps `import aigc_course` fast)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _array(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if _is_tensor(x) else x, dtype=float)


def _number(value, what: str) -> float:
    if _is_tensor(value):
        if value.numel() != 1:
            raise TypeError(f"{what} must be a single number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    return float(value)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def close(name: str, value, expected, *, tol: float = 1e-6, hint: str | None = None) -> None:
    """Check that a number (or array/tensor) is within ``tol`` of ``expected``."""
    a, b = _array(value), _array(expected)
    if a.shape != b.shape:
        _fail(f"{name}: expected shape {b.shape}, got shape {a.shape}", hint)
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not err <= tol:
        shown = _fmt(float(a)) if a.size == 1 else f"max difference {_fmt(err)}"
        _fail(f"{name}: got {shown}, expected {_fmt(float(b)) if b.size == 1 else 'the reference'} ± {tol:g}", hint)
    shown = _fmt(float(a)) if a.size == 1 else f"shape {a.shape}, max difference {_fmt(err)}"
    exp = f"{_fmt(float(b))} ± {tol:g}" if b.size == 1 else f"within {tol:g}"
    print(f"✅ {name}: {shown} (expected {exp})")


def shape(name: str, tensor, expected: tuple, *, hint: str | None = None) -> None:
    """Check a tensor's or array's shape; ``None`` in ``expected`` matches any size."""
    got = tuple(getattr(tensor, "shape", ()))
    ok = len(got) == len(expected) and all(e is None or e == g for e, g in zip(expected, got))
    if not ok:
        _fail(f"{name}: expected shape {tuple(expected)}, got {got}", hint)
    print(f"✅ {name}: shape {got}")


def true(name: str, condition: bool, *, hint: str | None = None) -> None:
    """Check that a condition holds."""
    if not bool(condition):
        _fail(f"{name}: not satisfied", hint)
    print(f"✅ {name}")


def outcome(name: str, value, *, at_least=None, at_most=None, hint: str | None = None,
            record: bool = True) -> None:
    """Assert a learning outcome, print it and record it for the results appendix.

    Returns nothing (like the other checks), so a notebook cell that ends with it shows
    only the ✅ line.

    Give a floor (``at_least``) or a ceiling (``at_most``), or both.

    >>> outcome("test accuracy", 0.97, at_least=0.95)   # doctest: +SKIP
    ✅ test accuracy = 0.97 (must be ≥ 0.95)
    """
    if at_least is None and at_most is None:
        raise ValueError("outcome() needs a threshold: give at_least=..., at_most=... or both")
    at_least = None if at_least is None else check_number("at_least", at_least)
    at_most = None if at_most is None else check_number("at_most", at_most)
    value = _number(value, name)
    if not math.isfinite(value):
        _fail(f"{name} is {value}, not a finite number", hint or "the training probably diverged")
    parts = []
    passed = True
    if at_least is not None:
        parts.append(f"≥ {_fmt(at_least)}")
        passed &= value >= at_least
    if at_most is not None:
        parts.append(f"≤ {_fmt(at_most)}")
        passed &= value <= at_most
    rule = " and ".join(parts)
    if record:
        results.record(name, value, at_least=at_least, at_most=at_most, passed=bool(passed))
    if not passed:
        _fail(f"{name} = {_fmt(value)}, but it must be {rule}", hint)
    print(f"✅ {name} = {_fmt(value)} (must be {rule})")
