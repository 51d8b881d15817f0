"""Exact resume, or a refusal: the resume matrix of `fit` and its checkpoint format.

Matrix: data source {tensors, seeded DataLoader, in-order DataLoader} × step kind {supervised,
tbptt, wgan-gp, vae warm-up, per-step scheduler} × interruption. Each cell trains 3 epochs of
4 batches (12 steps), is interrupted, resumed in a "fresh process" (new model, new optimizer,
new step object) and must end with exactly the weights and history of the uninterrupted run.
"""

import functools
import json
import re

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aigc_course.models import gan as G
from aigc_course.models import rnn as R
from aigc_course.models import vae as V
from aigc_course.train import every, fit, has_checkpoint, load_checkpoint, supervised_step

EPOCHS, BATCH = 3, 12


def _images(n=48):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def supervised():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))
    g = torch.Generator().manual_seed(1)
    data = (torch.randn(48, 4, generator=g), torch.randint(0, 3, (48,), generator=g))
    return model, data, {"optimizer": torch.optim.Adam(model.parameters(), lr=1e-2)}


def tbptt():
    torch.manual_seed(0)
    model = R.CharLSTM(5, embed_dim=4, hidden_size=6)
    ids = torch.randint(0, 5, (48, 7), generator=torch.Generator().manual_seed(1))
    return model, (ids[:, :-1], ids[:, 1:]), {
        "optimizer": torch.optim.Adam(model.parameters(), lr=1e-2),
        "step": R.tbptt_step(batches_per_epoch=4)}


def wgan_gp():
    torch.manual_seed(0)
    model = G.GAN(G.MLPGenerator(latent_dim=3, hidden=8), G.MLPDiscriminator(hidden=8), ema=0.9)
    return model, (_images(), torch.zeros(48)), {
        "optimizer": G.make_optimizers(model, 1e-3, 1e-3), "step": G.wgan_gp_step(n_critic=3)}


def vae_warmup():
    torch.manual_seed(0)
    model = V.MLPVAE(latent_dim=2, hidden=8)
    return model, (_images(), torch.zeros(48)), {
        "optimizer": torch.optim.Adam(model.parameters(), lr=1e-2),
        "step": V.vae_step(warmup_steps=10)}


def step_scheduler():
    model, data, kwargs = supervised()
    schedule = torch.optim.lr_scheduler.OneCycleLR(kwargs["optimizer"], 0.05, total_steps=12)
    return model, data, {**kwargs, "scheduler": schedule, "scheduler_interval": "step"}


KINDS = {"supervised": supervised, "tbptt": tbptt, "wgan-gp": wgan_gp, "vae warm-up": vae_warmup,
         "per-step scheduler": step_scheduler}


def as_source(data, source):
    if source == "tensors":
        return data
    if source == "in-order DataLoader":  # no generator: each iter() draws from the global RNG
        return DataLoader(TensorDataset(*data), batch_size=BATCH)
    return DataLoader(TensorDataset(*data), batch_size=BATCH, shuffle=True,
                      generator=torch.Generator())


def train(kind, source, **extra):
    model, data, kwargs = KINDS[kind]()
    h = fit(model, as_source(data, source), batch_size=BATCH, epochs=EPOCHS, device="cpu",
            progress=False, **kwargs, **extra)
    return model, h


@functools.cache
def reference(kind, source):
    model, h = train(kind, source)
    return {k: v.clone() for k, v in model.state_dict().items()}, h


def stop_at(n, error):
    def stop(state):
        if state.step == n:
            raise error
    return every(1, stop)


# (how, step): KeyboardInterrupt saves at that step; a crash keeps the last periodic checkpoint
INTERRUPTIONS = [("interrupt", 3), ("interrupt", 4), ("interrupt", 9), ("crash", 7)]


