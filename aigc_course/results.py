"""Machine-readable results: every notebook records the metrics it asserts.

``aigc_course.setup("08_gan_lab")`` names the notebook; later calls to
:func:`aigc_course.check.outcome` (or :func:`record`) append to a small JSON
file, ``<results dir>/<notebook>.json``, that the benchmark
(``python -m aigc_course.bench``) collects into the book's results appendix.

The results directory is ``AIGC_RESULTS_DIR`` when set, else
``<data dir>/results``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from . import config
from .validation import check_number

_current = {"notebook": None}


def set_notebook(name: str | None) -> None:
    """Name the notebook whose results :func:`record` writes (``None`` turns recording off)."""
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"notebook name must be a non-empty string, got {name!r}")
    _current["notebook"] = name


def current_notebook() -> str | None:
    return _current["notebook"]


def results_dir() -> Path:
    raw = os.environ.get("AIGC_RESULTS_DIR", "").strip()
    path = Path(raw).expanduser() if raw else config.data_dir() / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_file(notebook: str | None = None) -> Path | None:
    name = notebook or current_notebook()
    return None if name is None else results_dir() / f"{name}.json"


def record(name: str, value: float, **extra) -> None:
    """Store one metric for the current notebook (no-op when no notebook is set).

    ``extra`` holds JSON-friendly details, e.g. ``floor=0.95, passed=True``. The file also
    notes the profile, the device and the seed the run was seeded with
    (:func:`aigc_course.config.current_seed`, so ``setup(seed=3)`` records 3).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"metric name must be a non-empty string, got {name!r}")
    value = check_number(f"metric {name!r}", float(value))
    path = results_file()
    if path is None:
        return
    data = load(path.stem)
    data.update(
        notebook=path.stem,
        profile=config.get_profile(),
        device=str(config.get_device()),
        seed=config.current_seed(),
    )
    data.setdefault("metrics", {})[name] = {"value": value, "time": time.time(), **extra}
    tmp = config.private_tmp(path)
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)


def load(notebook: str) -> dict:
    """The recorded results of one notebook (an empty dict when none)."""
    path = results_dir() / f"{notebook}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def clear(notebook: str) -> None:
    """Forget a notebook's recorded results (``setup`` does this so a run starts fresh)."""
    path = results_dir() / f"{notebook}.json"
    path.unlink(missing_ok=True)
