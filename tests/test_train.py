"""Tests of the shared training loop `fit`: results, resume, custom steps, errors."""

import pytest
import torch
from torch import nn

from aigc_course.data import load_digits
from aigc_course.train import (
    History, every, fit, load_checkpoint, make_loader, save_checkpoint, supervised_step,
)


def make_model(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_fit_learns_and_logs(digits):
    model, opt = make_model()
    h = fit(model, digits.train, optimizer=opt, epochs=5, val_data=digits.val, device="cpu", progress=False)
    assert len(h.steps) == 5 * 20 and len(h.epochs) == 5
    assert h["loss"][-1] < h["loss"][0] / 3
    assert h.last("val_accuracy") > 0.85
    assert h.epochs[-1]["epoch"] == 5 and h.seconds > 0


def test_same_seed_same_result(digits):
    runs = []
    for _ in range(2):
        model, opt = make_model()
        fit(model, digits.train, optimizer=opt, epochs=2, device="cpu", progress=False, seed=5)
        runs.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(*runs)


@pytest.mark.parametrize("stop_at", [7, 20, 33])  # mid-epoch, at an epoch boundary, after a checkpoint
def test_interrupted_training_resumes_exactly(digits, tmp_path, stop_at):
    model, opt = make_model()
    reference = fit(model, digits.train, optimizer=opt, epochs=3, device="cpu", progress=False)
    ref_params = [p.detach().clone() for p in model.parameters()]

    def interrupt(state):
        if state.step == stop_at:
            raise KeyboardInterrupt

    model, opt = make_model()
    with pytest.raises(KeyboardInterrupt):
        fit(model, digits.train, optimizer=opt, epochs=3, device="cpu", progress=False,
            checkpoint=tmp_path, checkpoint_every=10, callbacks=[every(1, interrupt)])
    model, opt = make_model(seed=99)  # a fresh process would start from other weights
    resumed = fit(model, digits.train, optimizer=opt, epochs=3, device="cpu", progress=False,
                  checkpoint=tmp_path)
    for p, q in zip(ref_params, model.parameters()):
        assert torch.equal(p, q)
    assert resumed["loss"] == reference["loss"]


def test_resume_extends_a_finished_run(digits, tmp_path):
    model, opt = make_model()
    fit(model, digits.train, optimizer=opt, epochs=4, device="cpu", progress=False)
    full = [p.detach().clone() for p in model.parameters()]
    model, opt = make_model()
    fit(model, digits.train, optimizer=opt, epochs=2, device="cpu", progress=False, checkpoint=tmp_path)
    model, opt = make_model()
    h = fit(model, digits.train, optimizer=opt, epochs=4, device="cpu", progress=False, checkpoint=tmp_path)
    assert len(h.epochs) == 4
    for p, q in zip(full, model.parameters()):
        assert torch.equal(p, q)


def test_max_steps_and_per_epoch_callbacks(digits):
    seen = []
    model, opt = make_model()
    h = fit(model, digits.train, optimizer=opt, epochs=10, max_steps=45, device="cpu", progress=False,
            callbacks=[lambda s: seen.append((s.epoch, s.step))])
    assert len(h.steps) == 45 and seen == [(1, 20), (2, 40)]


def test_custom_step_with_two_optimizers(digits):
    """The hook a GAN uses: one model container, a dict of optimizers, a step of its own."""
    torch.manual_seed(0)
    pair = nn.ModuleDict({"a": nn.Linear(64, 1), "b": nn.Linear(64, 1)})
    opts = {"a": torch.optim.SGD(pair["a"].parameters(), lr=0.01),
            "b": torch.optim.SGD(pair["b"].parameters(), lr=0.01)}
    calls = []

    def step(model, batch, optimizers):
        x, _ = batch
        x = x.flatten(1)
        logs = {}
        for name in ("a", "b"):
            loss = model[name](x).pow(2).mean()
            optimizers[name].zero_grad()
            loss.backward()
            optimizers[name].step()
            logs[f"loss_{name}"] = loss
        calls.append(1)
        return logs

    h = fit(pair, digits.train, optimizer=opts, step=step, epochs=2, device="cpu", progress=False)
    assert len(calls) == 40 and h["loss_a"][-1] < h["loss_a"][0]
    assert set(h.epochs[-1]) == {"epoch", "loss_a", "loss_b"}


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    model, opt = make_model()
    save_checkpoint(tmp_path, model, opt, epoch=2, batch_in_epoch=3, step=43, history=History())
    other, other_opt = make_model(seed=1)
    state = load_checkpoint(tmp_path, other, other_opt)
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (2, 3, 43)
    for p, q in zip(model.parameters(), other.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match=r"checkpoint has optimizers \['optimizer'\], but fit got \['d', 'g'\]"):
        load_checkpoint(tmp_path, other, {"g": other_opt, "d": other_opt})
    with pytest.raises(FileNotFoundError, match="no checkpoint in"):
        load_checkpoint(tmp_path / "empty", other, other_opt)


def test_fit_bad_input(digits):
    model, _ = make_model()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fit("model", digits.train)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(model, digits.train, epochs=0)
    with pytest.raises(ValueError, match="checkpoint_every must be a positive int"):
        fit(model, digits.train, checkpoint_every=-5)
    with pytest.raises(ValueError, match="only with the default step"):
        fit(model, digits.train, step=supervised_step(), loss_fn=nn.functional.mse_loss)
    with pytest.raises(TypeError, match="data must be a DataLoader"):
        make_loader(42)
    with pytest.raises(ValueError, match="different lengths"):
        make_loader((torch.zeros(3, 2), torch.zeros(4)))
    with pytest.raises(ValueError, match="training data is empty"):
        make_loader((torch.zeros(0, 2), torch.zeros(0)))
    with pytest.raises(ValueError, match="n_steps must be a positive int"):
        every(0, print)


def test_regression_with_mse_has_no_accuracy():
    torch.manual_seed(0)
    x = torch.randn(256, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    model = nn.Linear(3, 1)
    h = fit(model, (x, y), val_data=(x, y), loss_fn=nn.functional.mse_loss, epochs=30,
            optimizer=torch.optim.Adam(model.parameters(), lr=0.05), device="cpu", progress=False)
    assert h.last("val_loss") < 1e-3 and "val_accuracy" not in h.epochs[-1]


def test_tensor_batches_match_a_shuffled_dataloader_batch_for_batch():
    from torch.utils.data import DataLoader, TensorDataset

    from aigc_course.train import TensorBatches

    x, y = torch.randn(70, 3), torch.arange(70)
    ours = make_loader((x, y), batch_size=16)
    assert isinstance(ours, TensorBatches) and len(ours) == 5
    reference = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=torch.Generator())
    for epoch in range(2):
        ours.generator.manual_seed(epoch)
        reference.generator.manual_seed(epoch)
        pairs = list(zip(ours, reference, strict=True))
        for (xa, ya), (xb, yb) in pairs:
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    in_order = make_loader((x, y), batch_size=32, shuffle=False)
    assert torch.equal(torch.cat([b[1] for b in in_order]), y)
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatches((x,), batch_size=0)
