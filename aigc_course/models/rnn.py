"""Recurrent models for text: a character LSTM language model and an LSTM classifier.

Language model (chapter 06)::

    model = CharLSTM(vocab_size=len(vocab))
    batches = text.bptt_batches(vocab.encode(train_text), batch_size=32, seq_len=128)
    history = fit(model, batches, step=tbptt_step(len(batches), grad_clip=1.0), epochs=3)
    bits_per_char(model, vocab.encode(val_text))
    vocab.decode(sample(model, vocab.encode("The "), 200, temperature=0.8, top_k=10))

Sentiment classifier (chapter 07; reused by the bias probe of chapter 15)::

    clf = train_sentiment_classifier(train_texts, train_labels, epochs=6)
    clf.predict_proba(["Shares are not falling"])      # → [[p(negative), p(positive)]]

Shapes: token ids ``[B, T]`` (``torch.long``); LM logits ``[B, T, V]``; class logits ``[B, C]``.
Losses are in nats (PyTorch's cross-entropy); bits = nats / ln 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..train import clip_and_step, fit
from ..validation import check_bool, check_int, check_number
from .gpt import check_token_ids, filter_logits, lm_loss
from .sampling import multinomial


def _check_ids(x, vocab_size: int) -> None:
    """Token ids ``[batch, time]``; their values are read only on the CPU, where it is free."""
    if not isinstance(x, torch.Tensor) or x.is_floating_point() or x.dtype == torch.bool:
        raise TypeError(f"x must hold integer token ids (torch.long), got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.dim() != 2:
        raise ValueError(f"x must have shape [batch, time], got {tuple(x.shape)}")
    if x.device.type == "cpu":
        check_token_ids("x", x, vocab_size)


# --------------------------------------------------------------------------- language model
class CharLSTM(nn.Module):
    """Embedding → LSTM → linear: next-token logits at every position.

    ``forward(x [B, T], state=None) -> (logits [B, T, V], state)`` where ``state`` is the LSTM's
    ``(h, c)``, each ``[num_layers, B, hidden_size]``; pass it back in to continue a sequence.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("embed_dim", embed_dim),
                        ("hidden_size", hidden_size), ("num_layers", num_layers)):
            check_int(name, v)
        check_number("dropout", dropout, 0.0, 1.0, high_open=True)
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        _check_ids(x, self.vocab_size)
        out, state = self.lstm(self.embed(x), state)
        return self.head(self.drop(out)), state


def lm_step(grad_clip: float | None = 1.0):
    """A :func:`fit` step for independent ``(x, y)`` windows (state starts at zero each batch)."""

    def step(model, batch, optimizer):
        x, y = batch
        logits, _ = model(x)
        loss = lm_loss(logits, y)
        clip_and_step(loss, optimizer, model.parameters(), grad_clip)
        return {"loss": loss.detach(), "bits_per_char": loss.detach() / math.log(2)}

    return step


class tbptt_step:
    """A :func:`fit` step for truncated back-propagation through time.

    Batches must come in order from :func:`aigc_course.text.bptt_batches`: the hidden state
    left by one batch is the starting state of the next (``detach``-ed, so gradients stop at
    the batch boundary: that is the *truncation*). The state is reset every
    ``batches_per_epoch`` steps, when the streams start again from the beginning.

    The hidden state and the call count are the step's own state: ``state_dict()`` /
    ``load_state_dict()`` let a :func:`fit` checkpoint save and restore them.
    """

    def __init__(self, batches_per_epoch: int, grad_clip: float | None = 1.0):
        self.batches_per_epoch = check_int("batches_per_epoch", batches_per_epoch)
        self.grad_clip = grad_clip
        self.state = None
        self.count = 0

    def state_dict(self) -> dict:
        return {"count": self.count, "state": None if self.state is None else list(self.state)}

    def load_state_dict(self, state: dict) -> None:
        self.count = state["count"]
        self.state = None if state["state"] is None else tuple(state["state"])

    def __call__(self, model, batch, optimizer):
        if self.count % self.batches_per_epoch == 0:
            self.state = None
        self.count += 1
        x, y = batch
        if self.state is not None and self.state[0].device != x.device:  # restored on the CPU
            self.state = tuple(s.to(x.device) for s in self.state)
        logits, state = model(x, self.state)
        self.state = tuple(s.detach() for s in state)
        loss = lm_loss(logits, y)
        clip_and_step(loss, optimizer, model.parameters(), self.grad_clip)
        return {"loss": loss.detach(), "bits_per_char": loss.detach() / math.log(2)}


@torch.no_grad()
def bits_per_char(model: CharLSTM, ids, *, streams: int = 16, seq_len: int = 256) -> float:
    """Mean next-token cross-entropy of ``model`` on a token stream, in bits per token.

    The stream is split into ``streams`` parallel rows read left to right with the state
    carried along, so every prediction (but the first of each row) sees all the text before it.
    """
    from ..text import bptt_batches

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    batches = bptt_batches(ids, batch_size=streams, seq_len=seq_len)
    total, n, state = 0.0, 0, None
    for x, y in batches:
        logits, state = model(x.to(device), state)
        total += float(lm_loss(logits, y.to(device))) * y.numel()
        n += y.numel()
    model.train(was_training)
    return total / n / math.log(2)


