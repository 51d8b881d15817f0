"""Transformer lab (``11_transformer_lab``): our mini-GPT against nanoGPT's ``shakespeare_char``.

Both recipes train the package's :class:`~aigc_course.models.gpt.GPT` on the lab's corpus (the
Python documentation, ``load_pydocs``) with the lab's tokeniser (byte-level BPE, 1,024 tokens,
trained on the training text), and both are scored as the lab scores its model: the mean
next-token cross-entropy in nats per token on the validation text cut into non-overlapping
64-token windows (``lm_batches(val_ids, 64)``, ``evaluate_supervised`` with ``lm_loss``).

``ours`` is the notebook's recipe: the ``mini`` preset (2 layers, 4 heads, 128 dimensions,
64-token context, no dropout), AdamW lr 3e-3, betas (0.9, 0.99), weight decay 0.01 on every
parameter, batch 32 of overlapping windows (stride 4) shuffled as ``fit`` shuffles them, a
one-cycle schedule over the notebook's 500 steps (10 % warm-up; like the notebook's, it also
cycles beta1 between 0.95 and 0.85, ``OneCycleLR``'s default), gradient clipping at 1.0.

``theirs`` is nanoGPT's ``config/train_shakespeare_char.py`` ("baby GPT") with nanoGPT's
``train.py`` defaults for what the config leaves out: 6 layers, 6 heads, 384 dimensions, block
size 256, dropout 0.2, batch 64 of windows drawn at random positions, AdamW lr 1e-3, betas
(0.9, 0.99), weight decay 0.1 on the matrices only (none on biases and LayerNorms), learning
rate warmed up linearly over 100 iterations, then cosine-decayed to 1e-4 at iteration 5,000
(``max_iters = lr_decay_iters = 5000``), gradient clipping at 1.0. Differences that come from
using the package's model class: biases in the linear layers and LayerNorms (nanoGPT's default
is ``bias=False``) and the tanh approximation of GELU (nanoGPT uses the exact one).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from types import SimpleNamespace

import torch

from ..models.gpt import GPT, GPTConfig, lm_loss
from ..train import _seed_loader_for_epoch, clip_and_step, evaluate_supervised, make_loader
from .base import Lab, Recipe

# The notebook's fast profile: the mini-GPT trains 500 steps (one-cycle schedule over them).
OURS_STEPS = 500
# The time those 500 steps take in the notebook on the reference machine (2 CPU cores,
# book/results/fast-cpu-3seeds.md). The notebook takes 85 s in all; its training is the
# mini-GPT's 500 steps, the tiny BERT's 300 steps of as many tokens (2,048) through a model of
# the same size, and 80 fine-tuning steps of half as many tokens: about 840 mini-GPT steps.
# Without ~20 s of imports, tokenisers, KV-cache timing, 🤗 conversion and evaluations, that is
# ~0.08 s a step (≈ 85 GFLOP/s for the 6.6 GFLOP of a step, plausible for 2 cores), so ≈ 40 s.
BUDGET_S = 40.0
PRESET_CTX = 64   # the mini preset's context: the lab's training and validation windows


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class GPTData:
    """The lab's corpus and tokeniser: token ids of both splits and the validation windows."""

    tokenizer: object
    vocab_size: int
    train_ids: torch.Tensor     # [N_train] token ids of the training text
    val_ids: torch.Tensor       # [N_val]
    x_val: torch.Tensor         # [windows, 64] the lab's validation windows (non-overlapping)
    y_val: torch.Tensor         # [windows, 64] the same, shifted by one token


@functools.lru_cache(maxsize=1)
def _pydocs() -> GPTData:
    from ..data import load_pydocs
    from ..text import lm_batches, train_bpe

    train_text, val_text = load_pydocs()          # the lab's split (fixed, as in the notebook)
    tokenizer = train_bpe(train_text, vocab_size=1024, special_tokens=("<|endoftext|>", "[PAD]"))
    train_ids = torch.tensor(tokenizer.encode(train_text).ids)
    val_ids = torch.tensor(tokenizer.encode(val_text).ids)
    x_val, y_val = lm_batches(val_ids, PRESET_CTX)
    return GPTData(tokenizer, tokenizer.get_vocab_size(), train_ids, val_ids, x_val, y_val)


def load_data(seed: int) -> GPTData:
    """The same data for every seed: the notebook's split and tokeniser do not depend on it."""
    return _pydocs()


def evaluate(state, data: GPTData) -> float:
    """The lab's metric: validation loss in nats/token on the 64-token validation windows."""
    loader = make_loader((data.x_val, data.y_val), 256, shuffle=False)
    return float(evaluate_supervised(state.model, loader, lm_loss)["loss"])


def lm_step(model, batch, optimizer, grad_clip: float = 1.0) -> torch.Tensor:
    """The notebook's step: next-token cross-entropy, clipped gradient, one optimizer step."""
    x, y = batch
    loss = lm_loss(model(x), y)
    clip_and_step(loss, optimizer, grad_clip=grad_clip)
    return loss.detach()


