"""One small training loop for every lab: :func:`fit`.

``fit`` runs epochs over batches and calls a *step function* on each batch.
The step function does the model-specific work (forward, loss, backward,
optimizer step) and returns a dict of numbers to log. The default,
:func:`supervised_step`, is the classic classification/regression step; a GAN
or a VAE passes its own step function and reuses everything else: progress
bar, history, validation, callbacks, checkpoints and exact resume.

A step function has the signature::

    step(model, batch, optimizers) -> dict[str, float | torch.Tensor]

where ``optimizers`` is whatever was passed as ``optimizer=`` (one optimizer
or a dict of them, e.g. ``{"g": opt_g, "d": opt_d}`` for a GAN). A step that keeps
state between calls (a hidden state, a call counter) exposes it with
``state_dict()`` / ``load_state_dict(state)``, and the checkpoint saves it.
"""

from __future__ import annotations

import functools
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

from .checkpoint import _optimizers_dict, has_checkpoint, load_checkpoint, save_checkpoint
from .config import get_device
from .validation import check_bool, check_choice, check_int, check_number

StepFn = Callable[[nn.Module, object, object], dict]


# --------------------------------------------------------------------------- history
@dataclass
class History:
    """What happened during training.

    ``steps``: one dict per optimisation step (the step function's numbers).
    ``epochs``: one dict per epoch (means of the step numbers, plus validation).
    """

    steps: list = field(default_factory=list)
    epochs: list = field(default_factory=list)
    seconds: float = 0.0

    def __getitem__(self, key: str) -> list:
        """Per-step values of ``key`` (or per-epoch values for ``val_*`` keys)."""
        source = self.epochs if key.startswith(("val_", "epoch_")) else self.steps
        values = [row[key] for row in source if key in row]
        if not values:
            known = sorted({k for row in self.steps + self.epochs for k in row})
            raise KeyError(f"no values logged under {key!r}; logged keys: {known}")
        return values

    def last(self, key: str) -> float:
        return self[key][-1]

    def to_dict(self) -> dict:
        return {"steps": self.steps, "epochs": self.epochs, "seconds": self.seconds}


@dataclass
class FitState:
    """Passed to callbacks: the model, where training is, and the history so far.

    ``epoch`` counts from 1 (in ``on_epoch_end``: the epoch just finished), ``step`` is the
    number of optimisation steps done, ``batch`` the batches done in the current epoch and
    ``logs`` the numbers of the last step (in ``on_epoch_end``: the epoch's summary).
    """

    model: nn.Module
    epoch: int
    step: int
    history: History
    batch: int = 0
    logs: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- callbacks
class Callback:
    """Base class of ``fit`` callbacks: override the events you need.

    ``on_step_end(state)`` runs after every optimisation step, ``on_epoch_end(state)`` after
    every epoch (its summary and validation are then in ``state.history.epochs[-1]``).
    """

    def on_step_end(self, state: FitState) -> None:
        pass

    def on_epoch_end(self, state: FitState) -> None:
        pass


class every(Callback):
    """A step callback: ``every(100, fn)`` calls ``fn(state)`` after every 100th step."""

    def __init__(self, n_steps: int, fn: Callable[[FitState], None]):
        self.n_steps = check_int("n_steps", n_steps)
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn

    def on_step_end(self, state: FitState) -> None:
        if state.step % self.n_steps == 0:
            self.fn(state)


class _AtEpochEnd(Callback):
    """A plain function ``fn(state)`` passed in ``callbacks``: called after every epoch."""

    def __init__(self, fn: Callable[[FitState], None]):
        self.fn = fn

    def on_epoch_end(self, state: FitState) -> None:
        self.fn(state)


def _as_callbacks(callbacks) -> list[Callback]:
    if isinstance(callbacks, (Callback, str)) or callable(callbacks):
        raise TypeError("callbacks must be a list, e.g. callbacks=[every(100, fn)]")
    out = []
    for cb in callbacks:
        if isinstance(cb, Callback):
            out.append(cb)
        elif callable(cb):
            out.append(_AtEpochEnd(cb))
        else:
            raise TypeError("each callback must be a Callback or a function, "
                            f"got {type(cb).__name__}")
    return out


