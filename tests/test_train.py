"""Tests of the shared training loop `fit`: results, resume, custom steps, errors."""

import pytest
import torch
from torch import nn

from aigc_course.data import load_digits
from aigc_course.train import (
    Callback,
    History,
    every,
    fit,
    load_checkpoint,
    make_loader,
    save_checkpoint,
    supervised_step,
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


MISUSE = [  # (fit arguments, error, message)
    ({"epochs": 0}, ValueError, "epochs must be an int >= 1, got 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
    ({"grad_clip": -1}, ValueError, r"grad_clip must be in \(0, inf\], got -1"),
    ({"max_steps": 0}, ValueError, "max_steps must be an int >= 1, got 0"),
    ({"max_steps": -3}, ValueError, "max_steps must be an int >= 1, got -3"),
    ({"checkpoint_every": -5}, ValueError, "checkpoint_every must be an int >= 1, got -5"),
    ({"checkpoint_every": 5}, ValueError, "checkpoint_every=5 needs checkpoint='some/folder'"),
    ({"optimizer": "adam"}, TypeError, "optimizer must be a torch.optim.Optimizer .* str 'adam'"),
    ({"device": "gpu"}, ValueError, "device must be e.g. 'cpu', 'cuda', .* got 'gpu'"),
    ({"seed": "a"}, TypeError, "seed must be an int, got str 'a'"),
    ({"progress": 1}, TypeError, "progress must be True or False, got 1"),
    ({"scheduler_interval": "batch"}, ValueError, r"scheduler_interval must be one of \('epoch', "),
    ({"on_nan": "ignore"}, ValueError, r"on_nan must be one of \('raise', 'warn'\)"),
    ({"callbacks": print}, TypeError, "callbacks must be a list"),
    ({"callbacks": [3]}, TypeError, "each callback must be a Callback or a function, got int"),
    ({"val_data": []}, ValueError, r"val_data is empty \(0 batches\)"),
    ({"val_data": (torch.zeros(0, 64), torch.zeros(0))}, ValueError, "val_data is empty"),
    ({"data": []}, ValueError, r"data is empty \(0 batches\)"),
    ({"data": {"x": 1}}, TypeError, "data must be a DataLoader, .* got dict"),
    ({"data": iter([(torch.zeros(2, 64), torch.zeros(2).long())]), "epochs": 3}, ValueError,
     "data is an iterator .* read only once, but epochs=3"),
    ({"data": iter([])}, ValueError, "data gave no batches in epoch 1"),
    ({"data": [{"x": torch.zeros(2, 64), "y": torch.zeros(2).long()}]}, TypeError,
     r"expect \(x, y\) batches, got a dict with keys \['x', 'y'\]"),
    ({"step": supervised_step(), "loss_fn": nn.functional.mse_loss}, ValueError,
     "only with the default step"),
]


@pytest.mark.parametrize("kwargs,error,message", MISUSE, ids=[m[2][:32] for m in MISUSE])
def test_fit_misuse_raises_a_clear_error(digits, kwargs, error, message):
    model, _ = make_model()
    kwargs = {"device": "cpu", "progress": False, **kwargs}
    data = kwargs.pop("data", digits.train)
    with pytest.raises(error, match=message):
        fit(model, data, **kwargs)


def test_more_bad_input():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fit("model", [])
    with pytest.raises(TypeError, match="data must be a DataLoader"):
        make_loader(42)
    with pytest.raises(ValueError, match="different lengths"):
        make_loader((torch.zeros(3, 2), torch.zeros(4)))
    with pytest.raises(ValueError, match=r"data is empty \(0 examples\)"):
        make_loader((torch.zeros(0, 2), torch.zeros(0)))
    with pytest.raises(ValueError, match="n_steps must be an int >= 1"):
        every(0, print)


def test_a_nan_loss_stops_at_its_step_with_a_hint(digits):
    x = digits.train.x.clone()
    x[5] = float("nan")
    model, opt = make_model()
    message = r"loss is nan at step \d+ \(epoch 1, batch \d+\)\. Try a lower .* on_nan='warn'"
    with pytest.raises(FloatingPointError, match=message):
        fit(model, (x, digits.train.y), optimizer=opt, epochs=2, device="cpu", progress=False)
    model, opt = make_model()
    with pytest.warns(RuntimeWarning, match="loss is nan at step"):
        h = fit(model, (x, digits.train.y), optimizer=opt, epochs=2, device="cpu", progress=False,
                on_nan="warn")
    assert len(h.steps) == 40


def test_callback_events_and_one_epoch_numbering(digits):
    events = []

    class Recorder(Callback):
        def on_step_end(self, state):
            events.append(("step", state.epoch, state.batch, state.step))

        def on_epoch_end(self, state):
            events.append(("epoch", state.epoch, state.batch, state.step))

    plain, stepped = [], []
    model, opt = make_model()
    fit(model, digits.train, optimizer=opt, epochs=2, device="cpu", progress=False,
        callbacks=[Recorder(), lambda s: plain.append(s.epoch), every(15, lambda s: stepped.append(
            (s.epoch, s.step, round(s.logs["loss"], 6) == round(s.history.last("loss"), 6))))])
    assert events[0] == ("step", 1, 1, 1) and events[19] == ("step", 1, 20, 20)
    assert events[20] == ("epoch", 1, 20, 20) and events[21] == ("step", 2, 1, 21)
    assert events[-1] == ("epoch", 2, 20, 40) and len(events) == 42
    assert plain == [1, 2] and stepped == [(1, 15, True), (2, 30, True)]


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_scheduler_interval(digits, interval):
    model, opt = make_model()
    decay = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    lrs = []
    fit(model, digits.train, optimizer=opt, epochs=2, device="cpu", progress=False,
        scheduler=decay, scheduler_interval=interval,
        callbacks=[every(1, lambda s: lrs.append(opt.param_groups[0]["lr"]))])
    expected = [1e-2 * 0.5 ** i for i in range(1, 41)] if interval == "step" \
        else [1e-2] * 20 + [5e-3] * 20
    assert lrs == pytest.approx(expected)


def test_gan_sample_leaves_the_model_unchanged():
    """sample() refreshes the EMA batch-norm statistics on a copy, never in the model."""
    import copy

    from aigc_course.models import gan as G

    torch.manual_seed(0)
    gan = G.GAN(G.DCGenerator(latent_dim=8, channels=8), G.DCDiscriminator(8), ema=0.5)
    with torch.no_grad():
        for p in gan.generator.parameters():
            p.mul_(3.0).add_(0.5)
    gan.generator(torch.randn(256, 8))
    gan.update_ema()
    before = {k: v.clone() for k, v in gan.state_dict().items()}
    rng = torch.get_rng_state()
    images = gan.sample(6, seed=0)
    assert torch.equal(rng, torch.get_rng_state())
    for k, v in gan.state_dict().items():
        assert torch.equal(v, before[k]), k
    explicit = copy.deepcopy(gan)
    explicit.refresh_ema_batch_norm()  # the documented, in-place way
    assert torch.equal(images, explicit.sample(6, seed=0))
    stale = gan.generator_ema.eval()(explicit.noise(6, torch.Generator().manual_seed(0)))
    assert not torch.allclose(images, stale, atol=1e-3)  # the copy did re-estimate them
    assert torch.equal(gan.sample(6, seed=0), images)  # cached copy, same images


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