# --------------------------------------------------------------------------- ours
def ours_setup(data: GPTData, seed: int, *, total_steps: int = OURS_STEPS) -> SimpleNamespace:
    """The notebook's mini-GPT, optimizer, schedule and batch order (``fit`` with ``seed``)."""
    from ..text import lm_batches

    torch.manual_seed(seed)                      # ac.setup seeds torch, then GPT(config) draws
    model = GPT(GPTConfig.preset("mini", vocab_size=data.vocab_size))
    x_train, y_train = lm_batches(data.train_ids, model.cfg.n_ctx, stride=4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=total_steps,
                                                   pct_start=0.1)
    loader = make_loader((x_train, y_train), 32, shuffle=True)
    model.train()
    return SimpleNamespace(model=model, optimizer=optimizer, schedule=schedule, loader=loader,
                           batches=iter(()), epoch=0, seed=seed, total_steps=total_steps)


def ours_step(state) -> None:
    batch = next(state.batches, None)
    if batch is None:                            # a new epoch, shuffled as fit shuffles it
        state.epoch += 1
        _seed_loader_for_epoch(state.loader, state.seed, state.epoch)
        state.batches = iter(state.loader)
        batch = next(state.batches)
    lm_step(state.model, batch, state.optimizer)
    if state.schedule.last_epoch < state.total_steps:   # past the 500 steps: the final lr stays
        state.schedule.step()


OURS = Recipe(
    name="ours", source="notebooks/11_transformer_lab.ipynb (fast profile)",
    setup=ours_setup, train_step=ours_step, evaluate=evaluate,
    notes="GPT preset mini (2 layers, 4 heads, 128 dims, n_ctx 64, dropout 0; 0.54 M parameters) · "
          "AdamW lr 3e-3, betas (0.9, 0.99), weight decay 0.01 · batch 32 (windows, stride 4) · "
          f"OneCycleLR over {OURS_STEPS} steps, 10 % warm-up (beta1 cycled 0.95-0.85) · grad clip 1.0")


# --------------------------------------------------------------------------- theirs
#: nanoGPT's config/train_shakespeare_char.py, plus train.py's defaults it does not override.
NANOGPT = {"n_layer": 6, "n_head": 6, "n_embd": 384, "block_size": 256, "dropout": 0.2,
           "batch_size": 64, "learning_rate": 1e-3, "min_lr": 1e-4, "beta1": 0.9, "beta2": 0.99,
           "weight_decay": 0.1, "warmup_iters": 100, "lr_decay_iters": 5000, "max_iters": 5000,
           "grad_clip": 1.0}


def nanogpt_lr(it: int, hp: dict = NANOGPT) -> float:
    """nanoGPT's schedule at iteration ``it`` (from 0): linear warm-up, cosine decay, floor."""
    lr, min_lr, warmup, decay = hp["learning_rate"], hp["min_lr"], hp["warmup_iters"], hp["lr_decay_iters"]
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    progress = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def theirs_setup(data: GPTData, seed: int, *, hp: dict = NANOGPT) -> SimpleNamespace:
    """nanoGPT's baby GPT with the package's GPT class; ``hp`` overrides sizes (tests only)."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=data.vocab_size, n_ctx=hp["block_size"], n_layer=hp["n_layer"],
                          n_head=hp["n_head"], n_embd=hp["n_embd"], dropout=hp["dropout"]))
    params = [p for p in model.parameters() if p.requires_grad]   # the tied matrix appears once
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": hp["weight_decay"]},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=nanogpt_lr(0, hp), betas=(hp["beta1"], hp["beta2"]))
    model.train()
    return SimpleNamespace(model=model, optimizer=optimizer, hp=hp, it=0,
                           generator=torch.Generator().manual_seed(seed), train_ids=data.train_ids)


def theirs_step(state) -> None:
    """One nanoGPT iteration: set the lr for ``it``, a random batch, forward, clip, step."""
    hp = state.hp
    lr = nanogpt_lr(state.it, hp)
    for group in state.optimizer.param_groups:
        group["lr"] = lr
    block = hp["block_size"]
    starts = torch.randint(len(state.train_ids) - block, (hp["batch_size"],), generator=state.generator)
    offsets = torch.arange(block)
    x = state.train_ids[starts[:, None] + offsets]
    y = state.train_ids[starts[:, None] + offsets + 1]
    lm_step(state.model, (x, y), state.optimizer, grad_clip=hp["grad_clip"])
    state.it += 1


THEIRS = Recipe(
    name="nanoGPT shakespeare_char", source="karpathy/nanoGPT config/train_shakespeare_char.py "
    "(+ train.py defaults: beta1 0.9, weight decay 0.1, grad clip 1.0)",
    setup=theirs_setup, train_step=theirs_step, evaluate=evaluate,
    notes="GPT 6 layers, 6 heads, 384 dims, block 256, dropout 0.2 (11.1 M parameters) · "
          "AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices · batch 64 "
          "(random windows) · warm-up 100 its, cosine to 1e-4 at 5,000 · grad clip 1.0 · "
          "package GPT (biases, tanh GELU); scored on the lab's 64-token validation windows")


LAB = Lab(key="gpt", notebook="11_transformer_lab", metric="validation loss (nats/token)",
          lower_is_better=True, budget_s=BUDGET_S, load_data=load_data, recipes=[OURS, THEIRS])
