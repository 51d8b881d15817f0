"""Course-wide settings: profile, device, random seed and data directory.

Everything here is read from environment variables so that a notebook can be
re-run with other settings without editing it:

=================  ==========================================  ======================
variable           meaning                                     default
=================  ==========================================  ======================
``AIGC_PROFILE``   ``fast`` (CPU-sized) or ``full`` (real      ``full`` on a GPU,
                   datasets, bigger models)                    ``fast`` otherwise
``AIGC_SEED``      seed for python, numpy, torch (and TF)      ``0``
``AIGC_DATA_DIR``  where datasets, caches and weights live     ``~/.cache/aigc_course``
``AIGC_DEVICE``    force a device (``cpu``, ``cuda``, ``mps``)  best available
=================  ==========================================  ======================
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

PROFILES = ("fast", "full")


def get_profile() -> str:
    """Return the active profile, ``"fast"`` or ``"full"``.

    ``AIGC_PROFILE`` wins; without it the profile is ``full`` when a CUDA GPU is
    present and ``fast`` otherwise.
    """
    value = os.environ.get("AIGC_PROFILE", "").strip().lower()
    if not value:
        import torch

        return "full" if torch.cuda.is_available() else "fast"
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

    ``prefer`` (or the ``AIGC_DEVICE`` variable) forces one; asking for a device
    that is not available raises ``ValueError``.
    """
    import torch  # imported here, not at the top, so that `import aigc_course` stays fast

    wanted = (prefer or os.environ.get("AIGC_DEVICE", "")).strip().lower()
    mps_ok = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if not wanted:
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": mps_ok}
    if wanted not in available:
        raise ValueError(f"unknown device {wanted!r}; expected one of {tuple(available)}")
    if not available[wanted]:
        raise ValueError(f"device {wanted!r} was requested but is not available on this machine")
    return torch.device(wanted)


def get_seed() -> int:
    """The seed from ``AIGC_SEED`` (default 0)."""
    raw = os.environ.get("AIGC_SEED", "0").strip()
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"AIGC_SEED must be an integer, got {raw!r}") from None


def seed_everything(seed: int | None = None) -> int:
    """Seed python's ``random``, numpy, torch and (if already imported) TensorFlow.

    Returns the seed used (``AIGC_SEED`` when ``seed`` is None).
    """
    import numpy as np
    import torch

    if seed is None:
        seed = get_seed()
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if "tensorflow" in sys.modules:  # only if the notebook already uses TF: keep imports lazy
        sys.modules["tensorflow"].random.set_seed(seed)
    return seed


def data_dir() -> Path:
    """The course's data directory (created if missing)."""
    raw = os.environ.get("AIGC_DATA_DIR", "").strip()
    path = Path(raw).expanduser() if raw else Path.home() / ".cache" / "aigc_course"
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_threads(n: int | None = None) -> int:
    """Limit torch's CPU threads (default: all cores, at most 8). Returns the number set."""
    if n is None:
        n = min(8, os.cpu_count() or 1)
    import torch

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"number of threads must be a positive int, got {n!r}")
    torch.set_num_threads(n)
    return n
