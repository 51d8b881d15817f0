"""The equal-budget runner (``run_recipe``) and ``bench recipes``, on a tiny fake lab: a linear
regression trained by two recipes that differ in their learning rate."""

import json
import sys
import time

import pytest
import torch

from aigc_course import bench
from aigc_course.recipes import report
from aigc_course.recipes.base import Lab, Recipe, run_recipe

STEP_S = 0.01   # each training step sleeps this long, so that the budget is reached in few steps
EVAL_S = 0.05   # each evaluation sleeps this long: it must not count as training time


def _data(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 4, generator=g)
    return x, x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(256, generator=g)


def _recipe(name, lr, step_s=STEP_S, eval_s=0.0):
    def setup(data, seed):
        model = torch.nn.Linear(4, 1)  # initialised from torch's generator, seeded by run_recipe
        return {"model": model, "opt": torch.optim.SGD(model.parameters(), lr=lr), "data": data}

    def train_step(state):
        x, y = state["data"]
        idx = torch.randint(0, 256, (32,))  # random batches: the seed must fix them
        loss = torch.nn.functional.mse_loss(state["model"](x[idx]).squeeze(1), y[idx])
        state["opt"].zero_grad()
        loss.backward()
        state["opt"].step()
        time.sleep(step_s)

    def evaluate(state, data):
        torch.randn(1000)  # evaluation draws random numbers: they must not change the training
        time.sleep(eval_s)
        x, y = data
        with torch.no_grad():
            return torch.nn.functional.mse_loss(state["model"](x).squeeze(1), y).item()

    return Recipe(name, f"{name}'s tutorial", setup, train_step, evaluate, notes=f"SGD lr {lr}")


def _lab(key="toy", budget_s=0.5, eval_s=0.0, loads=None, names=("ours", "theirs | v2")):
    def load_data(seed):
        if loads is not None:
            loads.append(seed)
        return _data(seed)

    return Lab(key=key, notebook="00_toy_lab", metric="MSE |y − ŷ|²", lower_is_better=True,
               budget_s=budget_s, load_data=load_data,
               recipes=[_recipe(names[0], 0.1, eval_s=eval_s), _recipe(names[1], 0.01, eval_s=eval_s)])


def test_the_budget_counts_training_time_only():
    lab = _lab(eval_s=EVAL_S)
    r = run_recipe(lab, lab.recipes[0], seed=0, budget_s=0.5, curve_points=4)
    # at least the budget, less than the budget plus one step (with room for a busy machine)
    assert 0.5 <= r["train_s"] < 0.5 + STEP_S + 0.05
    assert 5 <= r["steps"] <= 0.5 / STEP_S + 1
    # five evaluations (four points and the end) of EVAL_S each: not in train_s, in eval_s
    assert len(r["curve"]) == 5 and r["eval_s"] >= 5 * EVAL_S
    assert r["wall_s"] >= r["train_s"] + 5 * EVAL_S
    times = [t for t, _ in r["curve"]]
    assert times == sorted(times) and times[-1] == r["train_s"]
    assert all(t >= 0.5 * (k + 1) / 5 for k, t in enumerate(times[:-1]))  # after each mark
    assert r["curve"][-1][1] == r["metric"] and r["curve"][0][1] > r["metric"]  # it learns


def test_same_seed_same_result_and_max_steps():
    lab = _lab()
    a = run_recipe(lab, lab.recipes[0], seed=3, budget_s=60, max_steps=7)
    b = run_recipe(lab, lab.recipes[0], seed=3, budget_s=60, max_steps=7)
    c = run_recipe(lab, lab.recipes[0], seed=4, budget_s=60, max_steps=7)
    assert a["steps"] == 7 and a["train_s"] < 5
    assert a["metric"] == b["metric"] and a["metric"] != c["metric"]
    assert len(a["curve"]) == 1  # the budget's marks were never reached: only the end


def test_evaluations_do_not_change_the_training():
    lab = _lab()
    with_curve = run_recipe(lab, lab.recipes[0], seed=1, budget_s=0.2, curve_points=5)
    without = run_recipe(lab, lab.recipes[0], seed=1, budget_s=60, max_steps=with_curve["steps"])
    assert with_curve["metric"] == without["metric"]


def test_extras_are_measured_once_at_the_end_outside_the_budget(tmp_path):
    lab = _lab()
    calls = []

    def extras(state, data):
        calls.append(1)
        time.sleep(EVAL_S)
        return {"weight_norm": state["model"].weight.norm().item()}

    lab.recipes[0].extras = extras
    r = run_recipe(lab, lab.recipes[0], seed=0, budget_s=0.2, curve_points=3)
    assert calls == [1] and set(r["extras"]) == {"weight_norm"}
    assert r["eval_s"] >= EVAL_S and r["train_s"] < 0.2 + STEP_S + 0.05
    assert run_recipe(lab, lab.recipes[1], seed=0, budget_s=0.05)["extras"] == {}
    summary = {"tag": "t", "machine": "m", "python": "3", "torch": "2", "threads": 1,
               "date": "d", "budget_scale": 1, "seeds": [0], "total_seconds": 1.0,
               "labs": [{"key": lab.key, "notebook": lab.notebook, "metric": lab.metric,
                         "lower_is_better": True, "budget_s": 0.2,
                         "recipes": [{"name": x.name, "source": x.source, "notes": x.notes}
                                     for x in lab.recipes]}],
               "runs": [{"lab": lab.key, **r, "error": None}], "skipped": []}
    table = report.write_recipes_report(summary, tmp_path)[1].read_text()
    assert f"weight norm {r['extras']['weight_norm']:.3g}" in table


