"""``python -m aigc_course.bench recipes``: run every lab's recipes at an equal budget, report.

:func:`bench_recipes` imports ``aigc_course.recipes.<key>.LAB`` for each lab, trains each of its
recipes for each seed with :func:`~aigc_course.recipes.base.run_recipe` (the same data, loaded
once per seed, the same CPU threads, the same training-time budget) and returns a summary;
:func:`write_recipes_report` writes it as ``<tag>.json``, a Markdown table ``<tag>.md`` (metric
per seed, steps reached, ratio ours/theirs of the mean metric) and ``<tag>.png`` (the metric
against training time for the GAN and the LSTM labs).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import statistics
import textwrap
import time
from pathlib import Path

from ..bench import RECIPE_LABS as LABS
from ..bench import _cpu_name

PLOT_LABS = ("gan", "lstm")   # the labs whose training curves <tag>.png shows
CURVE_POINTS = 8


def load_lab(key: str):
    """``aigc_course.recipes.<key>.LAB``, or ``None`` (with the reason printed) if there is none."""
    name = f"{__package__}.{key}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module exists but something it imports does not
            raise
        print(f"skipping {key}: no module {name} (aigc_course/recipes/{key}.py)", flush=True)
        return None
    lab = getattr(module, "LAB", None)
    if lab is None:
        print(f"skipping {key}: {name} defines no LAB", flush=True)
    return lab


def bench_recipes(keys=LABS, seeds=(0, 1, 2), budget_scale: float = 1.0, tag: str = "recipes",
                  threads: int | None = None, curve_points: int = CURVE_POINTS,
                  max_steps: int | None = None) -> dict:
    """Run every recipe of every lab in ``keys`` for each seed; return the summary.

    Every run gets ``lab.budget_s * budget_scale`` seconds of training time and ``threads``
    torch threads (default: every core), set once for all of them. Within a seed the recipes
    alternate which goes first (seed 0: ours first, seed 1: theirs first, ...), so that a change
    in the machine's load does not always favour the same one. A recipe that raises is recorded
    with its error and the benchmark goes on.
    """
    import torch

    from .base import run_recipe

    if budget_scale <= 0:
        raise ValueError(f"budget_scale must be positive, got {budget_scale}")
    torch.set_num_threads(threads or os.cpu_count() or 2)
    labs, skipped, runs = [], [], []
    start = time.perf_counter()
    for key in keys:
        lab = load_lab(key)
        if lab is None:
            skipped.append(key)
            continue
        budget = lab.budget_s * budget_scale
        labs.append({"key": lab.key, "notebook": lab.notebook, "metric": lab.metric,
                     "lower_is_better": lab.lower_is_better, "budget_s": budget,
                     "recipes": [{"name": r.name, "source": r.source, "notes": r.notes}
                                 for r in lab.recipes]})
        lab_start = time.perf_counter()
        for i, seed in enumerate(seeds):
            data = lab.load_data(seed)
            order = lab.recipes if i % 2 == 0 else lab.recipes[::-1]
            for recipe in order:
                ticks = _cpu_times()
                try:
                    result = run_recipe(lab, recipe, seed, budget, data=data,
                                        curve_points=curve_points if lab.key in PLOT_LABS else 0,
                                        max_steps=max_steps)
                    result["error"] = None
                except Exception as exc:  # noqa: BLE001 - recorded, the other runs go on
                    result = {"recipe": recipe.name, "seed": seed, "steps": None, "train_s": None,
                              "eval_s": None, "wall_s": None, "metric": None, "curve": [],
                              "extras": {}, "error": f"{type(exc).__name__}: {str(exc)[-300:]}"}
                result["steal"] = _steal_share(ticks, _cpu_times())
                runs.append({"lab": lab.key, **result})
                print(_run_line(lab, result), flush=True)
            del data
        labs[-1].update(seconds=round(time.perf_counter() - lab_start, 1), date=_now())
    summary = {
        "tag": tag, "machine": _cpu_name(), "python": platform.python_version(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "date": _now(), "budget_scale": budget_scale,
        "seeds": list(seeds), "curve_points": curve_points, "max_steps": max_steps,
        "labs": labs, "skipped": skipped, "runs": runs,
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    summary["comparison"] = compare(summary)
    return summary


def _cpu_times() -> tuple[int, int] | None:
    """(steal, total) CPU ticks since boot from ``/proc/stat`` (Linux), else ``None``. *Steal* is
    time the hypervisor gave to other virtual machines: a share above a few per cent means the
    machine was not idle, and the steps reached are not comparable between runs."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def _steal_share(before, after) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 4)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def merge_recipes(summaries: list[dict], tag: str = "recipes") -> dict:
    """One summary from several runs of ``bench recipes`` on the same machine and settings: each
    lab from the last summary that has it (a lab re-measured later replaces the earlier run).
    ``total_seconds`` is the sum of the kept labs' times; each lab keeps its own ``date``."""
    same = ("machine", "threads", "budget_scale", "seeds", "torch")
    for s in summaries[1:]:
        differ = [k for k in same if s.get(k) != summaries[0].get(k)]
        if differ:
            raise ValueError(f"cannot merge runs that differ in {', '.join(differ)}")
    chosen = {}
    for s in summaries:
        for lab in s["labs"]:
            chosen[lab["key"]] = (lab, s)
    keys = [k for k in LABS if k in chosen] + [k for k in chosen if k not in LABS]
    labs = [chosen[k][0] for k in keys]
    runs = [r for k in keys for r in chosen[k][1]["runs"] if r["lab"] == k]
    merged = {**summaries[-1], "tag": tag, "labs": labs, "runs": runs, "skipped": [],
              "date": "; ".join(dict.fromkeys(lab.get("date", chosen[lab["key"]][1]["date"])
                                              for lab in labs)),
              "total_seconds": round(sum(lab.get("seconds", 0.0) for lab in labs), 1),
              "merged_from": [s["tag"] for s in summaries]}
    merged["comparison"] = compare(merged)
    return merged