# --------------------------------------------------------------------------- steps
def to_device(batch, device):
    """Move a tensor, or a tuple/list/dict of tensors, to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def clip_and_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                  params=None, grad_clip: float | None = None) -> None:
    """``zero_grad`` → ``backward`` → optional gradient-norm clipping → ``step``."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        if params is None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()


def _x_y(batch) -> tuple:
    """``(x, y)`` from a batch, or a TypeError that says what the default step expects."""
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch
    got = f"a dict with keys {sorted(batch)}" if isinstance(batch, dict) else (
        f"a {type(batch).__name__} of {len(batch)}" if isinstance(batch, (list, tuple))
        else f"a {type(batch).__name__}")
    raise TypeError(f"the default step and evaluation expect (x, y) batches, got {got}; "
                    "pass step= (and evaluate=) functions that read your batches")


def supervised_step(loss_fn: Callable | None = None, grad_clip: float | None = None) -> StepFn:
    """The classic step for ``(x, y)`` batches: ``loss_fn(model(x), y)``.

    ``loss_fn`` defaults to cross-entropy; it also reports ``accuracy`` when the
    model outputs class logits ``[B, C]`` and ``y`` holds class indices ``[B]``.
    """
    loss_fn = loss_fn or nn.functional.cross_entropy
    if grad_clip is not None:
        check_number("grad_clip", grad_clip, low=0, low_open=True)

    def step(model, batch, optimizer):
        x, y = _x_y(batch)
        out = model(x)
        loss = loss_fn(out, y)
        clip_and_step(loss, optimizer, model.parameters(), grad_clip)
        logs = {"loss": loss.detach()}
        if out.dim() == 2 and y.dim() == 1 and not y.is_floating_point():
            logs["accuracy"] = (out.detach().argmax(1) == y).float().mean()
        return logs

    return step


@torch.no_grad()
def evaluate_supervised(model: nn.Module, batches: Iterable, loss_fn: Callable | None = None,
                        device=None) -> dict:
    """Mean loss (and accuracy, for classifiers) of ``model`` over ``batches``."""
    loss_fn = loss_fn or nn.functional.cross_entropy
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, n, correct = 0.0, 0, 0
    is_classifier = True
    for batch in batches:
        x, y = to_device(_x_y(batch), device)
        out = model(x)
        total += float(loss_fn(out, y)) * len(x)
        n += len(x)
        if out.dim() == 2 and y.dim() == 1 and not y.is_floating_point():
            correct += int((out.argmax(1) == y).sum())
        else:
            is_classifier = False
    model.train(was_training)
    if n == 0:
        raise ValueError("evaluation data is empty")
    logs = {"loss": total / n}
    if is_classifier:
        logs["accuracy"] = correct / n
    return logs


# --------------------------------------------------------------------------- data
class TensorBatches:
    """Batches of in-memory tensors, cut by slicing a shuffled index: the same batches as
    ``DataLoader(TensorDataset(*tensors), batch_size, shuffle=True, generator=g)`` for the
    same generator state, without copying one example at a time (2× faster for tiny models).

    ``generator`` is a ``torch.Generator`` that ``fit`` re-seeds every epoch.
    """

    def __init__(self, tensors: tuple, batch_size: int = 64, shuffle: bool = True):
        self.batch_size = check_int("batch_size", batch_size)
        self.tensors, self.shuffle = tensors, shuffle
        self.generator = torch.Generator()

    def __len__(self) -> int:
        return math.ceil(len(self.tensors[0]) / self.batch_size)

    def __iter__(self):
        n = len(self.tensors[0])
        # A DataLoader first draws one number from its generator (a base seed for worker
        # processes), then shuffles; doing the same keeps the two batch for batch identical.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield [t[idx] for t in self.tensors]


def make_loader(data, batch_size: int = 64, shuffle: bool = True, name: str = "data") -> Iterable:
    """Turn ``data`` into something that yields batches.

    Accepts a ``DataLoader`` or other iterable of batches (used as is), an
    object with ``x`` and ``y`` tensors (e.g. :class:`aigc_course.data.TensorSplit`),
    a tuple of tensors ``(x, y, ...)``, or a single tensor. ``name`` is used in messages.
    """
    if hasattr(data, "x") and hasattr(data, "y"):
        data = (data.x, data.y)
    if isinstance(data, torch.Tensor):
        data = (data,)
    if isinstance(data, tuple) and data and all(isinstance(t, torch.Tensor) for t in data):
        if len({len(t) for t in data}) != 1:
            raise ValueError(f"{name}: tensors have different lengths: {[len(t) for t in data]}")
        if len(data[0]) == 0:
            raise ValueError(f"{name} is empty (0 examples)")
        return TensorBatches(data, batch_size=batch_size, shuffle=shuffle)
    if isinstance(data, (DataLoader, Iterable)) and not isinstance(data, (str, bytes, dict)):
        if hasattr(data, "__len__") and len(data) == 0:
            raise ValueError(f"{name} is empty (0 batches)")
        return data
    raise TypeError(
        f"{name} must be a DataLoader, an iterable of batches, a TensorSplit, or a tuple of "
        f"tensors; got {type(data).__name__}"
    )


