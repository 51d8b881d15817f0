"""Tests of the Keras character LSTM (chapter 06 companion): shapes, sampling filters, bad input."""

import math

import numpy as np
import pytest

from aigc_course.keras import rnn as KR


class FixedLogits:
    """A stand-in model: the same next-token logits after every window."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, dtype=np.float32)

    def __call__(self, window, training=False):
        return np.broadcast_to(self.logits, (1, window.shape[1], len(self.logits)))


def test_char_lstm_shapes_and_bits_per_char():
    import keras

    keras.utils.set_random_seed(0)
    model = KR.char_lstm(12, embed_dim=4, hidden_size=8)
    x = np.random.default_rng(0).integers(0, 12, (3, 7)).astype("int32")
    assert tuple(model(x).shape) == (3, 7, 12)
    # an untrained model is close to uniform: about log2(12) bits per character
    assert KR.bits_per_char_keras(model, x, x) == pytest.approx(math.log2(12), abs=0.05)
    with pytest.raises(TypeError, match="embed_dim must be an int"):
        KR.char_lstm(12, embed_dim=4.0)
    with pytest.raises(ValueError, match="vocab_size must be an int >= 1, got 0"):
        KR.char_lstm(0)


def test_sampling_keeps_only_the_top_k_or_the_nucleus():
    model = FixedLogits([0.0, 3.0, 2.9, 1.0, -1.0])
    drawn = set(KR.sample_keras(model, [0], 200, top_k=2, seed=0)[1:])
    assert drawn == {1, 2}
    assert set(KR.sample_keras(model, [0], 50, top_k=1, seed=0)[1:]) == {1}  # greedy
    # p = softmax = (0.02, 0.48, 0.43, 0.06, 0.01): the nucleus of mass 0.5 is {1, 2}
    assert set(KR.sample_keras(model, [0], 200, top_p=0.5, seed=0)[1:]) == {1, 2}
    assert len(set(KR.sample_keras(model, [0], 1000, seed=0)[1:])) == 5  # no filter: all appear
    ids = KR.sample_keras(model, [4, 4], 20, temperature=0.5, seed=3)
    assert ids[:2] == [4, 4] and len(ids) == 22
    assert ids == KR.sample_keras(model, [4, 4], 20, temperature=0.5, seed=3)


def test_sampling_errors():
    model = FixedLogits([0.0, 1.0])
    with pytest.raises(ValueError, match="prompt_ids must not be empty"):
        KR.sample_keras(model, [], 3)
    with pytest.raises(ValueError, match="n must be an int >= 1, got 0"):
        KR.sample_keras(model, [0], 0)
    with pytest.raises(ValueError, match=r"temperature must be in \(0, inf\], got 0"):
        KR.sample_keras(model, [0], 3, temperature=0.0)
    with pytest.raises(ValueError, match="top_k must be .*, got 0"):
        KR.sample_keras(model, [0], 3, top_k=0)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        KR.sample_keras(model, [0], 3, top_p=1.5)