@pytest.mark.parametrize("how,at", INTERRUPTIONS, ids=[f"{h}@{s}" for h, s in INTERRUPTIONS])
@pytest.mark.parametrize("source", ["tensors", "seeded DataLoader", "in-order DataLoader"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_resume_matrix_equals_uninterrupted_run(kind, source, how, at, tmp_path):
    ref_weights, ref_history = reference(kind, source)
    error = KeyboardInterrupt if how == "interrupt" else RuntimeError("crash")
    with pytest.raises(type(error) if how == "crash" else KeyboardInterrupt):
        train(kind, source, checkpoint=tmp_path, checkpoint_every=2, callbacks=[stop_at(at, error)])
    torch.manual_seed(123)  # a fresh process: another global random state, other weights
    model, resumed = train(kind, source, checkpoint=tmp_path)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, ref_weights[name]), name
    assert resumed.steps == ref_history.steps
    assert resumed.epochs == ref_history.epochs  # epoch means include the steps before the stop


@pytest.mark.parametrize("kind", ["tbptt", "wgan-gp", "vae warm-up"])
def test_matrix_detects_a_step_whose_state_is_not_restored(kind, tmp_path, monkeypatch):
    """The control: the same resume with the step's load_state_dict disabled gives other weights."""
    ref_weights, _ = reference(kind, "tensors")
    with pytest.raises(KeyboardInterrupt):
        train(kind, "tensors", checkpoint=tmp_path, callbacks=[stop_at(5, KeyboardInterrupt)])
    model, data, kwargs = KINDS[kind]()
    kwargs["step"].load_state_dict = lambda state: None
    fit(model, data, batch_size=BATCH, epochs=EPOCHS, device="cpu", progress=False,
        checkpoint=tmp_path, **kwargs)
    assert not all(torch.equal(v, ref_weights[k]) for k, v in model.state_dict().items())


def test_unseeded_shuffling_dataloader_is_refused_with_the_fix(tmp_path):
    model, data, kwargs = supervised()
    loader = DataLoader(TensorDataset(*data), batch_size=BATCH, shuffle=True)
    with pytest.raises(ValueError, match=r"generator=torch\.Generator\(\)"):
        fit(model, loader, checkpoint=tmp_path, device="cpu", progress=False, **kwargs)
    fit(model, loader, device="cpu", progress=False, **kwargs)  # fine without a checkpoint
    in_order = DataLoader(TensorDataset(*data), batch_size=BATCH)
    fit(model, in_order, checkpoint=tmp_path, device="cpu", progress=False, **kwargs)


def _checkpointed(tmp_path, **extra):
    model, data, kwargs = supervised()
    fit(model, data, batch_size=BATCH, epochs=1, device="cpu", progress=False,
        checkpoint=tmp_path, **{**kwargs, **extra})
    return data


@pytest.mark.parametrize("change,message", [
    ({"batch_size": 6}, "batch_size: checkpoint 12, now 6"),
    ({"seed": 1}, "seed: checkpoint 0, now 1"),
    ({"model": nn.Sequential(nn.Linear(4, 9), nn.ReLU(), nn.Dropout(0.2), nn.Linear(9, 3))},
     r"model parameters \(checkpoint → now\): 0.bias: \[8\] → \[9\]"),
    ({"optimizer": "sgd"}, "optimizers: checkpoint {'optimizer': 'Adam'}, now {'optimizer': 'SG"),
    ({"scheduler": "step"}, "scheduler: checkpoint None, now 'StepLR'"),
    ({"step": R.tbptt_step(4)}, "step: checkpoint 'supervised_step.<locals>.step', now 'tbptt_"),
    ({"data": "fewer"}, "batches_per_epoch: checkpoint 4, now 3"),
])
def test_a_resume_that_differs_is_refused_with_what_differs(tmp_path, change, message):
    data = _checkpointed(tmp_path)
    model, _, kwargs = supervised()
    model = change.pop("model", model)
    if change.pop("optimizer", None):
        kwargs["optimizer"] = torch.optim.SGD(model.parameters(), lr=0.1)
    else:
        kwargs["optimizer"] = torch.optim.Adam(model.parameters(), lr=1e-2)
    if change.pop("scheduler", None):
        kwargs["scheduler"] = torch.optim.lr_scheduler.StepLR(kwargs["optimizer"], 1)
    if change.pop("data", None):
        data = tuple(t[:36] for t in data)
    args = {"batch_size": BATCH, "epochs": 2, **kwargs, **change}
    with pytest.raises(ValueError, match="cannot resume from the checkpoint") as err:
        fit(model, data, device="cpu", progress=False, checkpoint=tmp_path, **args)
    assert re.search(message, str(err.value)), str(err.value)


def test_corrupt_or_partial_checkpoints_give_a_clear_error(tmp_path):
    _checkpointed(tmp_path)
    pointer = json.loads((tmp_path / "checkpoint.json").read_text())
    snapshot = tmp_path / pointer["snapshot"]
    model, data, kwargs = supervised()

    def resume():
        fit(model, data, batch_size=BATCH, epochs=2, device="cpu", progress=False,
            checkpoint=tmp_path, **kwargs)

    trainer = (snapshot / "trainer.pt").read_bytes()
    (snapshot / "trainer.pt").write_bytes(trainer[: len(trainer) // 2])  # a truncated write
    with pytest.raises(ValueError, match="corrupt or incomplete .*trainer.pt does not match its "
                                         "SHA-256.*delete the folder"):
        resume()
    (snapshot / "trainer.pt").unlink()
    with pytest.raises(ValueError, match="trainer.pt is missing"):
        resume()
    (tmp_path / "checkpoint.json").write_text("{not json")
    with pytest.raises(ValueError, match="checkpoint.json cannot be read"):
        resume()


def test_a_checkpoint_of_the_older_format_is_refused_not_silently_restarted(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")  # the first format: files directly here
    (tmp_path / "trainer.pt").write_bytes(b"")
    model, data, kwargs = supervised()
    with pytest.raises(ValueError, match="older format .*delete the folder"):
        fit(model, data, batch_size=BATCH, epochs=2, device="cpu", progress=False,
            checkpoint=tmp_path, **kwargs)


def test_a_crash_while_saving_keeps_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    _checkpointed(tmp_path)
    before = json.loads((tmp_path / "checkpoint.json").read_text())
    model, data, kwargs = supervised()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("aigc_course.checkpoint.os.replace", crash)  # dies before the switch
    with pytest.raises(OSError, match="disk full"):
        fit(model, data, batch_size=BATCH, epochs=2, device="cpu", progress=False,
            checkpoint=tmp_path, **kwargs)
    monkeypatch.undo()
    assert json.loads((tmp_path / "checkpoint.json").read_text()) == before
    other, _, other_kwargs = supervised()
    state = load_checkpoint(tmp_path, other, other_kwargs["optimizer"])
    assert (state["epoch"], state["step"]) == (2, 4)  # the old checkpoint, whole
    assert has_checkpoint(tmp_path) and not has_checkpoint(tmp_path / "nothing")


def interrupting_step(at):
    """The default step, interrupted (like Ctrl-C) after its update at call ``at``."""
    inner, calls = supervised_step(), []

    def step(model, batch, optimizer):
        logs = inner(model, batch, optimizer)
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return logs

    return step


def test_an_interrupt_inside_a_step_keeps_the_last_whole_checkpoint(tmp_path):
    ref_weights, _ = reference("supervised", "tensors")
    model, data, kwargs = supervised()
    with pytest.raises(KeyboardInterrupt):
        fit(model, data, batch_size=BATCH, epochs=EPOCHS, device="cpu", progress=False,
            checkpoint=tmp_path, checkpoint_every=2, step=interrupting_step(8), **kwargs)
    assert json.loads((tmp_path / "checkpoint.json").read_text())["snapshot"].startswith(
        "step-00000006")  # not step 7 with the half-done step 8 in its weights
    model, data, kwargs = supervised()
    fit(model, data, batch_size=BATCH, epochs=EPOCHS, device="cpu", progress=False,
        checkpoint=tmp_path, step=interrupting_step(None), **kwargs)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, ref_weights[name]), name
