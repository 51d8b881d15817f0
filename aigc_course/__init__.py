"""aigc_course: the support package of the course "AIGC from Beginner to Practice".

Start every notebook with::

    import aigc_course as ac
    ac.setup("01_deep_learning_essentials")

which seeds everything, picks the device and prints the profile it runs in.
Modules: ``config``, ``data``, ``models``, ``train`` (``fit``), ``metrics``,
``plot``, ``check``, ``results``. Heavy libraries (TensorFlow, transformers,
librosa) are imported only by the functions that need them.
"""

from __future__ import annotations

import importlib
import os
import platform
from dataclasses import dataclass

from . import check, config, results
from .config import by_profile, data_dir, get_device, get_profile, seed_everything

__version__ = "0.1.0"

HUB_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
SWITCH_HINT = {
    "fast": "set AIGC_PROFILE=full for real datasets and bigger models",
    "full": "set AIGC_PROFILE=fast for the quick CPU-sized run",
}


def keep_hub_offline(profile: str) -> None:
    """In the fast profile, keep ``huggingface_hub``/``transformers`` offline.

    Sets ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` unless the learner set them.
    huggingface_hub reads them when it is imported, so this runs when ``aigc_course`` is imported
    (before any notebook imports transformers) and again in :func:`setup`.
    """
    if profile == "fast":
        for name in HUB_OFFLINE_VARIABLES:
            os.environ.setdefault(name, "1")


keep_hub_offline(os.environ.get("AIGC_PROFILE", "").strip().lower() or "fast")

_LAZY = {"data", "models", "train", "metrics", "plot", "keras", "bench", "audio", "speech"}


def __getattr__(name):  # import the bigger submodules on first use
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name == "fit":
        return importlib.import_module(".train", __name__).fit
    if name == "speak":  # text-to-speech with the course's trained model (chapter 12)
        return importlib.import_module(".speech.speak", __name__).speak
    raise AttributeError(f"module 'aigc_course' has no attribute {name!r}")


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` chose: the profile, device, seed and data directory."""

    notebook: str | None
    profile: str
    device: object
    seed: int
    data_dir: object


def setup(notebook: str | None = None, seed: int | None = None, threads: int | None = None,
          verbose: bool = True) -> Setup:
    """Prepare a notebook run: seed everything, choose the device and print the setup.

    Args:
        notebook: the notebook's name (e.g. ``"08_gan_lab"``); its asserted metrics are
            recorded under this name for the results appendix.
        seed: overrides ``AIGC_SEED``.
        threads: torch CPU threads (default: all cores, at most 8).
    """
    import torch

    if notebook is not None:
        results.set_notebook(notebook)
        results.clear(notebook)
    used_seed = seed_everything(seed)
    config.set_threads(threads)
    info = Setup(notebook, get_profile(), get_device(), used_seed, data_dir())
    keep_hub_offline(info.profile)
    if verbose:
        print(
            f"aigc_course {__version__} | profile: {info.profile} ({SWITCH_HINT[info.profile]}) | "
            f"device: {info.device} | seed: {info.seed}\n"
            f"python {platform.python_version()} | torch {torch.__version__} | "
            f"threads: {torch.get_num_threads()} | data dir: {_with_tilde(info.data_dir)}"
        )
    return info


def _with_tilde(path) -> str:
    """``path`` as text with the home folder written ``~``, so printed pages show no user name."""
    text, home = str(path), os.path.expanduser("~")
    if text == home or text.startswith(home.rstrip(os.sep) + os.sep):
        return "~" + text[len(home.rstrip(os.sep)):]
    return text


__all__ = [
    "Setup", "audio", "bench", "by_profile", "check", "config", "data", "data_dir", "fit",
    "get_device", "get_profile", "keep_hub_offline", "keras", "metrics", "models", "plot",
    "results", "seed_everything", "setup", "speak", "speech", "train",
]
