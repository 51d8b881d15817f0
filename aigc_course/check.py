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


# --- write-it-yourself exercises: compare the learner's function with the package's ---------

def _describe(x) -> str:
    if _is_tensor(x) or isinstance(x, np.ndarray):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


def _compare(what: str, got, expected, rtol: float, atol: float) -> str | None:
    """Return None when ``got`` matches ``expected``, else one sentence saying what differs."""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(got) if isinstance(got, dict) else _describe(got)
            return f"{what}: expected a dict with keys {sorted(expected)}, got {keys}"
        for key in expected:
            problem = _compare(f"{what}[{key!r}]", got[key], expected[key], rtol, atol)
            if problem:
                return problem
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"{what}: expected a {type(expected).__name__} of {len(expected)} items, got {_describe(got)}" + (
                f" of {len(got)} items" if isinstance(got, (tuple, list)) else "")
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = _compare(f"{what}[{i}]", g, e, rtol, atol)
            if problem:
                return problem
        return None
    if _is_tensor(expected) or isinstance(expected, np.ndarray):
        if not (_is_tensor(got) or isinstance(got, np.ndarray)):
            return f"{what}: expected a {_describe(expected)}, got a {_describe(got)}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"{what}: expected shape {tuple(expected.shape)}, got shape {tuple(got.shape)}"
        if str(got.dtype) != str(expected.dtype):
            return f"{what}: expected dtype {expected.dtype}, got dtype {got.dtype}"
    elif isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
        if _is_tensor(got) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float, np.number)):
            return f"{what}: expected a number, got a {_describe(got)}"
    else:
        return None if got == expected else f"{what}: expected {expected!r}, got {got!r}"
    a, b = _array(got), _array(expected)
    if a.size == 0:
        return None
    bad = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return None
    where = np.unravel_index(int(np.argmax(np.abs(a - b) * bad)), a.shape) if a.ndim else ()
    index = f" at index {list(map(int, where))}" if a.ndim else ""
    return (f"{what}: {int(bad.sum())} of {a.size} values differ; the largest difference is{index}: "
            f"got {_fmt(float(a[where]))}, expected {_fmt(float(b[where]))}")


def same_as(name: str, got, expected, *, rtol: float = 1e-5, atol: float = 1e-6,
            hint: str | None = None) -> None:
    """Check a result against the reference: its type, shape, dtype, then every value.

    Works on numbers, numpy arrays, torch tensors and tuples/lists/dicts of them. The message
    names what differs first (shape, dtype, which element and by how much).
    """
    problem = _compare(name, got, expected, rtol, atol)
    if problem:
        _fail(problem, hint)
    print(f"✅ {name}: matches the reference")


def function(name: str, mine, reference, make_inputs, *, seed: int = 0, rtol: float = 1e-5,
             atol: float = 1e-6, after=None, hint: str | None = None) -> None:
    """Run the learner's function and the package's on equal inputs and compare the results.

    ``make_inputs()`` returns the positional arguments as a tuple; it is called once for each
    function, so each gets fresh copies (a model, an optimizer). A stub that still raises
    ``NotImplementedError`` only prints a reminder (so "Run all" gets through a notebook before
    the exercise is done); a wrong result raises :class:`CheckFailed`. Both calls start from the same
    random seed, so functions that draw random numbers draw the same ones. ``after(args)``, if
    given, returns more things to compare once the call returned (e.g. updated parameters).
    """
    import torch

    def run(fn):
        args = make_inputs()
        torch.manual_seed(seed)
        np.random.seed(seed)
        out = fn(*args)
        return out, (after(args) if after else None)

    expected = run(reference)
    try:
        got = run(mine)
    except NotImplementedError:   # the stub as handed out: say so, but let "Run all" go on
        print(f"✏️ {name}: not written yet — replace `raise NotImplementedError` with your code "
              "and run this cell again")
        return
    problem = _compare(f"{name}: the result", got[0], expected[0], rtol, atol)
    if problem is None and after is not None:
        problem = _compare(f"{name}: after the call, the state", got[1], expected[1], rtol, atol)
    if problem:
        _fail(problem, hint)
    print(f"✅ {name}: your function gives the same result as the reference")


def __getattr__(name: str):
    """``check.gan_step`` etc.: the exercise checks in ``aigc_course/exercises/``.

    They import torch, so they load on first use and ``import aigc_course`` stays fast.
    """
    if name.startswith("__"):   # e.g. __path__ during `from ..check import ...`: not an exercise
        raise AttributeError(name)
    import importlib
    import pkgutil

    from . import exercises
    for info in pkgutil.iter_modules(exercises.__path__):
        module = importlib.import_module(f"{exercises.__name__}.{info.name}")
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(f"module 'aigc_course.check' has no attribute {name!r}")