def _seed_loader_for_epoch(loader, seed: int, epoch: int) -> None:
    """Make the epoch's shuffle order a function of (seed, epoch), so a resumed run
    sees exactly the batches the interrupted one would have seen (``epoch`` from 1)."""
    gen = getattr(loader, "generator", None)
    if isinstance(gen, torch.Generator):
        gen.manual_seed(seed * 100_003 + epoch - 1)


def _refuse_unseeded_shuffle(loader) -> None:
    """A shuffling DataLoader without its own generator cannot be resumed exactly."""
    if isinstance(loader, DataLoader) and isinstance(loader.sampler, RandomSampler) \
            and (loader.generator is None or loader.sampler.generator is not loader.generator):
        raise ValueError(
            "checkpoint= needs a DataLoader whose shuffle order can be replayed: create it as "
            "DataLoader(..., shuffle=True, generator=torch.Generator()) (fit re-seeds the "
            "generator every epoch from seed=), or pass tensors and batch_size=")


# --------------------------------------------------------------------------- checkpoints
# Writing and reading them lives in checkpoint.py; fit decides when and checks what must match.


# --------------------------------------------------------------------------- fit: state
@dataclass
class _Run:
    """Everything one ``fit`` call works with; ``epoch``/``batch``/``step``/``sums``/``count``
    say where training is (what a checkpoint stores: the epoch in progress, from 1, and the
    batches of it done, the steps done in total, and the running sums of its step logs)."""

    model: nn.Module
    loader: Iterable
    step_fn: StepFn
    optimizer: object
    scheduler: object
    interval: str
    device: torch.device
    seed: int
    callbacks: list
    checkpoint: Path | None
    checkpoint_every: int | None
    max_steps: int | None
    on_nan: str
    val_loader: Iterable | None
    evaluate: Callable | None
    n_batches: int | None
    history: History = field(default_factory=History)
    epoch: int = 1
    batch: int = 0
    step: int = 0
    sums: dict = field(default_factory=dict)
    count: int = 0
    bar: object = None
    t0: float = 0.0
    saved_at: tuple = ()
    in_step: bool = False
    rng_after_skip: object = None

    @property
    def step_callbacks(self) -> list:
        return [cb for cb in self.callbacks if type(cb).on_step_end is not Callback.on_step_end]

    def state(self, logs=None) -> FitState:
        return FitState(self.model, self.epoch, self.step, self.history, self.batch, logs or {})

    def out_of_steps(self) -> bool:
        return self.max_steps is not None and self.step >= self.max_steps


def _has_state(step_fn) -> bool:
    """Whether a step function keeps state between calls (``state_dict``/``load_state_dict``)."""
    return callable(getattr(step_fn, "state_dict", None)) \
        and callable(getattr(step_fn, "load_state_dict", None))


def _signature(run: _Run) -> dict:
    """What a resume must match for its result to equal the uninterrupted run's."""
    step_name = getattr(run.step_fn, "__qualname__", type(run.step_fn).__qualname__)
    return {
        "batch_size": getattr(run.loader, "batch_size", None),
        "batches_per_epoch": run.n_batches,
        "seed": run.seed,
        "parameters": {k: list(v.shape) for k, v in run.model.state_dict().items()},
        "optimizers": {k: type(o).__name__ for k, o in _optimizers_dict(run.optimizer).items()},
        "scheduler": type(run.scheduler).__name__ if run.scheduler is not None else None,
        "scheduler_interval": run.interval if run.scheduler is not None else None,
        "step": step_name,
        "step_has_state": _has_state(run.step_fn),
    }


