"""Keras 3 twin of :class:`aigc_course.models.rnn.CharLSTM` (TensorFlow is imported inside).

>>> from aigc_course.keras.rnn import char_lstm, sample_keras   # doctest: +SKIP
>>> model = char_lstm(vocab_size=100)                           # doctest: +SKIP

``char_lstm`` maps ids ``[B, T]`` to next-character logits ``[B, T, V]``; train it with
``compile(loss=SparseCategoricalCrossentropy(from_logits=True))`` on windows from
:func:`aigc_course.text.lm_batches`. ``sample_keras`` generates text with temperature and top-k.
"""

from __future__ import annotations

import math

import numpy as np


def char_lstm(vocab_size: int, embed_dim: int = 64, hidden_size: int = 256):
    """Embedding → LSTM (all time steps) → Dense logits, as a functional ``keras.Model``."""
    import keras
    from keras import layers

    for name, v in (("vocab_size", vocab_size), ("embed_dim", embed_dim), ("hidden_size", hidden_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(vocab_size, embed_dim)(inputs)
    x = layers.LSTM(hidden_size, return_sequences=True)(x)
    outputs = layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(inputs, outputs, name="char_lstm")


def bits_per_char_keras(model, x, y, batch_size: int = 256) -> float:
    """Mean next-character cross-entropy of ``model`` on windows ``(x, y)``, in bits."""
    import keras

    logits = model.predict(np.asarray(x), batch_size=batch_size, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(np.asarray(y), logits)
    return float(loss) / math.log(2)


def sample_keras(model, prompt_ids, n: int, *, temperature: float = 1.0, top_k: int | None = None,
                 context: int = 128, seed: int = 0) -> list[int]:
    """Continue ``prompt_ids`` by ``n`` tokens, re-reading the last ``context`` tokens each step.

    (Keras' ``LSTM`` layer is stateless between calls here, so each step re-runs the window.)
    """
    if len(prompt_ids) == 0:
        raise ValueError("prompt_ids must not be empty")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    rng = np.random.default_rng(seed)
    ids = [int(i) for i in prompt_ids]
    for _ in range(n):
        window = np.asarray([ids[-context:]], dtype="int32")
        logits = np.asarray(model(window, training=False))[0, -1].astype(np.float64) / temperature
        if top_k is not None and top_k < len(logits):
            kth = np.sort(logits)[-top_k]
            logits = np.where(logits < kth, -np.inf, logits)
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return ids
