"""Lab 06 (character LSTM): our recipe against Karpathy's char-rnn defaults, same budget.

Both recipes train on the lab's data (the Python documentation, ``load_pydocs()``, with the
lab's character vocabulary) and are scored as the lab scores its model: validation bits per
character with :func:`aigc_course.models.rnn.bits_per_char` (16 parallel streams, state
carried along; lower is better).

* ``ours`` is the notebook's main model, step for step: ``CharLSTM(V, embed_dim=64,
  hidden_size=256)`` (one layer), Adam lr 5e-3 (default betas), truncated BPTT on
  ``bptt_batches(batch_size=64, seq_len=64)`` with :class:`~aigc_course.models.rnn.tbptt_step`
  (state carried and detached, reset every epoch, gradient-norm clipping 1.0). The notebook
  trains 240 such steps; here it steps until the wall-clock budget is spent.
* ``char-rnn`` re-implements the defaults of Karpathy's ``train.lua`` (github.com/karpathy/
  char-rnn): a 2-layer LSTM with 128 units fed the characters **one-hot** (no embedding),
  a linear read-out, parameters initialised uniformly in [-0.08, 0.08] and the forget-gate
  biases of the input-to-hidden maps set to 1; batches of 50 streams × 50 characters read in
  order with the state carried across batches; the loss summed over the 50 time steps (mean
  over the batch), gradients clamped element-wise to [-5, 5]; RMSprop lr 2e-3, decay rate
  (alpha) 0.95, eps 1e-8; dropout 0; the learning rate multiplied by 0.97 at the end of every
  epoch from epoch 10 on (kept for fidelity: at this budget it never triggers, one epoch is
  173 steps).

A third recipe, an ablation, is char-rnn with our optimiser (Adam lr 5e-3): it tells whether
char-rnn's gap at this budget is its optimiser or its model.

The budget: the notebook's fast profile trains the main model for 240 steps, which took 15 s
on the 2-core reference machine (its recorded run; the whole notebook took 37 s in
``book/results/fast-cpu-3seeds.md``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..data import load_pydocs
from ..models.gpt import lm_loss
from ..models.rnn import CharLSTM, bits_per_char, tbptt_step
from ..text import CharVocab, bptt_batches
from .base import Lab, Recipe

BUDGET_S = 15.0

# ours: the notebook's main model and optimiser (fast profile)
OURS = {"embed_dim": 64, "hidden_size": 256, "num_layers": 1, "batch_size": 64, "seq_len": 64,
        "lr": 5e-3, "grad_clip": 1.0}
# theirs: char-rnn's train.lua defaults
CHAR_RNN = {"hidden_size": 128, "num_layers": 2, "batch_size": 50, "seq_len": 50, "lr": 2e-3,
            "alpha": 0.95, "eps": 1e-8, "dropout": 0.0, "grad_clip": 5.0, "param_init": 0.08,
            "forget_bias": 1.0, "lr_decay": 0.97, "lr_decay_after": 10}


@dataclass
class LSTMData:
    """The lab's data: its vocabulary and the encoded training and validation text."""

    vocab: CharVocab
    train_ids: torch.Tensor
    val_ids: torch.Tensor


def load_data(seed: int) -> LSTMData:
    """The lab's split of the Python documentation (fixed: it does not depend on ``seed``)."""
    train_text, val_text = load_pydocs()
    vocab = CharVocab.from_text(train_text, unk=True)
    return LSTMData(vocab, vocab.encode(train_text), vocab.encode(val_text))


@dataclass
class _State:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    batches: list
    step: object = None          # ours: the package's tbptt_step
    hidden: tuple | None = None  # char-rnn: the carried LSTM state
    count: int = 0               # steps done


def evaluate(state: _State, data: LSTMData) -> float:
    """The lab's metric: validation bits per character (``bits_per_char``, eval mode)."""
    return bits_per_char(state.model, data.val_ids)


# --------------------------------------------------------------------------- ours
def setup_ours(data: LSTMData, seed: int) -> _State:
    torch.manual_seed(seed)
    c = OURS
    model = CharLSTM(len(data.vocab), embed_dim=c["embed_dim"], hidden_size=c["hidden_size"],
                     num_layers=c["num_layers"])
    batches = bptt_batches(data.train_ids, batch_size=c["batch_size"], seq_len=c["seq_len"])
    optimizer = torch.optim.Adam(model.parameters(), lr=c["lr"])
    return _State(model, optimizer, batches, step=tbptt_step(len(batches), grad_clip=c["grad_clip"]))