def test_a_bad_budget_or_step_limit_raises():
    lab = _lab()
    for budget in (0, -1.0):
        with pytest.raises(ValueError, match="budget_s must be positive"):
            run_recipe(lab, lab.recipes[0], seed=0, budget_s=budget)
    with pytest.raises(ValueError, match="max_steps"):
        run_recipe(lab, lab.recipes[0], seed=0, budget_s=1, max_steps=0)


def test_recipes_command_writes_json_md_and_png(tmp_path, monkeypatch, capsys):
    loads = []
    labs = {"gan": _lab("gan", budget_s=0.05, loads=loads),
            "lstm": _lab("lstm", budget_s=0.05, names=("ours", "theirs"))}
    monkeypatch.setattr(report, "load_lab", lambda key: labs.get(key))
    code = bench.main(["recipes", "--labs", "gan", "lstm", "--seeds", "0", "1", "2",
                       "--budget-scale", "2", "--out", str(tmp_path), "--tag", "t"])
    out = capsys.readouterr().out
    assert code == 0
    assert loads == [0, 1, 2]  # the data is loaded once per seed, for both recipes
    assert out.count(" steps in ") == 12 and "wrote" in out

    summary = json.loads((tmp_path / "t.json").read_text())
    assert summary["threads"] == torch.get_num_threads() and summary["budget_scale"] == 2
    assert {"machine", "torch", "date", "total_seconds"} <= summary.keys()
    assert len(summary["runs"]) == 12
    assert all(r["steal"] is None or 0 <= r["steal"] <= 1 for r in summary["runs"])
    for run in summary["runs"]:
        assert 0.1 <= run["train_s"] < 0.1 + STEP_S + 0.05   # budget 0.05 s × scale 2
        # a point after each of the 8 marks (a step longer than their spacing passes several
        # at once: one point for them) and at the end
        assert 4 <= len(run["curve"]) <= report.CURVE_POINTS + 1
        assert run["curve"][-1] == [run["train_s"], run["metric"]]
    gan = [r for r in summary["comparison"] if r["lab"] == "gan"]
    assert [r["recipe"] for r in gan] == ["ours", "theirs | v2"]
    assert gan[1]["ratio"] == pytest.approx(gan[0]["mean"] / gan[1]["mean"])
    assert gan[1]["ratio"] < 1 and gan[1]["ours_better"]  # lr 0.1 beats lr 0.01 here

    md = (tmp_path / "t.md").read_text()
    assert "lower is better" in md and "seeds 0 / 1 / 2" in md
    assert "theirs \\| v2" in md and "MSE \\|y − ŷ\\|²" in md  # '|' escaped in the table
    assert "**gan** (`00_toy_lab`) · MSE \\|y − ŷ\\|² (lower is better) · budget 0.1 s" in md
    gan_table = md[md.index("**gan**"):md.index("**lstm**")]
    row = next(line for line in gan_table.splitlines() if line.startswith("| theirs"))
    assert f"{gan[1]['ratio']:.3g} (ours better)" in row
    assert " / ".join(f"{v:.4g}" for v in gan[1]["metric"]) in row  # every seed's metric
    assert " / ".join(str(s) for s in gan[1]["steps"]) in row       # and steps reached
    assert (tmp_path / "t.png").stat().st_size > 5000


def test_merge_keeps_each_lab_from_its_latest_run(tmp_path, monkeypatch, capsys):
    labs = {"gan": _lab("gan", budget_s=0.05), "lstm": _lab("lstm", budget_s=0.05)}
    monkeypatch.setattr(report, "load_lab", lambda key: labs.get(key))
    common = ["--seeds", "0", "--out", str(tmp_path)]
    assert bench.main(["recipes", "--labs", "gan", "lstm", "--tag", "a", *common]) == 0
    assert bench.main(["recipes", "--labs", "lstm", "--tag", "b", *common]) == 0
    a, b = (json.loads((tmp_path / f"{t}.json").read_text()) for t in "ab")
    assert bench.main(["recipes", "--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                       "--tag", "m", "--out", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert [lab["key"] for lab in m["labs"]] == ["gan", "lstm"] and m["merged_from"] == ["a", "b"]
    assert [r for r in m["runs"] if r["lab"] == "gan"] == [r for r in a["runs"] if r["lab"] == "gan"]
    assert [r for r in m["runs"] if r["lab"] == "lstm"] == b["runs"]   # b re-measured lstm
    assert m["total_seconds"] == pytest.approx(a["labs"][0]["seconds"] + b["labs"][0]["seconds"], abs=0.11)
    assert "gan " + a["labs"][0]["date"] in (tmp_path / "m.md").read_text()
    b["threads"] += 1
    with pytest.raises(ValueError, match="threads"):
        report.merge_recipes([a, b])


def test_recipes_command_skips_missing_labs(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "aigc_course.recipes.vae", None)  # as if there were none
    assert report.load_lab("vae") is None
    assert "skipping vae: no module aigc_course.recipes.vae" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no lab module found"):
        bench.main(["recipes", "--labs", "vae", "--seeds", "0", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        bench.main(["recipes", "--budget-scale", "0", "--out", str(tmp_path)])


def test_a_failing_recipe_is_reported_and_the_others_run(tmp_path, monkeypatch, capsys):
    lab = _lab("gan", budget_s=0.05)

    def broken(state):
        raise RuntimeError("diverged on purpose")

    lab.recipes[1].train_step = broken
    monkeypatch.setattr(report, "load_lab", lambda key: lab if key == "gan" else None)
    code = bench.main(["recipes", "--labs", "gan", "--seeds", "0", "--out", str(tmp_path)])
    assert code == 1 and "FAILED RuntimeError: diverged on purpose" in capsys.readouterr().out
    md = (tmp_path / "recipes.md").read_text()
    assert "**failed**" in md and "n/a" in md
