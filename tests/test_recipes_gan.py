"""The GAN lab's equal-budget recipes (aigc_course.recipes.gan): tiny runs only."""

import math

import pytest
import torch

import aigc_course as ac
from aigc_course.models.gan import GAN, DCDiscriminator, DCGenerator, gan_step, make_optimizers
from aigc_course.recipes import gan
from aigc_course.recipes.base import run_recipe


@pytest.fixture(scope="module")
def data():
    return gan.LAB.load_data(0)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


def test_lab_definition():
    lab = gan.LAB
    assert lab.key == "gan" and lab.notebook == "08_gan_lab" and lab.lower_is_better
    assert 0 < lab.budget_s <= 60
    assert len(lab.recipes) == 3 and lab.recipes[0].name == "ours"
    assert all(r.notes and r.source for r in lab.recipes)


def test_both_recipes_run_and_learn(data):
    for recipe in gan.LAB.recipes:
        state = recipe.setup(data, 0)
        nets = [state["model"].generator, state["model"].discriminator] if recipe.name == "ours" \
            else [state["G"], state["D"]]
        before = [_params(n) for n in nets]
        recipe.train_step(state)
        assert all(_changed(b, n) for b, n in zip(before, nets)), recipe.name
        out = run_recipe(gan.LAB, recipe, 0, 5.0, data=data, max_steps=2)
        assert out["steps"] == 2 and math.isfinite(out["metric"]) and out["metric"] > 0


def test_setup_is_deterministic(data):
    for recipe in gan.LAB.recipes:
        states = []
        for _ in range(2):  # setup seeds the global RNG, which the steps' noise is drawn from
            states.append(recipe.setup(data, 3))
            recipe.train_step(states[-1])
        a, b = states
        key = "model" if recipe.name == "ours" else "G"
        assert all(torch.equal(p, q) for p, q in zip(a[key].parameters(), b[key].parameters()))


def test_ours_is_the_notebooks_conditional_dcgan(data):
    """Two steps of the recipe = two steps of the notebook's fit (same seed, batches, noise)."""
    state = gan.ours_setup(data, 0)
    for _ in range(2):
        gan.ours_train_step(state)
    torch.manual_seed(0)
    cgan = GAN(DCGenerator(latent_dim=32, channels=64, num_classes=10),
               DCDiscriminator(channels=64, num_classes=10), ema=0.99)
    ac.fit(cgan, data.train, optimizer=make_optimizers(cgan, 2e-3, 2e-3, betas=(0.0, 0.9)),
           step=gan_step(r1=1.0), epochs=1, max_steps=2, batch_size=128, seed=0, progress=False,
           device="cpu")
    for p, q in zip(state["model"].parameters(), cgan.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_recipes_differ_in_the_documented_hyper_parameters(data):
    ours, theirs = gan.ours_setup(data, 0), gan.theirs_setup(data, 0)
    for name in ("g", "d"):
        g = ours["optimizers"][name].param_groups[0]
        assert g["lr"] == 2e-3 and g["betas"] == (0.0, 0.9)
    for opt in (theirs["opt_g"], theirs["opt_d"]):
        g = opt.param_groups[0]
        assert isinstance(opt, torch.optim.Adam) and g["lr"] == 2e-4 and g["betas"] == (0.5, 0.999)
    model = ours["model"]
    assert model.latent_dim == 32 and model.ema == 0.99 and model.num_classes == 10
    G, D = theirs["G"], theirs["D"]
    assert G.latent_dim == 100 and G.num_classes == D.num_classes == 10
    # the tutorial's architecture rules: tanh output, BN not on D's input layer, LeakyReLU 0.2
    assert isinstance(G.net[-1], torch.nn.Tanh) and isinstance(D.body[1], torch.nn.LeakyReLU)
    assert D.body[1].negative_slope == 0.2
    assert G(torch.randn(4, 100), torch.arange(4)).shape == (4, 1, 8, 8)
    assert D(torch.zeros(4, 1, 8, 8), torch.arange(4)).shape == (4,)
    # N(0, 0.02) init for the convolutions, N(1, 0.02) for batch norm weights, bias 0
    convs = [m for m in list(G.modules()) + list(D.modules()) if "Conv" in type(m).__name__]
    assert all(m.bias is None and m.weight.std() < 0.03 for m in convs)
    bn = G.net[1]
    assert abs(bn.weight.mean() - 1) < 0.01 and torch.all(bn.bias == 0)
    assert sum(p.numel() for p in G.parameters()) != sum(p.numel() for p in model.generator.parameters())


def test_theirs_samples_in_unit_range_and_leaves_bn_state(data):
    state = gan.theirs_setup(data, 0)
    gan.theirs_train_step(state)
    bn = state["G"].net[1]
    mean = bn.running_mean.clone()
    x = gan._theirs_sample(state)(50, 0)
    assert x.shape == (50, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert torch.equal(bn.running_mean, mean) and state["G"].training


@pytest.mark.parametrize("which", [0, 1, 2])
def test_extras_are_class_match_score_precision_recall(data, which):
    recipe = gan.LAB.recipes[which]
    state = recipe.setup(data, 0)
    extras = recipe.extras(state, data)
    assert set(extras) == {"class_match", "IS", "precision", "recall"} and 1 <= extras["IS"] <= 10
    assert all(0 <= extras[k] <= 1 for k in ("class_match", "precision", "recall"))


def test_the_ablation_is_the_tutorial_with_our_adam(data):
    plain, ablation = gan.theirs_setup(data, 0), gan.LAB.recipes[2].setup(data, 0)
    group = ablation["opt_g"].param_groups[0]
    assert (group["lr"], group["betas"]) == (gan.OURS["lr"], gan.OURS["betas"]) == (2e-3, (0.0, 0.9))
    assert plain["opt_g"].param_groups[0]["lr"] == 2e-4
    assert all(torch.equal(a, b) for a, b in zip(plain["G"].parameters(), ablation["G"].parameters()))


def test_digits_extras_see_a_collapse(data):
    """Real digits: high precision and recall; one digit per class repeated: recall collapses."""
    from aigc_course.recipes.base import digits_extras

    x, y = data.train_x[:500], data.train_y[:500]
    real = digits_extras(x, y, data.train_x, data.classifier)
    firsts = torch.stack([x[y == k][0] for k in range(10)])
    copies = firsts.repeat_interleave(50, dim=0)
    collapsed = digits_extras(copies, torch.arange(10).repeat_interleave(50), data.train_x,
                              data.classifier)
    assert real["precision"] > 0.9 and real["recall"] > 0.8
    assert collapsed["class_match"] > 0.9 and collapsed["recall"] < 0.2