def train_step_ours(state: _State) -> None:
    """One step of the notebook's ``fit`` loop: the batches in order, epoch after epoch."""
    state.model.train()
    state.step(state.model, state.batches[state.count % len(state.batches)], state.optimizer)
    state.count += 1


# --------------------------------------------------------------------------- char-rnn
class OneHotLSTM(nn.Module):
    """char-rnn's model: one-hot characters → stacked LSTM → linear next-character logits.

    ``forward(x [B, T], state=None) -> (logits [B, T, V], state)``, the interface of
    :class:`~aigc_course.models.rnn.CharLSTM`, so ``bits_per_char`` scores it the same way.
    """

    def __init__(self, vocab_size: int, hidden_size: int = 128, num_layers: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.lstm = nn.LSTM(vocab_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        out, state = self.lstm(F.one_hot(x, self.vocab_size).float(), state)
        return self.head(self.drop(out)), state


def setup_char_rnn(data: LSTMData, seed: int, adam_lr: float | None = None) -> _State:
    """char-rnn's model and RMSprop; with ``adam_lr``, Adam at that rate instead (an ablation)."""
    torch.manual_seed(seed)
    c = CHAR_RNN
    model = OneHotLSTM(len(data.vocab), c["hidden_size"], c["num_layers"], c["dropout"])
    h = c["hidden_size"]
    with torch.no_grad():
        for p in model.parameters():          # train.lua: params:uniform(-0.08, 0.08)
            p.uniform_(-c["param_init"], c["param_init"])
        for k in range(c["num_layers"]):      # forget gates (2nd block of i, f, ·, ·) start at 1
            getattr(model.lstm, f"bias_ih_l{k}")[h:2 * h] = c["forget_bias"]
    batches = bptt_batches(data.train_ids, batch_size=c["batch_size"], seq_len=c["seq_len"])
    optimizer = (torch.optim.Adam(model.parameters(), lr=adam_lr) if adam_lr else
                 torch.optim.RMSprop(model.parameters(), lr=c["lr"], alpha=c["alpha"], eps=c["eps"]))
    return _State(model, optimizer, batches)


def train_step_char_rnn(state: _State) -> None:
    """One char-rnn iteration: summed-over-time loss, element-wise clamp, RMSprop, lr decay."""
    c = CHAR_RNN
    model, n = state.model, len(state.batches)
    model.train()
    x, y = state.batches[state.count % n]
    logits, hidden = model(x, state.hidden)
    state.hidden = tuple(s.detach() for s in hidden)   # carried over, never reset (train.lua)
    loss = lm_loss(logits, y) * x.shape[1]             # Σ over time of the batch-mean NLL
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for p in model.parameters():
        p.grad.clamp_(-c["grad_clip"], c["grad_clip"])
    state.optimizer.step()
    state.count += 1
    epoch = state.count / n
    if state.count % n == 0 and epoch >= c["lr_decay_after"]:
        for group in state.optimizer.param_groups:
            group["lr"] *= c["lr_decay"]


# --------------------------------------------------------------------------- the lab
LAB = Lab(
    key="lstm",
    notebook="06_lstm_text_generation",
    metric="validation bits/char (Python docs)",
    lower_is_better=True,
    budget_s=BUDGET_S,
    load_data=load_data,
    recipes=[
        Recipe("ours", "notebooks/06_lstm_text_generation.ipynb (fast profile)", setup_ours,
               train_step_ours, evaluate,
               notes="CharLSTM embed 64, 1×256 LSTM; Adam lr 5e-3; TBPTT batch 64 × seq 64, "
                     "state reset each epoch; grad-norm clip 1.0; no dropout"),
        Recipe("char-rnn", "Karpathy, char-rnn train.lua defaults (github.com/karpathy/char-rnn)",
               setup_char_rnn, train_step_char_rnn, evaluate,
               notes="one-hot input, 2×128 LSTM; init U(±0.08), forget bias 1; RMSprop lr 2e-3 "
                     "alpha 0.95; batch 50 × seq 50, state carried; loss summed over time, "
                     "grad clamp ±5; dropout 0; lr × 0.97 per epoch after epoch 10"),
        Recipe("char-rnn, our Adam", "ablation: char-rnn with our optimiser",
               functools.partial(setup_char_rnn, adam_lr=OURS["lr"]), train_step_char_rnn, evaluate,
               notes="char-rnn above, except Adam lr 5e-3 (ours) instead of RMSprop lr 2e-3"),
    ],
)
