"""The VAE lab's equal-budget recipes (aigc_course/recipes/vae.py) at a tiny budget."""

import math

import pytest
import torch

from aigc_course.models.vae import MLPVAE, vae_step
from aigc_course.recipes import vae as R
from aigc_course.recipes.base import run_recipe
from aigc_course.train import fit


@pytest.fixture(scope="module")
def data():
    return R.LAB.load_data(0)


def _params(state):
    return [p.detach().clone() for p in state["model"].parameters()]


def test_lab_definition():
    assert R.LAB.key == "vae" and R.LAB.notebook == "09_vae_lab" and R.LAB.lower_is_better
    assert 0 < R.LAB.budget_s <= 60
    assert R.LAB.recipes[0].name == "ours" and len(R.LAB.recipes) == 3
    assert all(r.notes and r.source for r in R.LAB.recipes)


@pytest.mark.parametrize("recipe", R.LAB.recipes, ids=lambda r: r.name)
def test_recipe_runs_and_learns(recipe, data):
    out = run_recipe(R.LAB, recipe, seed=0, budget_s=5.0, data=data, max_steps=3)
    assert out["steps"] == 3 and math.isfinite(out["metric"]) and out["metric"] > 0
    state = recipe.setup(data, 0)
    before = _params(state)
    recipe.train_step(state)
    assert any(not torch.equal(a, b) for a, b in zip(before, state["model"].parameters()))
    assert recipe.evaluate(state, data) == pytest.approx(recipe.evaluate(state, data))  # fixed seed


@pytest.mark.parametrize("recipe", R.LAB.recipes, ids=lambda r: r.name)
def test_setup_is_deterministic(recipe, data):
    a, b = recipe.setup(data, 1), recipe.setup(data, 1)
    assert all(torch.equal(x, y) for x, y in zip(a["model"].parameters(), b["model"].parameters()))
    c = recipe.setup(data, 2)
    assert any(not torch.equal(x, y) for x, y in zip(a["model"].parameters(), c["model"].parameters()))


def test_documented_hyperparameters(data):
    ours, theirs = R.setup_ours(data, 0), R.setup_theirs(data, 0)
    og, tg = ours["optimizer"].param_groups[0], theirs["optimizer"].param_groups[0]
    assert isinstance(ours["optimizer"], torch.optim.Adam) and isinstance(theirs["optimizer"], torch.optim.Adam)
    assert og["lr"] == 3e-3 and og["betas"] == (0.9, 0.999) and og["eps"] == 1e-8
    assert tg["lr"] == 1e-3 and tg["betas"] == (0.9, 0.999) and tg["eps"] == 1e-7   # Keras' defaults
    assert ours["loader"].batch_size == theirs["loader"].batch_size == 128
    om, tm = ours["model"], theirs["model"]
    assert isinstance(om, MLPVAE) and om.latent_dim == 8
    assert sum(p.numel() for p in om.parameters()) == 171_088           # MLPVAE(8, hidden 256)
    assert isinstance(tm, R.KerasIOConvVAE) and tm.latent_dim == 2
    convs = [m for m in tm.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(32, (3, 3), (2, 2)), (64, (3, 3), (2, 2))]
    assert [m.out_features for m in tm.encoder if isinstance(m, torch.nn.Linear)] == [16, 4]
    deconvs = [m for m in tm.decoder if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(d.out_channels, d.stride) for d in deconvs] == [(64, (2, 2)), (32, (2, 2)), (1, (1, 1))]
    x = data.test.x[:5]
    mu, logvar = tm.encode(x)
    assert mu.shape == logvar.shape == (5, 2) and tm.decode(mu).shape == (5, 1, 8, 8)


def test_ours_cosine_follows_the_clock(data):
    state = R.setup_ours(data, 0)
    R._train_step(state)
    assert state["optimizer"].param_groups[0]["lr"] == pytest.approx(3e-3)
    state["trained_s"], state["batches"] = state["horizon_s"] / 2, iter(())   # next step starts an epoch
    R._train_step(state)
    assert state["optimizer"].param_groups[0]["lr"] == pytest.approx(1.5e-3)
    state["trained_s"], state["batches"] = 2 * state["horizon_s"], iter(())
    R._train_step(state)
    assert state["optimizer"].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_ours_is_the_labs_fit_step_for_step(data):
    """At a constant lr (no clock), ours takes exactly fit's steps: same batches, same updates."""
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=8, hidden=256)
    fit(model, data.train, optimizer=torch.optim.Adam(model.parameters(), lr=3e-3), epochs=2,
        batch_size=128, step=vae_step(1.0), seed=0, progress=False, max_steps=12)
    state = R.setup_ours(data, 0)
    state["horizon_s"] = math.inf
    for _ in range(12):                                  # crosses the epoch boundary (10 batches)
        R._train_step(state)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), state["model"].parameters()))


def test_extras_are_the_elbo_parts_and_the_ablation_is_the_latent(data):
    _, theirs, ablation = R.LAB.recipes
    state = ablation.setup(data, 0)
    assert isinstance(state["model"], R.KerasIOConvVAE) and state["model"].latent_dim == 8
    assert theirs.setup(data, 0)["model"].latent_dim == 2
    extras = ablation.extras(state, data)
    assert set(extras) == {"recon", "KL"} and extras["KL"] >= 0
    assert extras["recon"] + extras["KL"] == pytest.approx(ablation.evaluate(state, data))