def _run_line(lab, r: dict) -> str:
    head = f"{lab.key:<9} {r['recipe']:<16} seed {r['seed']}:"
    if r.get("error"):
        return f"{head} FAILED {r['error'][:200]}"
    return (f"{head} {r['steps']:>7} steps in {r['train_s']:.1f} s (+{r['eval_s']:.1f} s "
            f"evaluating) · {lab.metric} = {r['metric']:.4g}")


def compare(summary: dict) -> list[dict]:
    """Per lab and recipe: metric, steps and extras for each seed, the metric's mean, and the
    ratio of our mean metric to this recipe's (``None`` for ours, or where a mean is missing
    or zero)."""
    rows = []
    for lab in summary["labs"]:
        names = [r["name"] for r in lab["recipes"]]
        ours = "ours" if "ours" in names else names[0]
        by = {(r["recipe"], r["seed"]): r for r in summary["runs"] if r["lab"] == lab["key"]}
        means = {}
        for name in names:
            runs = [by.get((name, s)) for s in summary["seeds"]]
            metrics = [r["metric"] if r and not r.get("error") else None for r in runs]
            ok = [m for m in metrics if m is not None and math.isfinite(m)]
            means[name] = statistics.fmean(ok) if ok else None
            extras = sorted({k for r in runs if r for k in r.get("extras") or {}})
            rows.append({"lab": lab["key"], "recipe": name, "ours": name == ours,
                         "metric": metrics, "steps": [r["steps"] if r else None for r in runs],
                         "extras": {k: [(r.get("extras") or {}).get(k) if r else None
                                        for r in runs] for k in extras},
                         "mean": means[name],
                         "errors": [r["error"] for r in runs if r and r.get("error")]})
        for row in rows:
            if row["lab"] != lab["key"] or row["ours"]:
                continue
            a, b = means[ours], row["mean"]
            row["ratio"] = a / b if a is not None and b else None
            if row["ratio"] is None:
                row["ours_better"] = None
            else:
                row["ours_better"] = a < b if lab["lower_is_better"] else a > b
    return rows


