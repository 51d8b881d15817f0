"""Course-wide settings: profile, device, random seed and data directory.

Everything here is read from environment variables so that a notebook can be
re-run with other settings without editing it:

=================  ==========================================  ======================
variable           meaning                                     default
=================  ==========================================  ======================
``AIGC_PROFILE``   ``fast`` (CPU-sized) or ``full`` (real      ``fast`` on every
                   datasets, bigger models)                    device, GPU included
``AIGC_SEED``      seed for python, numpy, torch (and TF)      ``0``
``AIGC_DATA_DIR``  where datasets, caches and weights live     ``~/.cache/aigc_course``
``AIGC_DEVICE``    force a device (``cpu``, ``cuda``, ``mps``)  best available
``AIGC_THREADS``   torch CPU threads                           all cores, at most 8
=================  ==========================================  ======================

The profile never depends on the hardware: a GPU runs the ``fast`` profile too (faster), and
``full`` is used only when asked for, e.g. ``AIGC_PROFILE=full jupyter lab``.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

from .validation import check_int

PROFILES = ("fast", "full")

_seeded = {"seed": None}  # the seed of the last seed_everything() call


def get_profile() -> str:
    """Return the active profile, ``"fast"`` or ``"full"``.

    ``AIGC_PROFILE`` chooses; without it the profile is ``fast``, on a GPU as well.
    """
    value = os.environ.get("AIGC_PROFILE", "").strip().lower()
    if not value:
        return "fast"
    if value not in PROFILES:
        raise ValueError(
            f"AIGC_PROFILE={value!r} is not a valid profile; expected one of {PROFILES}"
        )
    return value


def by_profile(fast, full):
    """Pick a value for the active profile, e.g. ``epochs = by_profile(fast=5, full=50)``."""
    return fast if get_profile() == "fast" else full


def get_device(prefer: str | None = None):
    """Return the best available device: cuda, then mps (Apple), then cpu.

    ``prefer`` (a name such as ``"cuda"`` or ``"cuda:1"``, or a ``torch.device``) or the
    ``AIGC_DEVICE`` variable forces one; asking for a device that is not available raises
    ``ValueError``.
    """
    import torch  # imported here, not at the top, so that `import aigc_course` stays fast

    if prefer is not None and not isinstance(prefer, (str, torch.device)):
        raise TypeError(f"prefer must be a device name such as 'cpu' or 'cuda' (or a "
                        f"torch.device), got {type(prefer).__name__} {prefer!r}")
    source = "prefer" if prefer else "AIGC_DEVICE"
    wanted = str(prefer or os.environ.get("AIGC_DEVICE", "")).strip().lower()
    mps_ok = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if not wanted:
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": mps_ok}
    kind, _, index = wanted.partition(":")
    if kind not in available or (index and not index.isdigit()):
        raise ValueError(f"{source}={wanted!r} is not a device name; expected one of "
                         f"{tuple(available)}, optionally with an index such as 'cuda:0'")
    if not available[kind]:
        raise ValueError(f"device {wanted!r} was requested but is not available on this machine")
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise ValueError(f"device {wanted!r} was requested but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    return torch.device(wanted)


def get_seed() -> int:
    """The seed from ``AIGC_SEED`` (default 0)."""
    raw = os.environ.get("AIGC_SEED", "0").strip()
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"AIGC_SEED must be an integer, got {raw!r}") from None


def current_seed() -> int:
    """The seed the random generators were last seeded with (``AIGC_SEED`` before any seeding).

    This is what a run records: ``setup(seed=3)`` overrides ``AIGC_SEED``.
    """
    return get_seed() if _seeded["seed"] is None else _seeded["seed"]


def seed_everything(seed: int | None = None) -> int:
    """Seed python's ``random``, numpy, torch and (if already imported) TensorFlow.

    Returns the seed used (``AIGC_SEED`` when ``seed`` is None); :func:`current_seed` gives
    it later.
    """
    import numpy as np
    import torch

    seed = check_int("seed", get_seed() if seed is None else seed, low=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if "tensorflow" in sys.modules:  # only if the notebook already uses TF: keep imports lazy
        sys.modules["tensorflow"].random.set_seed(seed)
    _seeded["seed"] = seed
    return seed


def data_dir() -> Path:
    """The course's data directory (created if missing).

    Raises ``ValueError`` when it cannot be created or written to (e.g. ``AIGC_DATA_DIR``
    names a file, or a folder inside a file).
    """
    raw = os.environ.get("AIGC_DATA_DIR", "").strip()
    path = Path(raw).expanduser() if raw else Path.home() / ".cache" / "aigc_course"
    if path.exists() and not path.is_dir():
        problem = "it is a file, not a folder"
    else:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # e.g. a parent is a file, or no permission
            problem = f"cannot create it: {err.strerror or type(err).__name__}"
        else:
            problem = None if os.access(path, os.W_OK) else "the folder is not writable"
    if problem:
        raise ValueError(f"AIGC_DATA_DIR={str(path)!r} cannot be used as the data directory "
                         f"({problem}); set AIGC_DATA_DIR to a writable folder")
    return path


def private_tmp(path: Path, suffix: str = ".tmp") -> Path:
    """A temporary name next to ``path`` that no other process or thread uses, for writing a
    file and then ``replace``-ing ``path`` with it in one step. Two notebooks (or test workers)
    filling the same cache at once would otherwise write into one shared ``.tmp`` file and
    could install a mix of both."""
    import threading

    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}{suffix}")


def set_threads(n: int | None = None) -> int:
    """Limit torch's CPU threads (default: ``AIGC_THREADS``, else all cores, at most 8).
    Returns the number set. (The tests set ``AIGC_THREADS`` when they run notebooks side by
    side, so that two kernels do not fight over the same cores.)"""
    if n is None and os.environ.get("AIGC_THREADS", "").strip():
        raw = os.environ["AIGC_THREADS"].strip()
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"AIGC_THREADS must be a whole number >= 1, got {raw!r}")
        n = int(raw)
    n = min(8, os.cpu_count() or 1) if n is None else check_int("threads", n)
    import torch

    torch.set_num_threads(n)
    return n