# --------------------------------------------------------------------------- fit: helpers
def _restore(run: _Run) -> None:
    """Continue from ``run.checkpoint``, or refuse with what differs from the saved run."""
    state = load_checkpoint(run.checkpoint, run.model, run.optimizer, run.scheduler,
                            expect=_signature(run))
    if state.get("step_state") is not None:
        run.step_fn.load_state_dict(state["step_state"])
    run.epoch, run.batch, run.step = state["epoch"], state["batch_in_epoch"], state["step"]
    run.sums, run.count = json.loads(state["epoch_sums"]), state["epoch_count"]
    saved = json.loads(state["history"])
    run.history = History(saved["steps"], saved["epochs"], saved["seconds"])
    if run.batch:  # the batches before the interruption are replayed: restore the RNG after them
        run.rng_after_skip = state["torch_rng"]
    run.saved_at = (run.epoch, run.batch, run.step)


def _save(run: _Run) -> None:
    """Checkpoint the run (once per position: a second call at the same point does nothing)."""
    if run.checkpoint is None or run.saved_at == (run.epoch, run.batch, run.step):
        return
    run.history.seconds = time.perf_counter() - run.t0
    step_state = run.step_fn.state_dict() if _has_state(run.step_fn) else None
    extra = {"signature": json.dumps(_signature(run)), "step_state": step_state,
             "epoch_sums": json.dumps(run.sums), "epoch_count": run.count}
    save_checkpoint(run.checkpoint, run.model, run.optimizer, run.scheduler, epoch=run.epoch,
                    batch_in_epoch=run.batch, step=run.step, history=run.history, extra=extra)
    run.saved_at = (run.epoch, run.batch, run.step)


def _as_float(v) -> float:
    return float(v.item()) if isinstance(v, torch.Tensor) else float(v)


def _non_finite(run: _Run, key: str, value: float) -> None:
    message = (f"{key} is {value} at step {run.step} (epoch {run.epoch}, batch {run.batch}). "
               "Try a lower learning rate or grad_clip=1.0, and check the data for NaN/inf; "
               "on_nan='warn' keeps training anyway.")
    if run.on_nan == "raise":
        raise FloatingPointError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _train_step(run: _Run, batch, step_callbacks: list) -> None:
    """One optimisation step: the step function, the logs, the scheduler, the step events."""
    run.in_step = True  # an interrupt now leaves a half-done step: not a point to save
    logs = run.step_fn(run.model, to_device(batch, run.device), run.optimizer)
    run.step += 1
    run.batch += 1
    run.count += 1
    row = {k: _as_float(v) for k, v in logs.items()}
    for k, v in row.items():
        if not math.isfinite(v):
            _non_finite(run, k, v)
        run.sums[k] = run.sums.get(k, 0.0) + v
    run.history.steps.append(row)
    if run.scheduler is not None and run.interval == "step":
        run.scheduler.step()
    run.in_step = False
    if run.bar is not None:
        run.bar.update(1)
        if run.step % 20 == 0:
            run.bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()}, refresh=False)
    if step_callbacks:
        state = run.state(row)
        for cb in step_callbacks:
            cb.on_step_end(state)
    if run.checkpoint_every and run.step % run.checkpoint_every == 0:
        _save(run)


def _run_epoch(run: _Run) -> bool:
    """Train on the rest of epoch ``run.epoch``; True when it ran to its end."""
    _seed_loader_for_epoch(run.loader, run.seed, run.epoch)
    batches = iter(run.loader)
    for _ in range(run.batch):  # done before the interruption: replay the data order only
        next(batches)
    if run.rng_after_skip is not None:
        torch.set_rng_state(run.rng_after_skip)
        run.rng_after_skip = None
    step_callbacks = run.step_callbacks
    for batch in batches:
        _train_step(run, batch, step_callbacks)
        if run.out_of_steps():
            return run.batch == run.n_batches
    if run.count == 0:
        raise ValueError(f"data gave no batches in epoch {run.epoch} (it is empty, or an iterator "
                         "already read to its end); pass a list, a DataLoader or tensors")
    return True


