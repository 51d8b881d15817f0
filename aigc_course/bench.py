"""Benchmarks: ``python -m aigc_course.bench trainer | notebooks | report | recipes``.

``trainer``
    Times the course's :func:`~aigc_course.train.fit` against a hand-written
    loop on the same model, data and batch order, alternating runs, and prints
    the ratio of their median times (≈ 1.0: ``fit`` costs nothing extra).

``notebooks``
    Executes every notebook (or the ones named) in the chosen profile and seed,
    each in a fresh kernel, and records its wall time, peak memory, the device
    and the metrics the notebook asserted (read from the JSON each notebook
    writes through ``aigc_course.check.outcome``). Writes
    ``book/results/<tag>.json``, ``<tag>.md`` and ``<tag>.png``, which the
    appendix "What to expect on your hardware" shows.

``report``
    Merges the runs of several seeds (``<tag>.json`` files written by
    ``notebooks --seed N --tag ...``) into one table: wall time and memory from
    the first file, every asserted metric with its value for each seed.

``recipes``
    Trains, for each lab (``--labs gan vae lstm gpt diffusion``) and seed
    (``--seeds 0 1 2``), our lab's recipe and the published recipe of the
    tutorial the lab replaces (``aigc_course.recipes.<lab>.LAB``) on the same
    data, with the same CPU threads and the same training-time budget (the
    lab's ``budget_s`` × ``--budget-scale``; evaluations pause the clock).
    Writes ``<out>/<tag>.json`` (default ``book/results/recipes.json``), a table
    ``<tag>.md`` (the lab's metric per seed, steps reached, ratio ours/theirs of
    the mean metric) and ``<tag>.png`` (metric against training time, GAN and
    LSTM labs). A lab whose module is missing is skipped with a message. ``--merge A.json
    B.json`` runs nothing and merges earlier results (a lab re-measured in B replaces A's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE_LABS = ("gan", "vae", "lstm", "gpt", "diffusion")  # aigc_course/recipes/<lab>.py


# --------------------------------------------------------------------------- trainer
def _hand_written_loop(model, x, y, epochs, batch_size, seed):
    """The loop a learner writes by hand: the same batches as ``fit`` (same shuffle seed)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=gen)
    losses = []
    model.train()
    for epoch in range(epochs):
        gen.manual_seed(seed * 100_003 + epoch)
        for xb, yb in loader:
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def bench_trainer(epochs: int = 10, repeats: int = 5) -> dict:
    """Median time of ``fit`` vs a hand-written loop (DigitsCNN on the digits, CPU)."""
    import torch

    from .data import load_digits
    from .models import DigitsCNN
    from .train import fit

    torch.set_num_threads(min(8, os.cpu_count() or 1))
    digits = load_digits()
    x, y = digits.train.x, digits.train.y
    times = {"fit": [], "hand-written": []}
    for r in range(repeats + 1):  # the first round warms up and is not counted
        for name in ("hand-written", "fit") if r % 2 else ("fit", "hand-written"):
            torch.manual_seed(0)
            model = DigitsCNN()
            start = time.perf_counter()
            if name == "fit":
                h = fit(model, (x, y), optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
                        epochs=epochs, batch_size=64, device="cpu", progress=False)
                losses = h["loss"]
            else:
                losses = _hand_written_loop(model, x, y, epochs, 64, seed=0)
            if r:
                times[name].append(time.perf_counter() - start)
        if r == 0:
            last_losses = losses
    medians = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "epochs": epochs, "repeats": repeats, "steps": len(last_losses),
        "fit_s": medians["fit"], "hand_written_s": medians["hand-written"],
        "ratio": medians["fit"] / medians["hand-written"],
    }
    print(f"DigitsCNN, {epochs} epochs ({result['steps']} steps), median of {repeats} alternating runs:")
    print(f"  hand-written loop {result['hand_written_s']:.3f} s | fit {result['fit_s']:.3f} s | "
          f"ratio {result['ratio']:.3f}")
    return result


