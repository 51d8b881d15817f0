"""The char-LSTM lab's recipes (``aigc_course.recipes.lstm``) at a tiny budget."""

import math

import pytest
import torch

from aigc_course.models.rnn import CharLSTM, tbptt_step
from aigc_course.recipes import lstm
from aigc_course.recipes.base import run_recipe
from aigc_course.train import fit


@pytest.fixture(scope="module")
def data():
    return lstm.LAB.load_data(0)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_lab_fields():
    lab = lstm.LAB
    assert (lab.key, lab.notebook, lab.lower_is_better) == ("lstm", "06_lstm_text_generation", True)
    assert 0 < lab.budget_s <= 60
    assert [r.name for r in lab.recipes] == ["ours", "char-rnn", "char-rnn, our Adam"]
    assert all(r.notes and r.source for r in lab.recipes)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_recipe_runs_and_learns(data, index):
    recipe = lstm.LAB.recipes[index]
    out = run_recipe(lstm.LAB, recipe, 0, 60.0, data=data, max_steps=1)
    assert out["steps"] == 1 and out["recipe"] == recipe.name
    assert math.isfinite(out["metric"]) and 0 < out["metric"] < math.log2(len(data.vocab)) + 1
    state = recipe.setup(data, 0)
    before = _params(state.model)
    recipe.train_step(state)
    assert any(not torch.equal(a, b) for a, b in zip(before, state.model.parameters()))


def test_ours_is_the_notebooks_fit(data):
    """Two wall-clock steps of ``ours`` equal two steps of the notebook's ``fit`` call."""
    a, b = lstm.setup_ours(data, 0), lstm.setup_ours(data, 0)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    for _ in range(2):
        lstm.train_step_ours(a)
    fit(b.model, b.batches, optimizer=b.optimizer, step=tbptt_step(len(b.batches), grad_clip=1.0),
        epochs=1, max_steps=2, seed=0, device="cpu")
    assert all(torch.allclose(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


def test_documented_hyper_parameters(data):
    ours, theirs = lstm.setup_ours(data, 0), lstm.setup_char_rnn(data, 0)
    v = len(data.vocab)
    # ours: the notebook's CharLSTM(V, 64, 256), Adam lr 5e-3, batches 64 × 64, norm clip 1
    assert isinstance(ours.model, CharLSTM) and isinstance(ours.optimizer, torch.optim.Adam)
    assert ours.model.embed.embedding_dim == 64
    assert (ours.model.lstm.hidden_size, ours.model.lstm.num_layers) == (256, 1)
    assert ours.optimizer.param_groups[0]["lr"] == 5e-3
    assert ours.optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    assert tuple(ours.batches[0][0].shape) == (64, 64) and ours.step.grad_clip == 1.0
    # char-rnn: one-hot input, 2 × 128 LSTM, RMSprop lr 2e-3 alpha 0.95, batches 50 × 50
    m = theirs.model
    assert isinstance(m, lstm.OneHotLSTM) and not any(isinstance(x, torch.nn.Embedding) for x in m.modules())
    assert (m.lstm.input_size, m.lstm.hidden_size, m.lstm.num_layers) == (v, 128, 2)
    assert m.lstm.dropout == 0.0
    group = theirs.optimizer.param_groups[0]
    assert isinstance(theirs.optimizer, torch.optim.RMSprop)
    assert (group["lr"], group["alpha"], group["eps"]) == (2e-3, 0.95, 1e-8)
    assert tuple(theirs.batches[0][0].shape) == (50, 50)
    assert len(theirs.batches) == 173
    for k in range(2):  # init U(±0.08), forget-gate biases of the input maps at 1
        bias = getattr(m.lstm, f"bias_ih_l{k}")
        assert torch.all(bias[128:256] == 1.0)
        assert float(getattr(m.lstm, f"weight_hh_l{k}").detach().abs().max()) <= 0.08
    assert sum(p.numel() for p in m.parameters()) < sum(p.numel() for p in ours.model.parameters())


def test_char_rnn_clamps_and_decays(data):
    """Gradients clamped element-wise to ±5; lr × 0.97 at the end of epochs 10, 11, ..."""
    state = lstm.setup_char_rnn(data, 0)
    state.batches = state.batches[:1]  # one-batch epochs
    for _ in range(11):
        lstm.train_step_char_rnn(state)
    assert max(float(p.grad.abs().max()) for p in state.model.parameters()) <= 5.0
    assert state.optimizer.param_groups[0]["lr"] == pytest.approx(2e-3 * 0.97 ** 2)


def test_setup_is_deterministic(data):
    a, b = lstm.setup_char_rnn(data, 3), lstm.setup_char_rnn(data, 3)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
    c = lstm.setup_char_rnn(data, 4)
    assert not all(torch.equal(p, q) for p, q in zip(a.model.parameters(), c.model.parameters()))


def test_the_ablation_is_char_rnn_with_our_adam(data):
    plain, ablation = lstm.setup_char_rnn(data, 0), lstm.LAB.recipes[2].setup(data, 0)
    assert isinstance(plain.optimizer, torch.optim.RMSprop)
    assert isinstance(ablation.optimizer, torch.optim.Adam)
    assert ablation.optimizer.param_groups[0]["lr"] == lstm.OURS["lr"] == 5e-3
    assert all(torch.equal(a, b) for a, b in zip(plain.model.parameters(), ablation.model.parameters()))
