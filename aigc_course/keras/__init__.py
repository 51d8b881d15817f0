"""Keras 3 counterparts of the course's models (TensorFlow is imported only when used).

Import the submodules directly, e.g. ``from aigc_course.keras import digits_cnn``.
"""

from __future__ import annotations

import os

# Keep TensorFlow's C++ start-up messages out of the notebooks (set before TF is imported).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def digits_cnn(channels: int = 32, dropout: float = 0.25):
    """The Keras twin of :class:`aigc_course.models.DigitsCNN`.

    Input ``[B, 8, 8, 1]`` (channels-last) in [0, 1] → logits ``[B, 10]``.
    """
    import keras
    from keras import layers

    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive int, got {channels!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    inputs = keras.Input(shape=(8, 8, 1))
    x = layers.Conv2D(channels, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(2 * channels, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name="features")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")
