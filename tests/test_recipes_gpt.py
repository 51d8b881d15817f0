"""The Transformer lab's recipes (aigc_course.recipes.gpt): both run, learn, and differ as documented."""

import functools
import math

import pytest
import torch

from aigc_course.recipes import gpt
from aigc_course.recipes.base import Recipe, run_recipe

# nanoGPT's recipe at a size that steps in milliseconds (the published one takes ~15-80 s a step).
TINY_HP = {**gpt.NANOGPT, "n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 64, "batch_size": 4}
TINY_THEIRS = Recipe("tiny nanoGPT", "test", functools.partial(gpt.theirs_setup, hp=TINY_HP),
                     gpt.theirs_step, gpt.evaluate)


@pytest.fixture(scope="module")
def data():
    return gpt.load_data(0)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def _changed(before, model):
    return any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_lab_fields():
    lab = gpt.LAB
    assert lab.key == "gpt" and lab.notebook == "11_transformer_lab" and lab.lower_is_better
    assert 0 < lab.budget_s <= 60
    assert [r.name for r in lab.recipes] == ["ours", "nanoGPT shakespeare_char"]
    assert all(r.notes and r.source for r in lab.recipes)


def test_same_data_for_every_seed(data):
    assert gpt.load_data(1) is data
    assert data.vocab_size == 1024 and data.x_val.shape[1] == 64
    assert torch.equal(data.y_val[:, :-1], data.x_val[:, 1:])


def test_ours_runs_learns_and_is_deterministic(data):
    state = gpt.ours_setup(data, 0)
    before = _params(state.model)
    gpt.ours_step(state)
    assert _changed(before, state.model)
    again = gpt.ours_setup(data, 0)
    assert all(torch.equal(a, b) for a, b in zip(before, again.model.parameters()))
    result = run_recipe(gpt.LAB, gpt.OURS, 0, 30.0, data=data, max_steps=3)
    assert result["steps"] == 3 and math.isfinite(result["metric"])
    assert result["metric"] < math.log(data.vocab_size) + 0.5


def test_ours_schedule_holds_after_its_steps(data):
    state = gpt.ours_setup(data, 0, total_steps=20)
    lrs = []
    for _ in range(23):  # OneCycleLR would raise past total_steps: the last lr is kept
        gpt.ours_step(state)
        lrs.append(state.optimizer.param_groups[0]["lr"])
    assert lrs[-1] == lrs[19] < 1e-4 and max(lrs) == pytest.approx(3e-3, rel=0.05)


def test_theirs_runs_and_learns(data):
    state = TINY_THEIRS.setup(data, 0)
    before = _params(state.model)
    TINY_THEIRS.train_step(state)
    assert _changed(before, state.model)
    assert state.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 / 101)
    result = run_recipe(gpt.LAB, TINY_THEIRS, 0, 30.0, data=data, max_steps=3)
    assert result["steps"] == 3 and math.isfinite(result["metric"])


def test_nanogpt_schedule():
    lr = gpt.nanogpt_lr
    assert lr(0) == pytest.approx(1e-3 / 101) and lr(99) == pytest.approx(1e-3 * 100 / 101)
    assert lr(100) == pytest.approx(1e-3)
    assert lr(2550) == pytest.approx(1e-4 + 0.5 * 9e-4)
    assert lr(5000) == pytest.approx(1e-4) and lr(6000) == pytest.approx(1e-4)


def test_recipes_differ_as_documented(data):
    ours = gpt.ours_setup(data, 0)
    theirs = gpt.theirs_setup(data, 0)   # the published size (built, not stepped: too slow here)
    oc, tc = ours.model.cfg, theirs.model.cfg
    assert (oc.n_layer, oc.n_head, oc.n_embd, oc.n_ctx, oc.dropout) == (2, 4, 128, 64, 0.0)
    assert (tc.n_layer, tc.n_head, tc.n_embd, tc.n_ctx, tc.dropout) == (6, 6, 384, 256, 0.2)
    assert tc.vocab_size == oc.vocab_size == data.vocab_size
    (og,) = ours.optimizer.param_groups
    # OneCycleLR cycles beta1 between 0.95 and 0.85 (its default, as in the notebook); beta2 stays
    assert og["betas"] == (0.95, 0.99) and og["weight_decay"] == 0.01
    assert (ours.schedule.cycle_momentum, og["base_momentum"], og["max_momentum"]) == (True, 0.85, 0.95)
    assert og["max_lr"] == 3e-3 and ours.schedule.total_steps == 500
    assert ours.loader.batch_size == 32
    decay, no_decay = theirs.optimizer.param_groups
    assert decay["betas"] == no_decay["betas"] == (0.9, 0.99)
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.1, 0.0)
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    n = sum(len(g["params"]) for g in theirs.optimizer.param_groups)
    assert n == len(list(theirs.model.parameters()))   # every parameter once (tied matrix too)
    assert theirs.hp["batch_size"] == 64 and theirs.hp["grad_clip"] == 1.0
    assert (theirs.hp["warmup_iters"], theirs.hp["lr_decay_iters"], theirs.hp["min_lr"]) == (100, 5000, 1e-4)
