"""Keras 3 twin of :class:`aigc_course.models.rnn.CharLSTM`.

>>> from aigc_course.keras.rnn import char_lstm, sample_keras   # doctest: +SKIP
>>> model = char_lstm(vocab_size=100)                           # doctest: +SKIP

``char_lstm`` maps ids ``[B, T]`` to next-character logits ``[B, T, V]``; train it with
``compile(loss=SparseCategoricalCrossentropy(from_logits=True))`` on windows from
:func:`aigc_course.text.lm_batches`. ``sample_keras`` generates text with temperature, top-k
and top-p, filtering the logits with the PyTorch labs' :func:`aigc_course.models.gpt.filter_logits`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import torch
from keras import layers

from ..models.gpt import filter_logits
from ..validation import check_int, check_number


def char_lstm(vocab_size: int, embed_dim: int = 64, hidden_size: int = 256) -> keras.Model:
    """Embedding → LSTM (all time steps) → Dense logits, as a functional ``keras.Model``."""
    check_int("vocab_size", vocab_size)
    check_int("embed_dim", embed_dim)
    check_int("hidden_size", hidden_size)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(vocab_size, embed_dim)(inputs)
    x = layers.LSTM(hidden_size, return_sequences=True)(x)
    outputs = layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(inputs, outputs, name="char_lstm")


def bits_per_char_keras(model, x, y, batch_size: int = 256) -> float:
    """Mean next-character cross-entropy of ``model`` on windows ``(x, y)``, in bits."""
    logits = model.predict(np.asarray(x), batch_size=batch_size, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.asarray(y), logits)
    return float(loss) / math.log(2)


def sample_keras(model, prompt_ids, n: int, *, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, context: int = 128, seed: int = 0) -> list[int]:
    """Continue ``prompt_ids`` by ``n`` tokens, re-reading the last ``context`` tokens each step.

    (Keras' ``LSTM`` layer is stateless between calls here, so each step re-runs the window.)
    ``top_k`` / ``top_p`` keep only the most likely tokens, as in the PyTorch labs.
    """
    if len(prompt_ids) == 0:
        raise ValueError("prompt_ids must not be empty")
    check_int("n", n)
    check_number("temperature", temperature, low=0, low_open=True)
    check_int("context", context)
    rng = np.random.default_rng(seed)
    ids = [int(i) for i in prompt_ids]
    for _ in range(n):
        window = np.asarray([ids[-context:]], dtype="int32")
        logits = np.asarray(model(window, training=False))[0, -1].astype(np.float64) / temperature
        logits = filter_logits(torch.from_numpy(logits), top_k, top_p).numpy()
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids
