"""``make test`` runs two pytest workers (pytest-xdist ``-n 2 --dist loadfile``): each worker
gets its share of the cores (``conftest.py``), and both workers' executed notebooks end up in
the book's jupyter-cache (``notebooks/conftest.py``), so the book build re-runs none of them."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SET_BY_WORKERS = ("AIGC_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def _tree(tmp_path: Path) -> Path:
    """A copy of the repository's two conftests, the network guard and two small notebooks."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / ".ci").symlink_to(ROOT / ".ci")
    for name in ("conftest.py", "notebooks/conftest.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    for k in (1, 2):
        nbformat.write(nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("import os\nprint(os.environ.get('AIGC_THREADS'))"),
            nbformat.v4.new_code_cell(f"print({k} * 21)"),
        ]), tmp_path / "notebooks" / f"nb{k}.ipynb")
    return tmp_path


def _pytest(tree: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in SET_BY_WORKERS and not k.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         f"--rootdir={tree}", *args, "notebooks"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=300, check=False)


def _cached_outputs(tree: Path) -> dict:
    from jupyter_cache import get_cache

    cache = get_cache(str(tree / "_build" / ".jupyter_cache"))
    return {Path(r.uri).name: cache.get_cache_bundle(r.pk).nb.cells[0].outputs[0]["text"].strip()
            for r in cache.list_cache_records()}


def test_two_workers_share_the_cores_and_both_fill_the_book_cache(tmp_path):
    tree = _tree(tmp_path)
    done = _pytest(tree, "-n", "2", "--dist", "loadfile")
    assert done.returncode == 0, done.stdout + done.stderr
    share = str(max(1, (os.cpu_count() or 1) // 2))
    assert _cached_outputs(tree) == {"nb1.ipynb": share, "nb2.ipynb": share}


def test_one_process_leaves_the_threads_alone(tmp_path):
    tree = _tree(tmp_path)
    done = _pytest(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _cached_outputs(tree) == {"nb1.ipynb": "None", "nb2.ipynb": "None"}
