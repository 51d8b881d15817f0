"""The benchmark behind the results appendix: it runs notebooks, reads what they assert, and
merges seeds into the table the book shows."""

import json
import re

import nbformat
import pytest

from aigc_course import bench


def _summary(seed, value, passed=True, profile="fast", error=None):
    return {"tag": f"s{seed}", "profile": profile, "seed": seed, "machine": "2 CPU cores (test)",
            "python": "3.11", "torch": "x", "date": "2026-11-27", "total_seconds": 12.0,
            "notebooks": [{"notebook": "08_gan_lab", "seconds": 12.0, "peak_mb": 500.0, "error": error,
                           "device": "cpu",
                           "metrics": {"FD": {"value": value, "at_least": None, "at_most": 15,
                                              "passed": passed}}}]}


def test_merge_seeds_lists_every_seed_and_fails_if_one_seed_fails():
    merged = bench.merge_seeds([_summary(0, 9.0), _summary(1, 11.0), _summary(2, 16.0, passed=False)])
    metric = merged["notebooks"][0]["metrics"]["FD"]
    assert merged["seeds"] == [0, 1, 2]
    assert metric["values"] == [9.0, 11.0, 16.0]
    assert metric["passed"] is False
    assert merged["notebooks"][0]["seconds"] == 12.0  # times come from the first run


def test_merge_seeds_marks_a_missing_metric_and_another_seeds_error():
    other = _summary(1, 0.0, error="CheckFailed: FD too high")
    other["notebooks"][0]["metrics"] = {}
    merged = bench.merge_seeds([_summary(0, 9.0), other])
    row = merged["notebooks"][0]
    assert row["metrics"]["FD"]["values"] == [9.0, None]
    assert row["metrics"]["FD"]["passed"] is False
    assert "another seed" in row["error"]


def test_merge_seeds_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        bench.merge_seeds([])
    with pytest.raises(ValueError, match="different profiles"):
        bench.merge_seeds([_summary(0, 1.0), _summary(1, 1.0, profile="full")])


def test_write_report_shows_values_per_seed(tmp_path):
    merged = bench.merge_seeds([_summary(0, 9.0), _summary(1, 11.0)])
    merged["tag"] = "fast-cpu"
    json_path, md_path = bench.write_report(merged, tmp_path)
    md = md_path.read_text()
    assert "✅ FD = 9 / 11 (≤ 15)" in md and "seeds 0 / 1" in md
    assert json.loads(json_path.read_text())["seeds"] == [0, 1]
    assert (tmp_path / "fast-cpu.png").stat().st_size > 1000


def test_report_command_needs_existing_runs(tmp_path):
    with pytest.raises(SystemExit, match="notebooks --tag nope"):
        bench.main(["report", "nope", "--tag", "merged", "--out", str(tmp_path)])


def _notebook(path, code):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_bench_runs_notebooks_and_reads_their_recorded_metrics(tmp_path):
    _notebook(tmp_path / "01_good.ipynb",
              'import os, aigc_course as ac\ninfo = ac.setup("01_good", verbose=False)\n'
              'ac.check.outcome("seed plus one", info.seed + 1, at_least=1)')
    _notebook(tmp_path / "02_bad.ipynb", "raise RuntimeError('broken on purpose')")
    summary = bench.bench_notebooks([], "fast", "t", timeout=120, seed=3, folder=tmp_path)
    good, bad = summary["notebooks"]
    assert good["error"] is None and good["seconds"] > 0 and good["peak_mb"] > 0
    assert good["metrics"]["seed plus one"]["value"] == 4  # the seed reached the notebook
    assert good["metrics"]["seed plus one"]["passed"] is True
    assert "broken on purpose" in bad["error"] and bad["metrics"] == {}
    with pytest.raises(SystemExit, match="no notebook matches"):
        bench.bench_notebooks(["missing"], "fast", "t", folder=tmp_path)


def test_a_metric_without_a_floor_is_shown_as_information():
    assert bench._fmt_metric("training time (s)", {"value": 4.5}) == "ℹ️ training time (s) = 4.5"
    assert bench._fmt_metric("FD", {"value": 16.0, "at_most": 15, "passed": False}) == "❌ FD = 16 (≤ 15)"


def test_a_bar_in_a_metric_name_does_not_split_the_table_cell(tmp_path):
    run = _summary(0, 9.0)
    run["notebooks"][0]["metrics"] = {"largest |ours − torch|": run["notebooks"][0]["metrics"]["FD"]}
    merged = bench.merge_seeds([run])
    merged["tag"] = "bars"
    row = bench.write_report(merged, tmp_path)[1].read_text().splitlines()[-1]
    assert "largest \\|ours − torch\\|" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 5   # the table's own 4 cells: 5 bars
