"""The Keras subpackage stays out of ``import aigc_course``; its shared constants and digits CNN."""

import subprocess
import sys

import numpy as np
import pytest

from aigc_course.data.digits import IMAGE_SHAPE as CHANNELS_FIRST


def test_importing_the_course_imports_neither_keras_nor_tensorflow(tmp_path):
    # A fresh interpreter, started outside the repository so the installed package is imported.
    # The keras subpackage itself is light too: only its submodules import Keras.
    code = ("import sys, aigc_course, aigc_course.models, aigc_course.train, aigc_course.keras\n"
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", f"imported eagerly: {run.stdout.strip()}"


def test_image_shape_is_the_digits_shape_channels_last():
    from aigc_course.keras import IMAGE_SHAPE
    from aigc_course.keras.vae import PIXELS

    assert IMAGE_SHAPE == (*CHANNELS_FIRST[1:], CHANNELS_FIRST[0]) == (8, 8, 1)
    assert PIXELS == 64


def test_digits_cnn_shapes_and_errors():
    from aigc_course.keras import digits_cnn

    model = digits_cnn(channels=4)
    assert tuple(model(np.zeros((2, 8, 8, 1), dtype=np.float32)).shape) == (2, 10)
    with pytest.raises(TypeError, match="channels must be an int, got 2.5"):
        digits_cnn(channels=2.5)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1"):
        digits_cnn(dropout=1.0)