def _cell(text) -> str:
    """Text for a Markdown table cell: a '|' would end the cell, a newline the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _values(values, fmt="{:.4g}") -> str:
    return " / ".join(fmt.format(v) if v is not None else "—" for v in values)


def _extras(row: dict) -> str:
    """``"class match 0.91 / 0.93 / 0.9<br>IS 8.1 / 8.3 / 8"`` (each measure's value for each
    seed, one measure per line of the table cell)."""
    return "<br>".join(f"{k.replace('_', ' ')} {_values(v, '{:.3g}')}"
                       for k, v in (row.get("extras") or {}).items())


def write_recipes_report(summary: dict, folder: Path) -> tuple[Path, Path, Path]:
    """Write ``<tag>.json``, the Markdown tables ``<tag>.md`` (one per lab) and the curves
    ``<tag>.png``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary = {**summary, "comparison": summary.get("comparison") or compare(summary)}
    tag = summary["tag"]
    json_path = folder / f"{tag}.json"
    json_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    seeds = " / ".join(map(str, summary["seeds"]))
    if summary.get("merged_from"):
        measured = "; ".join(f"{lab['key']} {lab.get('date', '?')}" for lab in summary["labs"])
    else:
        measured = summary["date"]
    lines = [
        (f"**Machine:** {summary['machine']} · {summary['threads']} torch threads · Python "
         f"{summary['python']} · torch {summary['torch']} · measured {measured} · budget "
         f"scale {summary['budget_scale']:g} · total {summary['total_seconds'] / 60:.1f} min · "
         f"seeds {seeds}"),
        "",
        ("Every recipe trains on the same data, with the same threads, for the same training "
         "time (evaluations pause the clock). *ratio* = mean metric of ours ÷ mean metric of "
         "that recipe: where lower is better, a ratio below 1 means ours is better; where "
         "higher is better, above 1."),
    ]
    for lab in summary["labs"]:      # one small table per lab, under a line naming its metric
        direction = "lower is better" if lab["lower_is_better"] else "higher is better"
        lines += [
            "",
            (f"**{_cell(lab['key'])}** (`{_cell(lab['notebook'])}`) · {_cell(lab['metric'])} "
             f"({direction}) · budget {lab['budget_s']:.3g} s"),
            "",
            (f"| recipe | metric, seeds {seeds} | mean | steps reached, seeds {seeds} | "
             f"ratio ours/theirs | other measures, seeds {seeds} |"),
            "|---|---:|---:|---:|---:|---|",
        ]
        for row in (r for r in summary["comparison"] if r["lab"] == lab["key"]):
            if row["ours"]:
                ratio = "—"
            elif row.get("ratio") is None:
                ratio = "n/a"
            else:
                ratio = f"{row['ratio']:.3g} ({'ours' if row['ours_better'] else 'theirs'} better)"
            mean = f"{row['mean']:.4g}" if row["mean"] is not None else "—"
            failed = f" **failed**: {row['errors'][0][:120]}" if row["errors"] else ""
            lines.append(
                f"| {_cell(row['recipe'])} | {_cell(_values(row['metric']))}{_cell(failed)} | "
                f"{mean} | {_values(row['steps'], '{}')} | {ratio} | "
                f"{_cell(_extras(row)) or '—'} |")
    steal = [r["steal"] for r in summary["runs"] if r.get("steal") is not None]
    if steal:
        lines += ["", (f"CPU time taken by other virtual machines (steal) during a run: at most "
                       f"{max(steal):.1%}, mean {statistics.fmean(steal):.1%}"
                       + (" — **the machine was not idle: compare steps with care**"
                          if max(steal) > 0.05 else "") + ".")]
    lines += ["", "**The recipes**", ""]
    for lab in summary["labs"]:
        for r in lab["recipes"]:
            lines.append(f"- {lab['key']}, **{r['name']}** — {r['notes'] or '—'} "
                         f"(source: {r['source']})")
    if summary.get("skipped"):
        lines += ["", f"Not run (no module): {', '.join(summary['skipped'])}."]
    md_path = folder / f"{tag}.md"
    md_path.write_text("\n".join(lines) + "\n")
    png_path = plot_curves(summary, folder / f"{tag}.png")
    return json_path, md_path, png_path


def plot_curves(summary: dict, path: Path, keys=PLOT_LABS) -> Path:
    """The metric against training time, both recipes on one axis per lab (``keys``; if none of
    them ran, every lab that ran). With several seeds whose curves line up (the same points),
    the mean with its range (min to max) over the seeds; otherwise one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labs = [lab for lab in summary["labs"] if lab["key"] in keys] or summary["labs"]
    rows = max(1, len(labs))     # one panel per lab, stacked: readable on a phone too
    fig, axes = plt.subplots(rows, 1, figsize=(6.4, 3.4 * rows), squeeze=False)
    for ax, lab in zip(axes[:, 0], labs):
        values = []
        for c, recipe in enumerate(r["name"] for r in lab["recipes"]):
            color = f"C{c}"
            curves = [r["curve"] for r in summary["runs"]
                      if r["lab"] == lab["key"] and r["recipe"] == recipe and r["curve"]]
            values += [m for curve in curves for _, m in curve]
            if len(curves) > 1 and len({len(cv) for cv in curves}) == 1:
                t = [statistics.fmean(cv[k][0] for cv in curves) for k in range(len(curves[0]))]
                cols = list(zip(*[[m for _, m in cv] for cv in curves]))
                ax.plot(t, [statistics.fmean(col) for col in cols], "o-", ms=3, color=color,
                        label=f"{recipe} (mean of {len(curves)} seeds, range)")
                ax.fill_between(t, [min(col) for col in cols], [max(col) for col in cols],
                                color=color, alpha=0.2, lw=0)
            else:
                for k, cv in enumerate(curves):
                    ax.plot(*zip(*cv), "o-", ms=3, color=color, alpha=0.8,
                            label=recipe if k == 0 else None)
        ax.axvline(lab["budget_s"], ls=":", c="gray", lw=1)
        finite = [v for v in values if math.isfinite(v)]
        if finite and min(finite) > 0 and max(finite) / min(finite) > 20:
            ax.set_yscale("log")
        direction = "lower is better" if lab["lower_is_better"] else "higher is better"
        ax.set_xlabel("training time (s)")
        ax.set_ylabel(textwrap.fill(f"{lab['metric']} ({direction})", 36), fontsize=9)
        ax.set_title(f"{lab['key']} ({lab['notebook']})", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"equal budget · {summary['machine']} · {summary['threads']} threads",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