def _end_epoch(run: _Run) -> None:
    """The epoch summary (means of its steps, validation), the epoch scheduler and events."""
    summary = {"epoch": run.epoch, **{k: v / run.count for k, v in run.sums.items()}}
    if run.val_loader is not None:
        summary.update({f"val_{k}": v for k, v in run.evaluate(run.model, run.val_loader).items()})
        run.model.train()
    if run.scheduler is not None and run.interval == "epoch":
        run.scheduler.step()
    run.history.epochs.append(summary)
    state = run.state(summary)
    run.epoch, run.batch, run.sums, run.count = run.epoch + 1, 0, {}, 0
    for cb in run.callbacks:
        cb.on_epoch_end(state)
    _save(run)


def _device(device) -> torch.device:
    if device is None:
        return get_device()
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be e.g. 'cpu', 'cuda', 'cuda:1', 'mps' or a torch.device, "
                         f"got {device!r}") from None


def _check_optimizer(optimizer) -> None:
    items = optimizer.values() if isinstance(optimizer, dict) else [optimizer]
    if optimizer is not None and not all(isinstance(o, torch.optim.Optimizer) for o in items):
        got = repr(optimizer) if isinstance(optimizer, (str, int, float)) else ""
        raise TypeError("optimizer must be a torch.optim.Optimizer (e.g. torch.optim.Adam("
                        "model.parameters(), lr=1e-3)) or a dict of them, got "
                        f"{type(optimizer).__name__} {got}".rstrip())


