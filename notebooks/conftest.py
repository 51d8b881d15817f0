"""pytest settings for the notebooks, which nbval executes (``--nbval-lax``, fast profile).

Executing every notebook twice in CI, once for the tests and once for the book, would double
the longest step. So each notebook that passes every cell here is stored, with the outputs
this run produced, in the book's jupyter-cache (``_build/.jupyter_cache``); a following
``jupyter-book build`` finds it there and does not run it again. A notebook that fails, or
is changed afterwards, is simply executed by the book build. ``AIGC_BOOK_CACHE=0`` stores
nothing (CI's Colab path runs while the Chinese edition is built from the cache).
"""

import contextlib
import os
import tempfile
import time
from pathlib import Path

import pytest

os.environ.setdefault("AIGC_PROFILE", "fast")
# OMP_WAIT_POLICY and the threads of parallel workers: ../conftest.py
# Leave matplotlib's backend to the kernel (inline): with MPLBACKEND=Agg the executed notebooks
# would have no figures, and the book reuses these outputs.
os.environ.pop("MPLBACKEND", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Offline is enforced: every kernel starts with .ci/network_guard on PYTHONPATH, whose
# sitecustomize blocks (and logs) any connection outside loopback. A cell that tried one fails,
# even if the library caught the error. AIGC_NETWORK_GUARD=0 turns the guard off.
GUARD_LOG = Path(tempfile.mkdtemp(prefix="aigc_guard_")) / "network.log"
if os.environ.get("AIGC_NETWORK_GUARD", "1") != "0":
    _guard = str(Path(__file__).resolve().parents[1] / ".ci" / "network_guard")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (_guard, os.environ.get("PYTHONPATH")) if p)
    os.environ["AIGC_NETWORK_GUARD_LOG"] = str(GUARD_LOG)

_runs: dict = {}  # notebook path -> {"outputs": {code cell index: outputs}, "failed": bool, "start": t}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if not hasattr(item, "test_outputs") or not hasattr(item, "cell_num"):
        return  # not an nbval cell
    run = _runs.setdefault(Path(str(item.fspath)), {"outputs": {}, "failed": False,
                                                     "start": time.perf_counter()})
    if report.when == "call":
        run["outputs"][item.cell_num] = item.test_outputs or []
        run["end"] = time.perf_counter()
        blocked = GUARD_LOG.read_text() if GUARD_LOG.exists() else ""
        if blocked:
            GUARD_LOG.unlink()
            report.outcome = "failed"
            report.longrepr = f"this cell tried to use the network (fast profile):\n{blocked}"
    if report.failed:
        run["failed"] = True


def pytest_sessionfinish(session, exitstatus):
    if not _runs or os.environ.get("AIGC_BOOK_CACHE", "1") == "0":  # 0: leave the cache alone
        return
    try:
        from jupyter_cache import get_cache
    except ImportError:
        return
    folder = Path(session.config.rootpath) / "_build" / ".jupyter_cache"
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder.with_name(".jupyter_cache.lock")):  # parallel workers write one cache
        _store(get_cache(str(folder)))


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on ``path`` (POSIX; elsewhere no lock: run pytest without -n)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _store(cache) -> None:
    """Store each notebook that passed every cell, with its outputs, in the book's cache."""
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    for path, run in _runs.items():
        nb = nbformat.read(str(path), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if run["failed"] or len(run["outputs"]) != len(code):
            continue  # only complete, passing runs are reused
        for i, cell in enumerate(code):
            cell.outputs = [nbformat.from_dict(o) for o in run["outputs"][i]]
            cell.execution_count = i + 1
        seconds = run.get("end", run["start"]) - run["start"]
        cache.cache_notebook_bundle(CacheBundleIn(nb, str(path), data={"execution_seconds": seconds}),
                                    check_validity=False, overwrite=True)
