"""Keras 3 counterparts of the course's models.

``import aigc_course`` never imports this package, and this package does not import Keras:
the submodules ``gan``, ``vae`` and ``rnn`` do (with TensorFlow), when you import them, e.g.
``from aigc_course.keras.gan import dcgan``. ``digits_cnn`` imports Keras when called.
"""

from __future__ import annotations

import os

from ..data.digits import IMAGE_SHAPE as _CHANNELS_FIRST
from ..validation import check_int, check_number

# Keep TensorFlow's C++ start-up messages out of the notebooks (set before TF is imported).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: One digit image channels-last, as Keras convolutions want it: (8, 8, 1).
IMAGE_SHAPE = (*_CHANNELS_FIRST[1:], _CHANNELS_FIRST[0])


def digits_cnn(channels: int = 32, dropout: float = 0.25):
    """The Keras twin of :class:`aigc_course.models.DigitsCNN`.

    Input ``[B, 8, 8, 1]`` (channels-last) in [0, 1] → logits ``[B, 10]``.
    """
    import keras
    from keras import layers

    check_int("channels", channels)
    check_number("dropout", dropout, 0, 1, high_open=True)
    inputs = keras.Input(shape=IMAGE_SHAPE)
    x = layers.Conv2D(channels, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(2 * channels, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name="features")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")
