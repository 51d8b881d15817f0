"""One small training loop for every lab: :func:`fit`.

``fit`` runs epochs over batches and calls a *step function* on each batch.
The step function does the model-specific work (forward, loss, backward,
optimizer step) and returns a dict of numbers to log. The default,
:func:`supervised_step`, is the classic classification/regression step; a GAN
or a VAE passes its own step function and reuses everything else: progress
bar, history, validation, periodic callbacks, checkpoints and exact resume.

A step function has the signature::

    step(model, batch, optimizers) -> dict[str, float | torch.Tensor]

where ``optimizers`` is whatever was passed as ``optimizer=`` (one optimizer
or a dict of them, e.g. ``{"g": opt_g, "d": opt_d}`` for a GAN).

Checkpoints (``checkpoint="some/folder"``) hold the model weights in
``model.safetensors`` and the optimizer state, random-number state, step
counter and history in ``trainer.pt`` (loaded with ``weights_only=True``, so
no pickle code ever runs). Interrupt a run (or let it crash), call ``fit``
again with the same arguments, and it continues from the last checkpoint to
exactly the result an uninterrupted run gives.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from .config import get_device

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
        source = self.epochs if key.startswith("val_") or key.startswith("epoch_") else self.steps
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
    """Passed to callbacks: the model, where training is, and the history so far."""

    model: nn.Module
    epoch: int
    step: int
    history: History


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


def supervised_step(loss_fn: Callable | None = None, grad_clip: float | None = None) -> StepFn:
    """The classic step for ``(x, y)`` batches: ``loss_fn(model(x), y)``.

    ``loss_fn`` defaults to cross-entropy; it also reports ``accuracy`` when the
    model outputs class logits ``[B, C]`` and ``y`` holds class indices ``[B]``.
    """
    loss_fn = loss_fn or nn.functional.cross_entropy

    def step(model, batch, optimizer):
        x, y = batch
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
        x, y = to_device(batch, device)
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
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.tensors, self.batch_size, self.shuffle = tensors, batch_size, shuffle
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


def make_loader(data, batch_size: int = 64, shuffle: bool = True) -> Iterable:
    """Turn ``data`` into something that yields batches.

    Accepts a ``DataLoader`` or other iterable of batches (used as is), an
    object with ``x`` and ``y`` tensors (e.g. :class:`aigc_course.data.TensorSplit`),
    a tuple of tensors ``(x, y, ...)``, or a single tensor.
    """
    if hasattr(data, "x") and hasattr(data, "y"):
        data = (data.x, data.y)
    if isinstance(data, torch.Tensor):
        data = (data,)
    if isinstance(data, tuple) and all(isinstance(t, torch.Tensor) for t in data):
        if len({len(t) for t in data}) != 1:
            raise ValueError(f"tensors have different lengths: {[len(t) for t in data]}")
        if len(data[0]) == 0:
            raise ValueError("training data is empty")
        return TensorBatches(data, batch_size=batch_size, shuffle=shuffle)
    if isinstance(data, (DataLoader, Iterable)) and not isinstance(data, (str, bytes)):
        return data
    raise TypeError(
        "data must be a DataLoader, an iterable of batches, a TensorSplit, or a tuple of tensors; "
        f"got {type(data).__name__}"
    )


def _seed_loader_for_epoch(loader, seed: int, epoch: int) -> None:
    """Make the epoch's shuffle order a function of (seed, epoch), so a resumed run
    sees exactly the batches the interrupted one would have seen."""
    gen = getattr(loader, "generator", None)
    if isinstance(gen, torch.Generator):
        gen.manual_seed(seed * 100_003 + epoch)


# --------------------------------------------------------------------------- checkpoints
def _optimizers_dict(optimizer) -> dict:
    if optimizer is None:
        return {}
    if isinstance(optimizer, dict):
        return optimizer
    return {"optimizer": optimizer}


def save_checkpoint(folder, model: nn.Module, optimizer=None, scheduler=None, *,
                    epoch: int = 0, batch_in_epoch: int = 0, step: int = 0,
                    history: History | None = None) -> Path:
    """Write a checkpoint folder: ``model.safetensors`` + ``trainer.pt`` (atomic)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(folder / "model.safetensors.tmp"))
    state = {
        "epoch": epoch,
        "batch_in_epoch": batch_in_epoch,
        "step": step,
        "optimizers": {k: o.state_dict() for k, o in _optimizers_dict(optimizer).items()},
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "history": json.dumps(history.to_dict() if history else {}),
    }
    torch.save(state, folder / "trainer.pt.tmp")
    (folder / "model.safetensors.tmp").replace(folder / "model.safetensors")
    (folder / "trainer.pt.tmp").replace(folder / "trainer.pt")
    return folder