def _make_run(model, data, *, optimizer, epochs, step, loss_fn, batch_size, val_data, evaluate,
              scheduler, scheduler_interval, grad_clip, device, callbacks, checkpoint,
              checkpoint_every, seed, progress, max_steps, on_nan) -> _Run:
    """Check every argument of :func:`fit` and put the run together."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_int("epochs", epochs)
    check_int("seed", seed, low=0)
    check_bool("progress", progress)
    check_choice("scheduler_interval", scheduler_interval, ("epoch", "step"))
    check_choice("on_nan", on_nan, ("raise", "warn"))
    for name, value in (("checkpoint_every", checkpoint_every), ("max_steps", max_steps)):
        if value is not None:
            check_int(name, value)
    if checkpoint_every is not None and checkpoint is None:
        raise ValueError(f"checkpoint_every={checkpoint_every} needs checkpoint='some/folder' "
                         "(where to write the checkpoints)")
    if step is not None and (loss_fn is not None or grad_clip is not None):
        raise ValueError("pass loss_fn/grad_clip only with the default step; "
                         "a custom step handles its own")
    if step is not None and not callable(step):
        raise TypeError(f"step must be a function step(model, batch, optimizer), got {step!r}")
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"scheduler must be a torch.optim.lr_scheduler object, got {scheduler!r}")
    _check_optimizer(optimizer)
    loader = make_loader(data, batch_size=batch_size, shuffle=True)
    if isinstance(loader, Iterator) and epochs > 1:
        raise ValueError(f"data is an iterator (e.g. a generator), which can be read only once, "
                         f"but epochs={epochs}: pass a list, a DataLoader or tensors")
    if checkpoint is not None:
        _refuse_unseeded_shuffle(loader)
    val_loader = None if val_data is None else make_loader(val_data, 256, False, name="val_data")
    if evaluate is not None and not callable(evaluate):
        raise TypeError(f"evaluate must be a function evaluate(model, batches), got {evaluate!r}")
    device = _device(device)
    model.to(device)
    if evaluate is None and val_loader is not None:
        evaluate = functools.partial(evaluate_supervised, loss_fn=loss_fn, device=device)
    return _Run(
        model=model, loader=loader, step_fn=step or supervised_step(loss_fn, grad_clip),
        optimizer=optimizer or torch.optim.Adam(model.parameters(), lr=1e-3),
        scheduler=scheduler, interval=scheduler_interval, device=device, seed=seed,
        callbacks=_as_callbacks(callbacks),
        checkpoint=None if checkpoint is None else Path(checkpoint),
        checkpoint_every=checkpoint_every, max_steps=max_steps, on_nan=on_nan,
        val_loader=val_loader, evaluate=evaluate,
        n_batches=len(loader) if hasattr(loader, "__len__") else None,
    )


# --------------------------------------------------------------------------- fit
def fit(
    model: nn.Module,
    data,
    *,
    optimizer=None,
    epochs: int = 1,
    step: StepFn | None = None,
    loss_fn: Callable | None = None,
    batch_size: int = 64,
    val_data=None,
    evaluate: Callable[[nn.Module, Iterable], dict] | None = None,
    scheduler=None,
    scheduler_interval: str = "epoch",
    grad_clip: float | None = None,
    device=None,
    callbacks: Iterable = (),
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    seed: int = 0,
    progress: bool = True,
    max_steps: int | None = None,
    on_nan: str = "raise",
) -> History:
    """Train ``model`` on ``data`` for ``epochs`` epochs and return its :class:`History`.

    Args:
        model: any ``torch.nn.Module``; it is moved to ``device``.
        data: a DataLoader / iterable of batches, a ``TensorSplit``, or a tuple of tensors
            (then batched with ``batch_size`` and shuffled, reproducibly, with ``seed``).
        optimizer: one optimizer or a dict of them (default: Adam, lr 1e-3).
        epochs: passes over ``data``; epochs are numbered from 1 everywhere.
        step: the step function (default :func:`supervised_step` with ``loss_fn``).
        val_data: evaluated after every epoch with ``evaluate`` (default: mean loss and
            accuracy); logged as ``val_<name>``.
        scheduler: a learning-rate scheduler, stepped after every epoch
            (``scheduler_interval="epoch"``) or after every step (``"step"``).
        grad_clip: max gradient norm (> 0) for the default step.
        callbacks: :class:`Callback` objects (events ``on_step_end(state)`` after every step,
            ``on_epoch_end(state)`` after every epoch), or plain functions ``fn(state)``, called
            after every epoch; :func:`every` makes a step callback. ``state`` is a
            :class:`FitState`.
        checkpoint: folder for checkpoints; when it holds one, training resumes from it.
        checkpoint_every: also checkpoint every N steps (default: after every epoch).
        max_steps: stop after this many steps in total (a checkpoint is then written too).
        on_nan: ``"raise"`` stops at the first step that logs NaN/inf, with its number;
            ``"warn"`` warns and goes on.

    Checkpoints: ``checkpoint/checkpoint.json`` names the current snapshot folder
    ``step-…/`` (with the SHA-256 of its files) and is replaced by one atomic rename, so a
    checkpoint is written as one unit. The snapshot holds ``model.safetensors`` (weights) and
    ``trainer.pt`` (loaded with ``weights_only=True``: no pickle code runs): optimizer and
    scheduler state, the torch random state, epoch/batch/step counters, the running sums of
    the epoch in progress, the history, the step function's ``state_dict()`` if it has one,
    and a *signature* of the run (batch size, batches per epoch, seed, parameter names and
    shapes, optimizer, scheduler and step types). Call ``fit`` again with the same arguments
    and it continues to exactly the uninterrupted result; a call that differs from the
    signature, an unseeded shuffling DataLoader, or a damaged checkpoint raise a ValueError.
    """
    run = _make_run(model, data, optimizer=optimizer, epochs=epochs, step=step, loss_fn=loss_fn,
                    batch_size=batch_size, val_data=val_data, evaluate=evaluate,
                    scheduler=scheduler, scheduler_interval=scheduler_interval,
                    grad_clip=grad_clip, device=device, callbacks=callbacks,
                    checkpoint=checkpoint, checkpoint_every=checkpoint_every, seed=seed,
                    progress=progress, max_steps=max_steps, on_nan=on_nan)
    if has_checkpoint(run.checkpoint):
        _restore(run)
        if progress:
            print(f"Resuming from {checkpoint}: epoch {run.epoch}, step {run.step}")
    if progress:
        from tqdm.auto import tqdm
        total = None if run.n_batches is None else run.n_batches * epochs
        if max_steps is not None and total is not None:
            total = min(total, max_steps)
        run.bar = tqdm(total=total, initial=run.step, unit="step", leave=True)
    run.t0 = time.perf_counter() - run.history.seconds
    model.train()
    try:
        while run.epoch <= epochs and not run.out_of_steps():
            if not _run_epoch(run):
                break  # stopped by max_steps in the middle of an epoch: no summary
            _end_epoch(run)
        _save(run)
    except KeyboardInterrupt:
        if run.checkpoint is not None and not run.in_step:
            _save(run)
        if run.checkpoint is not None:
            print(f"\nInterrupted after step {run.saved_at[2]}; checkpoint in {checkpoint}. "
                  "Run the same fit(...) again to resume.")
        raise
    finally:
        if run.bar is not None:
            run.bar.close()
    run.history.seconds = time.perf_counter() - run.t0
    return run.history