@torch.no_grad()
def sample(model: CharLSTM, prompt, n: int, *, temperature: float = 1.0, top_k: int | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Continue ``prompt`` (ids ``[T]``) by ``n`` sampled tokens; returns prompt + new ids ``[T + n]``.

    ``temperature`` < 1 sharpens the distribution (safer, more repetitive), > 1 flattens it;
    ``top_k`` keeps only the k most likely tokens before sampling; ``temperature=0`` is greedy.
    """
    if not isinstance(prompt, torch.Tensor) or prompt.dim() != 1 or len(prompt) == 0:
        raise ValueError("prompt must be a non-empty 1-D LongTensor of ids")
    check_int("n", n)
    check_number("temperature", temperature, low=0.0)
    if top_k is not None:
        check_int("top_k", top_k)
    check_token_ids("prompt", prompt, model.vocab_size)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(prompt.to(device)[None], None)
    last = logits[0, -1]
    out = [int(t) for t in prompt]
    for _ in range(n):
        if temperature == 0:
            nxt = int(last.argmax())
        else:
            probs = torch.softmax(filter_logits(last.float() / temperature, top_k), dim=-1)
            nxt = int(multinomial(probs[None], generator))
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]], device=device), state)
        last = logits[0, -1]
    model.train(was_training)
    return torch.tensor(out, dtype=torch.long)


# --------------------------------------------------------------------------- classifier
class LSTMClassifier(nn.Module):
    """Embedding → (bi)LSTM over the real tokens only (packed) → linear class logits.

    ``forward(x [B, T]) -> logits [B, num_classes]``. Padding is ``padding_idx`` (0) on the
    right; the lengths are read from it and the padded positions are skipped with
    ``pack_padded_sequence``, so padding never changes a prediction.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 64,
                 num_classes: int = 2, bidirectional: bool = True, padding_idx: int = 0,
                 dropout: float = 0.0):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("embed_dim", embed_dim),
                        ("hidden_size", hidden_size), ("num_classes", num_classes)):
            check_int(name, v)
        self.vocab_size, self.padding_idx = vocab_size, padding_idx
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_ids(x, self.vocab_size)
        lengths = (x != self.padding_idx).sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embed(x), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h: [directions, B, H], the state after each real last token
        h = torch.cat(list(h), dim=-1)
        return self.head(self.drop(h))


@dataclass
class SentimentModel:
    """A trained :class:`LSTMClassifier` with its vocabulary: raw texts in, probabilities out."""

    model: LSTMClassifier
    vocab: object  # aigc_course.text.WordVocab
    max_len: int = 64

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        from ..text import pad_batch

        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        return pad_batch([self.vocab.encode(t) for t in texts], max_len=self.max_len)[0]

    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 512) -> torch.Tensor:
        """Class probabilities ``[N, C]`` (for sentiment: column 1 = positive)."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        self.model.eval()
        device = next(self.model.parameters()).device
        texts = list(texts)
        if not texts:
            raise ValueError("texts is empty")
        out = [torch.softmax(self.model(self.encode(texts[i:i + batch_size]).to(device)), -1).cpu()
               for i in range(0, len(texts), batch_size)]
        return torch.cat(out)

    def predict(self, texts: Sequence[str]) -> torch.Tensor:
        """Predicted classes ``[N]``."""
        return self.predict_proba(texts).argmax(1)


def train_sentiment_classifier(texts: Sequence[str], labels, *, val_texts=None, val_labels=None,
                               epochs: int = 6, batch_size: int = 64, lr: float = 3e-3,
                               embed_dim: int = 64, hidden_size: int = 64, max_len: int = 64,
                               bidirectional: bool = True, seed: int = 0, progress: bool = False,
                               device=None):
    """Train an :class:`LSTMClassifier` on labelled texts with :func:`fit`.

    Returns ``(SentimentModel, History)``. The recipe: :class:`~aigc_course.text.WordVocab`
    built on ``texts`` → right-padded ids (cut at ``max_len`` tokens) → LSTM, bidirectional
    unless ``bidirectional=False`` (packed, so padding is ignored) → Adam, gradient clipping 1.0.
    """
    from ..text import WordVocab

    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings")
    labels = torch.as_tensor(labels)
    if labels.is_floating_point() or labels.dim() != 1 or len(labels) != len(texts):
        raise ValueError(f"labels must be {len(texts)} integer class ids, got shape {tuple(labels.shape)} "
                         f"and dtype {labels.dtype}")
    torch.manual_seed(seed)
    vocab = WordVocab.build(texts)
    model = LSTMClassifier(len(vocab), embed_dim, hidden_size, num_classes=int(labels.max()) + 1,
                           bidirectional=check_bool("bidirectional", bidirectional))
    wrapped = SentimentModel(model, vocab, max_len=check_int("max_len", max_len))
    x = wrapped.encode(texts)
    val = None
    if val_texts is not None:
        val = (wrapped.encode(val_texts), torch.as_tensor(val_labels).long())
    history = fit(model, (x, labels.long()), optimizer=torch.optim.Adam(model.parameters(), lr=lr),
                  epochs=epochs, batch_size=batch_size, val_data=val, grad_clip=1.0, seed=seed,
                  progress=progress, device=device)
    return wrapped, history
