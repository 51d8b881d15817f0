"""Checkpoints that are written as one unit and resume exactly, or refuse: used by :func:`fit`.

A checkpoint folder holds one *snapshot* folder ``step-<step>-<ns>/`` with the weights
(``model.safetensors``) and the trainer state (``trainer.pt``: optimizer and scheduler states,
random-number state, counters, history, the step function's state, the run's signature), and
``checkpoint.json``, which names the current snapshot with the SHA-256 of its two files. A new
checkpoint is written beside the old one and switched to by replacing ``checkpoint.json`` in one
atomic rename, so a crash leaves the old or the new checkpoint, never a mix of the two. Loading
checks the digests (a corrupt or partial checkpoint gives a clear error) and, when given the
signature of the resuming run, refuses with the list of differences instead of resuming into a
result the uninterrupted run would not give. ``trainer.pt`` is read with ``weights_only=True``:
no pickled code ever runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .config import private_tmp

if TYPE_CHECKING:
    from .train import History

POINTER = "checkpoint.json"  # names the current snapshot folder; replaced in one os.replace


def _optimizers_dict(optimizer) -> dict:
    if optimizer is None:
        return {}
    if isinstance(optimizer, dict):
        return optimizer
    return {"optimizer": optimizer}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_checkpoint(folder, model: nn.Module, optimizer=None, scheduler=None, *,
                    epoch: int = 1, batch_in_epoch: int = 0, step: int = 0,
                    history: History | None = None, extra: dict | None = None) -> Path:
    """Write a checkpoint into ``folder`` as one unit; returns the snapshot folder.

    The weights (``model.safetensors``) and the trainer state (``trainer.pt``) go into a new
    snapshot folder ``folder/step-…``; then ``folder/checkpoint.json`` (its name and the files'
    SHA-256) is replaced in one atomic rename, and older snapshots are deleted. A crash at any
    moment leaves either the old or the new checkpoint, never a mix. ``extra`` adds entries
    (tensors, numbers, strings, lists, dicts) to the trainer state.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    snapshot = folder / f"step-{step:08d}-{time.time_ns()}"
    snapshot.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(snapshot / "model.safetensors"))
    state = {
        "epoch": epoch, "batch_in_epoch": batch_in_epoch, "step": step,
        "optimizers": {k: o.state_dict() for k, o in _optimizers_dict(optimizer).items()},
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "history": json.dumps(history.to_dict() if history else {}),
        **(extra or {}),
    }
    torch.save(state, snapshot / "trainer.pt")
    pointer = {"format": 2, "snapshot": snapshot.name,
               "sha256": {f: _sha256(snapshot / f) for f in ("model.safetensors", "trainer.pt")}}
    tmp = private_tmp(folder / POINTER)
    tmp.write_text(json.dumps(pointer, indent=1))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, folder / POINTER)  # the one step that switches to the new checkpoint
    for old in folder.glob("step-*"):
        if old.name != snapshot.name:
            shutil.rmtree(old, ignore_errors=True)
    return snapshot


def has_checkpoint(folder) -> bool:
    """Whether ``folder`` holds a checkpoint written by :func:`save_checkpoint`.

    A folder with a checkpoint of the course's first format (``trainer.pt`` directly in it) is
    refused: it lacks what an exact resume must check, and starting over in it silently would
    hide that.
    """
    if folder is None:
        return False
    folder = Path(folder)
    if not (folder / POINTER).exists() and (folder / "trainer.pt").exists():
        raise ValueError(f"{folder} holds a checkpoint of an older format (trainer.pt without "
                         f"{POINTER}), which cannot be resumed exactly; delete the folder (or "
                         "pass another checkpoint=) to start over")
    return (folder / POINTER).exists()


def _snapshot(folder: Path) -> Path:
    """The verified snapshot folder of a checkpoint, or a ValueError saying what is wrong."""
    def broken(why):
        return ValueError(f"the checkpoint in {folder} is corrupt or incomplete ({why}); "
                          "delete the folder (or pass another checkpoint=) to start over")

    try:
        pointer = json.loads((folder / POINTER).read_text())
        snapshot, sums = folder / pointer["snapshot"], pointer["sha256"]
    except (ValueError, KeyError, TypeError) as err:
        raise broken(f"{POINTER} cannot be read: {err}") from None
    for name, digest in sums.items():
        if not (snapshot / name).is_file():
            raise broken(f"{snapshot.name}/{name} is missing")
        if _sha256(snapshot / name) != digest:
            raise broken(f"{snapshot.name}/{name} does not match its SHA-256")
    return snapshot


def _describe_differences(saved: dict, now: dict) -> list[str]:
    lines = []
    for key in sorted(set(saved) | set(now)):
        a, b = saved.get(key), now.get(key)
        if a == b:
            continue
        if key == "parameters" and isinstance(a, dict) and isinstance(b, dict):
            diff = [f"{k}: {a.get(k, 'absent')} → {b.get(k, 'absent')}"
                    for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            lines.append("model parameters (checkpoint → now): " + "; ".join(diff[:5])
                         + ("; …" if len(diff) > 5 else ""))
        else:
            lines.append(f"{key}: checkpoint {a!r}, now {b!r}")
    return lines


def load_checkpoint(folder, model: nn.Module, optimizer=None, scheduler=None, *,
                    expect: dict | None = None) -> dict:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns the trainer state.

    ``expect``: the signature of the run that resumes (see :func:`fit`); when the saved one
    differs, nothing is restored and a ValueError lists the differences.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    if not has_checkpoint(folder):
        raise FileNotFoundError(f"no checkpoint in {folder} (expected {POINTER})")
    snapshot = _snapshot(folder)
    device = next(model.parameters()).device
    state = torch.load(snapshot / "trainer.pt", weights_only=True, map_location="cpu")
    differences = [] if expect is None else \
        _describe_differences(json.loads(state.get("signature", "{}")), expect)
    if differences:
        raise ValueError(f"cannot resume from the checkpoint in {folder}: this fit differs from "
                         "the one that wrote it, so the result would not be the uninterrupted "
                         "run's. Differences:\n  " + "\n  ".join(differences)
                         + "\nUse the same settings, or another checkpoint folder to start over.")
    optimizers = _optimizers_dict(optimizer)
    if set(optimizers) != set(state["optimizers"]):
        raise ValueError(f"checkpoint has optimizers {sorted(state['optimizers'])}, "
                         f"but fit got {sorted(optimizers)}")
    model.load_state_dict(load_file(str(snapshot / "model.safetensors"), device=str(device)))
    for name, opt in optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state