# --------------------------------------------------------------------------- notebooks
_RUN_ONE = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
path, timeout = sys.argv[1], int(sys.argv[2])
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
error = None
try:
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}}).execute()
except Exception as exc:
    error = f"{type(exc).__name__}: {str(exc)[-500:]}"
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "error": error}))
"""


def _device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return _cpu_name()


def _cpu_name() -> str:
    """``"<n> CPU cores (<model name>)"``."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU cores ({cpu})"


def bench_notebooks(names: list[str], profile: str, tag: str, timeout: int = 900, seed: int = 0,
                    folder: Path | None = None) -> dict:
    """Execute notebooks one by one; collect time, memory and recorded metrics.

    ``folder``: where the notebooks are (default: the course's ``notebooks/``).
    """
    notebooks = sorted(Path(folder or ROOT / "notebooks").glob("*.ipynb"))
    if names:
        notebooks = [p for p in notebooks if p.stem in names or p.name in names]
        if not notebooks:
            raise SystemExit(f"no notebook matches {names}")
    results_dir = Path(tempfile.mkdtemp(prefix="aigc_results_"))
    env = dict(os.environ, AIGC_PROFILE=profile, AIGC_SEED=str(seed), AIGC_RESULTS_DIR=str(results_dir),
               MPLBACKEND="Agg", HF_HUB_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2", OMP_WAIT_POLICY="PASSIVE")
    rows = []
    for nb in notebooks:
        print(f"running {nb.name} ...", flush=True)
        out = subprocess.run([sys.executable, "-c", _RUN_ONE, str(nb), str(timeout)], env=env,
                             capture_output=True, text=True, cwd=ROOT, check=False)
        try:
            run = json.loads(out.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            run = {"seconds": None, "peak_mb": None, "error": out.stderr[-500:]}
        recorded = {}
        path = results_dir / f"{nb.stem}.json"
        if path.exists():
            recorded = json.loads(path.read_text())
        metrics = {k: {kk: v[kk] for kk in ("value", "at_least", "at_most", "passed") if kk in v}
                   for k, v in recorded.get("metrics", {}).items()}
        row = {"notebook": nb.stem, **run, "device": recorded.get("device"), "metrics": metrics}
        rows.append(row)
        status = "ok" if not run["error"] else f"FAILED: {run['error'][:200]}"
        print(f"  {run['seconds'] or 0:.1f} s, peak {run['peak_mb'] or 0:.0f} MB, {len(metrics)} metrics, {status}")
    import torch

    summary = {
        "tag": tag, "profile": profile, "seed": seed, "machine": _device_name(), "python": platform.python_version(),
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"), "notebooks": rows,
        "total_seconds": sum(r["seconds"] or 0 for r in rows),
    }
    return summary


def _fmt_metric(name: str, m: dict) -> str:
    """``✅ name = v (≥ floor)``; ``m["values"]`` (one per seed) are shown as ``v0 / v1 / v2``."""
    rule = []
    if m.get("at_least") is not None:
        rule.append(f"≥ {m['at_least']:g}")
    if m.get("at_most") is not None:
        rule.append(f"≤ {m['at_most']:g}")
    values = m.get("values", [m["value"]])
    shown = " / ".join(f"{v:.4g}" if v is not None else "—" for v in values)
    if not rule:  # recorded for information (e.g. a training time), not asserted
        return f"ℹ️ {name} = {shown}"
    mark = "✅" if m.get("passed") else "❌"
    return f"{mark} {name} = {shown} ({' and '.join(rule)})"


def merge_seeds(summaries: list[dict]) -> dict:
    """One summary from runs with different seeds: times from the first run, every metric's
    ``values`` listed per seed (``None`` where a run did not record it), ``passed`` only if
    every run passed it."""
    if not summaries:
        raise ValueError("merge_seeds needs at least one summary")
    profiles = {s["profile"] for s in summaries}
    if len(profiles) > 1:
        raise ValueError(f"cannot merge runs of different profiles: {sorted(profiles)}")
    first = summaries[0]
    merged = {**first, "seeds": [s.get("seed", 0) for s in summaries], "notebooks": []}
    by_name = [{r["notebook"]: r for r in s["notebooks"]} for s in summaries]
    for row in first["notebooks"]:
        runs = [b.get(row["notebook"]) for b in by_name]
        metrics = {}
        for name, m in row["metrics"].items():
            ms = [(r or {}).get("metrics", {}).get(name) for r in runs]
            metrics[name] = {**m, "values": [x["value"] if x else None for x in ms],
                             "passed": all(x is not None and x.get("passed") for x in ms)}
        errors = [r.get("error") for r in runs if r and r.get("error")]
        merged["notebooks"].append({**row, "metrics": metrics, "error": row.get("error") or
                                    (f"with another seed: {errors[0]}" if errors else None)})
    return merged


def write_report(summary: dict, folder: Path) -> tuple[Path, Path]:
    """Write ``<tag>.json`` and a Markdown table ``<tag>.md`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{summary['tag']}.json"
    json_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    seeds = summary.get("seeds", [summary.get("seed", 0)])
    lines = [
        f"**Machine:** {summary['machine']} · **profile:** `{summary['profile']}` · Python "
        f"{summary['python']} · torch {summary['torch']} · measured {summary['date']} · total "
        f"{summary['total_seconds'] / 60:.1f} min (seed {seeds[0]})"
        + (f" · metrics for seeds {' / '.join(map(str, seeds))}" if len(seeds) > 1 else ""),
        "",
        "| notebook | wall time (s) | peak memory (MB) | asserted metrics |",
        "|---|---:|---:|---|",
    ]
    for r in summary["notebooks"]:
        # a "|" in a metric's name (|ours − torch|) would end the table cell: escape it
        metrics = "<br>".join(_fmt_metric(k, m) for k, m in r["metrics"].items()).replace("|", "\\|") or "—"
        if r.get("error"):
            metrics = f"**failed**: {r['error'][:120]}"
        secs = f"{r['seconds']:.1f}" if r["seconds"] is not None else "—"
        mem = f"{r['peak_mb']:.0f}" if r["peak_mb"] is not None else "—"
        lines.append(f"| `{r['notebook']}` | {secs} | {mem} | {metrics} |")
    md_path = folder / f"{summary['tag']}.md"
    md_path.write_text("\n".join(lines) + "\n")
    plot_times(summary, folder / f"{summary['tag']}.png")
    return json_path, md_path


def plot_times(summary: dict, path: Path) -> Path:
    """A horizontal bar chart of each notebook's wall time, with the fast-profile budgets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in summary["notebooks"] if r["seconds"] is not None]
    names = [r["notebook"] for r in rows][::-1]
    secs = [r["seconds"] for r in rows][::-1]
    colors = ["tab:red" if r.get("error") else "tab:blue" for r in rows][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 1.2))
    ax.barh(names, secs, color=colors)
    if summary["profile"] == "fast":
        ax.axvline(60, ls=":", c="gray", label="60 s budget (chapters)")
        ax.axvline(120, ls="--", c="gray", label="120 s budget (labs)")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("wall time (s)")
    ax.set_title(f"{summary['profile']} profile · {summary['machine']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aigc_course.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("trainer", help="fit vs a hand-written loop")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--repeats", type=int, default=5)
    t.add_argument("--out", default=str(ROOT / "book" / "results"))
    n = sub.add_parser("notebooks", help="execute notebooks, record time, memory and metrics")
    n.add_argument("names", nargs="*", help="notebook names (default: all)")
    n.add_argument("--profile", choices=("fast", "full"), default="fast")
    n.add_argument("--tag", default=None, help="results file name (default: <profile>-cpu or -gpu)")
    n.add_argument("--out", default=str(ROOT / "book" / "results"))
    n.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    n.add_argument("--seed", type=int, default=0, help="AIGC_SEED for every notebook")
    m = sub.add_parser("report", help="merge the runs of several seeds into one table")
    m.add_argument("tags", nargs="+", help="result files to merge, the first gives the times")
    m.add_argument("--tag", required=True, help="name of the merged result")
    m.add_argument("--out", default=str(ROOT / "book" / "results"))
    r = sub.add_parser("recipes", help="our labs' recipes vs the tutorials' at an equal budget")
    r.add_argument("--labs", nargs="+", choices=RECIPE_LABS, default=list(RECIPE_LABS))
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--budget-scale", type=float, default=1.0,
                   help="multiplies every lab's training-time budget (e.g. 0.1 for a quick look)")
    r.add_argument("--threads", type=int, default=None,
                   help="torch threads for every recipe (default: every core)")
    r.add_argument("--tag", default="recipes", help="results file name")
    r.add_argument("--merge", nargs="+", metavar="JSON", default=None,
                   help="run nothing: merge these result files (a lab in a later one replaces "
                        "the same lab in an earlier one) into <tag>.json/.md/.png")
    r.add_argument("--out", default=str(ROOT / "book" / "results"))
    args = parser.parse_args(argv)
    if args.what == "recipes":
        from .recipes import report as recipes_report

        if args.merge:
            summary = recipes_report.merge_recipes(
                [json.loads(Path(f).read_text()) for f in args.merge], args.tag)
            paths = recipes_report.write_recipes_report(summary, Path(args.out))
            print(f"merged {len(args.merge)} runs; wrote {', '.join(map(str, paths))}")
            return 0
        if args.budget_scale <= 0:
            parser.error(f"--budget-scale must be positive, got {args.budget_scale}")
        summary = recipes_report.bench_recipes(args.labs, args.seeds, args.budget_scale, args.tag,
                                               threads=args.threads)
        if not summary["labs"]:
            raise SystemExit(f"no lab module found for {' '.join(args.labs)}: nothing to compare")
        paths = recipes_report.write_recipes_report(summary, Path(args.out))
        print(f"total {summary['total_seconds']:.1f} s; wrote {', '.join(map(str, paths))}")
        return 0 if all(not r["error"] for r in summary["runs"]) else 1
    if args.what == "report":
        out = Path(args.out)
        summaries = []
        for tag in args.tags:
            path = out / f"{tag}.json"
            if not path.exists():
                raise SystemExit(f"no results file {path}: run `notebooks --tag {tag}` first")
            summaries.append(json.loads(path.read_text()))
        merged = merge_seeds(summaries)
        merged["tag"] = args.tag
        json_path, md_path = write_report(merged, out)
        print(f"wrote {json_path} and {md_path}")
        return 0 if all(not r["error"] for r in merged["notebooks"]) else 1
    if args.what == "trainer":
        result = bench_trainer(args.epochs, args.repeats)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "trainer.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / "trainer.md").write_text(
            "| model | steps | hand-written loop (s) | `fit` (s) | ratio |\n|---|---:|---:|---:|---:|\n"
            f"| DigitsCNN, batch 64 | {result['steps']} | {result['hand_written_s']:.3f} | "
            f"{result['fit_s']:.3f} | {result['ratio']:.3f} |\n")
        return 0 if result["ratio"] <= 1.05 else 1
    import torch

    tag = args.tag or f"{args.profile}-{'gpu' if torch.cuda.is_available() else 'cpu'}"
    summary = bench_notebooks(args.names, args.profile, tag, args.timeout, seed=args.seed)
    json_path, md_path = write_report(summary, Path(args.out))
    print(f"wrote {json_path} and {md_path}")
    return 0 if all(not r["error"] for r in summary["notebooks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