def load_checkpoint(folder, model: nn.Module, optimizer=None, scheduler=None) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns the trainer state."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / "model.safetensors").exists() or not (folder / "trainer.pt").exists():
        raise FileNotFoundError(f"no checkpoint in {folder} (expected model.safetensors and trainer.pt)")
    device = next(model.parameters()).device
    model.load_state_dict(load_file(str(folder / "model.safetensors"), device=str(device)))
    state = torch.load(folder / "trainer.pt", weights_only=True, map_location="cpu")
    optimizers = _optimizers_dict(optimizer)
    if set(optimizers) != set(state["optimizers"]):
        raise ValueError(
            f"checkpoint has optimizers {sorted(state['optimizers'])}, but fit got {sorted(optimizers)}"
        )
    for name, opt in optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state


# --------------------------------------------------------------------------- fit
def _as_float(v) -> float:
    return float(v.item()) if isinstance(v, torch.Tensor) else float(v)


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
    grad_clip: float | None = None,
    device=None,
    callbacks: Iterable[Callable[[FitState], None]] = (),
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    seed: int = 0,
    progress: bool = True,
    max_steps: int | None = None,
) -> History:
    """Train ``model`` on ``data`` for ``epochs`` epochs and return its :class:`History`.

    Args:
        model: any ``torch.nn.Module``; it is moved to ``device``.
        data: a DataLoader / iterable of batches, a ``TensorSplit``, or a tuple of tensors
            (then batched with ``batch_size`` and shuffled, reproducibly, with ``seed``).
        optimizer: one optimizer or a dict of them (default: Adam, lr 1e-3).
        epochs: passes over ``data``.
        step: the step function (default :func:`supervised_step` with ``loss_fn``).
        val_data: evaluated after every epoch with ``evaluate`` (default: mean loss and
            accuracy); logged as ``val_<name>``.
        scheduler: a learning-rate scheduler stepped once per epoch.
        grad_clip: max gradient norm for the default step.
        callbacks: functions ``cb(state: FitState)`` called after every epoch
            (e.g. to plot samples); see :func:`every` for step-based callbacks.
        checkpoint: folder for checkpoints; when it holds one, training resumes from it.
        checkpoint_every: also checkpoint every N steps (default: once per epoch).
        max_steps: stop after this many steps in total (useful for quick tests).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every < 1):
        raise ValueError(f"checkpoint_every must be a positive int, got {checkpoint_every!r}")
    if step is not None and (loss_fn is not None or grad_clip is not None):
        raise ValueError("pass loss_fn/grad_clip only with the default step; a custom step handles its own")
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = step or supervised_step(loss_fn, grad_clip)
    loader = make_loader(data, batch_size=batch_size, shuffle=True)
    val_loader = make_loader(val_data, batch_size=256, shuffle=False) if val_data is not None else None
    if evaluate is None and val_loader is not None:
        def evaluate(m, batches):
            return evaluate_supervised(m, batches, loss_fn, device)

    history = History()
    start_epoch, skip_batches, global_step = 0, 0, 0
    if checkpoint is not None and (Path(checkpoint) / "trainer.pt").exists():
        state = load_checkpoint(checkpoint, model, optimizer, scheduler)
        start_epoch, skip_batches, global_step = state["epoch"], state["batch_in_epoch"], state["step"]
        saved = json.loads(state["history"])
        history = History(saved.get("steps", []), saved.get("epochs", []), saved.get("seconds", 0.0))
        if progress:
            print(f"Resuming from {checkpoint}: epoch {start_epoch + 1}, step {global_step}")
        if start_epoch >= epochs:
            return history

    try:
        n_batches = len(loader)
    except TypeError:
        n_batches = None
    total = None if n_batches is None else n_batches * epochs
    if max_steps is not None and total is not None:
        total = min(total, max_steps)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, initial=global_step, unit="step", leave=True)

    t0 = time.perf_counter() - history.seconds
    resume_at = (start_epoch, skip_batches)  # (epoch, batch) a resumed run would start from
    model.train()

    def save():
        history.seconds = time.perf_counter() - t0
        save_checkpoint(checkpoint, model, optimizer, scheduler, epoch=resume_at[0],
                        batch_in_epoch=resume_at[1], step=global_step, history=history)

    try:
        for epoch in range(start_epoch, epochs):
            _seed_loader_for_epoch(loader, seed, epoch)
            sums: dict[str, float] = {}
            count = 0
            for batch_idx, batch in enumerate(loader):
                if epoch == start_epoch and batch_idx < skip_batches:
                    continue  # done before the interruption
                logs = step(model, to_device(batch, device), optimizer)
                row = {k: _as_float(v) for k, v in logs.items()}
                history.steps.append(row)
                for k, v in row.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                global_step += 1
                resume_at = (epoch, batch_idx + 1)
                if bar is not None:
                    bar.update(1)
                    if global_step % 20 == 0:
                        bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()}, refresh=False)
                for cb in callbacks:
                    if getattr(cb, "per_step", False):
                        cb(FitState(model, epoch, global_step, history))
                if checkpoint is not None and checkpoint_every and global_step % checkpoint_every == 0:
                    save()
                if max_steps is not None and global_step >= max_steps:
                    break
            if max_steps is not None and global_step >= max_steps and resume_at[1] != n_batches:
                if checkpoint is not None:
                    save()
                break  # stopped mid-epoch: no epoch summary
            # the epoch is complete: averages (a resumed epoch averages its remaining steps)
            resume_at = (epoch + 1, 0)
            summary = {"epoch": epoch + 1}
            summary.update({k: v / max(count, 1) for k, v in sums.items()})
            if val_loader is not None:
                summary.update({f"val_{k}": v for k, v in evaluate(model, val_loader).items()})
                model.train()
            if scheduler is not None:
                scheduler.step()
            history.epochs.append(summary)
            for cb in callbacks:
                if not getattr(cb, "per_step", False):
                    cb(FitState(model, epoch + 1, global_step, history))
            if checkpoint is not None:
                save()
            if max_steps is not None and global_step >= max_steps:
                break
    except KeyboardInterrupt:
        if checkpoint is not None:
            save()
            print(f"\nInterrupted at step {global_step}; checkpoint saved in {checkpoint}. "
                  "Run the same fit(...) again to resume.")
        raise
    finally:
        if bar is not None:
            bar.close()
    history.seconds = time.perf_counter() - t0
    for row in history.epochs[-1:]:
        if any(isinstance(v, float) and not math.isfinite(v) for v in row.values()):
            print(f"warning: non-finite numbers in the last epoch: {row}")
    return history


class every:
    """A step-based callback: ``every(100, fn)`` calls ``fn(state)`` every 100 steps."""

    per_step = True

    def __init__(self, n_steps: int, fn: Callable[[FitState], None]):
        if not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
        if not callable(fn):
            raise TypeError("fn must be callable")
        self.n_steps, self.fn = n_steps, fn

    def __call__(self, state: FitState) -> None:
        if state.step % self.n_steps == 0:
            self.fn(state)
