"""The diffusion lab's equal-budget recipes (aigc_course/recipes/diffusion.py) at a tiny budget."""

import math

import pytest
import torch

from aigc_course.models.diffusion import Denoiser, NoiseSchedule, diffusion_step
from aigc_course.recipes import diffusion as rd
from aigc_course.recipes.base import run_recipe
from aigc_course.train import fit


@pytest.fixture(scope="module")
def data():
    return rd.LAB.load_data(0)


@pytest.fixture
def quick_eval(monkeypatch):
    """A cheap stand-in for the real evaluation (1,000 samples × 20 DDIM steps)."""
    monkeypatch.setattr(rd, "N_SAMPLES", 50)
    monkeypatch.setattr(rd, "SAMPLE_STEPS", 2)


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_lab_declaration():
    lab = rd.LAB
    assert lab.key == "diffusion" and lab.notebook == "10_diffusion_lab"
    assert lab.lower_is_better and 0 < lab.budget_s <= 60
    assert [r.name for r in lab.recipes] == ["ours", "diffusers train_unconditional"]
    assert all(r.source and r.notes for r in lab.recipes)
    # the metric: 1,000 samples, the lab's DDIM step count, for both recipes
    assert (rd.N_SAMPLES, rd.SAMPLE_STEPS) == (1000, 20)


@pytest.mark.parametrize("recipe", rd.LAB.recipes, ids=lambda r: r.name)
def test_recipe_runs_and_learns(recipe, data, quick_eval):
    torch.manual_seed(0)
    state = recipe.setup(data, 0)
    before = _params(state.model)
    recipe.train_step(state)
    recipe.train_step(state)      # theirs: the first step has lr 0 (warm-up from 0, as published)
    assert not torch.equal(before, _params(state.model))
    result = run_recipe(rd.LAB, recipe, 0, budget_s=30.0, data=data, max_steps=2)
    assert result["steps"] == 2 and math.isfinite(result["metric"]) and result["metric"] >= 0


@pytest.mark.parametrize("recipe", rd.LAB.recipes, ids=lambda r: r.name)
def test_setup_is_deterministic(recipe, data):
    a, b = recipe.setup(data, 3), recipe.setup(data, 3)
    assert torch.equal(_params(a.model), _params(b.model))
    assert not torch.equal(_params(a.model), _params(recipe.setup(data, 4).model))


def test_ours_is_the_labs_fit_run(data):
    """11 steps of ours (over an epoch end: 10 batches of 128) equal the lab's fit call."""
    seed, n = 2, 11
    torch.manual_seed(seed)
    state = rd.OURS.setup(data, seed)
    for _ in range(n):
        rd.OURS.train_step(state)

    torch.manual_seed(seed)
    model = Denoiser(channels=48, blocks=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    lr_decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 120)
    fit(model, data.train, optimizer=optimizer, epochs=120, batch_size=128,
        step=diffusion_step(NoiseSchedule.cosine(200), p_uncond=0.1), scheduler=lr_decay,
        seed=seed, progress=False, max_steps=n)
    assert torch.equal(_params(model), _params(state.model))
    assert state.optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] < 2e-3


def test_documented_hyper_parameters_differ(data):
    ours, theirs = rd.OURS.setup(data, 0), rd.THEIRS.setup(data, 0)
    o, t = ours.optimizer, theirs.optimizer
    assert type(o) is torch.optim.Adam and type(t) is torch.optim.AdamW
    go, gt = o.param_groups[0], t.param_groups[0]
    assert go["initial_lr"] == 2e-3 and go["betas"] == (0.9, 0.999) and go["weight_decay"] == 0
    assert gt["initial_lr"] == 1e-4 and gt["betas"] == (0.95, 0.999)
    assert gt["weight_decay"] == 1e-6 and gt["eps"] == 1e-8
    assert gt["lr"] == 0.0                      # 500 warm-up steps start from 0
    # schedules: cosine T=200 vs Ho et al.'s linear 1e-4 … 0.02 over T=1000
    assert ours.schedule.T == 200 and theirs.schedule.T == 1000
    assert theirs.schedule.betas[0].item() == pytest.approx(1e-4)
    assert theirs.schedule.betas[-1].item() == pytest.approx(0.02)
    assert torch.allclose(ours.schedule.betas, NoiseSchedule.cosine(200).betas)
    # batches and lr horizons: 128 × 120 epochs vs 16 × 100 epochs (79 batches each)
    assert ours.batches.batch_size == 128 and theirs.batches.batch_size == 16
    assert ours.max_epochs == 120 and theirs.scheduler_total == 79 * 100
    # models: the lab's 48-channel 3-block Denoiser vs the (32, 64) UNet2DModel
    n_ours = sum(p.numel() for p in ours.model.parameters())
    n_theirs = sum(p.numel() for p in theirs.model.parameters())
    assert isinstance(ours.model, Denoiser) and len(ours.model.blocks) == 3
    assert ours.model.inp.out_channels == 48
    assert tuple(theirs.model.unet.config.block_out_channels) == (32, 64)
    assert theirs.model.unet.config.num_class_embeds == 11     # the same conditioning as ours
    assert 150_000 < n_ours < 250_000 and 600_000 < n_theirs < 800_000


def test_warmup_and_horizon_of_theirs(data):
    state = rd.THEIRS.setup(data, 0)
    rd.THEIRS.train_step(state)
    assert state.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 / 500)


def test_extras_measure_the_evaluated_samples(data, quick_eval):
    state = rd.OURS.setup(data, 0)
    extras = rd.OURS.extras(state, data)
    assert set(extras) == {"class_match", "IS", "precision", "recall"}
    assert all(0 <= extras[k] <= 1 for k in ("class_match", "precision", "recall"))
