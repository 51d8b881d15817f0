"""Bad inputs fail at once with a message that names the argument, what it got and what it expects.

Each case here used to fail deep inside a library (an ``IndexError``, a format error, an
``AttributeError``) or, worse, was silently accepted and gave a wrong result.
"""

import numpy as np
import pytest
import torch

from aigc_course import audio, check, config, text
from aigc_course.data import sentiment_stream


# --------------------------------------------------------------------------- config
def test_unusable_data_dir_is_named(monkeypatch, tmp_path):
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("x")
    monkeypatch.setenv("AIGC_DATA_DIR", str(a_file / "data"))  # a folder inside a regular file
    with pytest.raises(ValueError, match=r"AIGC_DATA_DIR=.*not_a_folder.*writable folder"):
        config.data_dir()


def test_data_dir_that_is_a_file(monkeypatch, tmp_path):
    a_file = tmp_path / "data.txt"
    a_file.write_text("x")
    monkeypatch.setenv("AIGC_DATA_DIR", str(a_file))
    with pytest.raises(ValueError, match=r"AIGC_DATA_DIR=.*data\.txt.*writable folder"):
        config.data_dir()


def test_data_dir_that_is_not_writable(monkeypatch, tmp_path):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(config.os, "access", lambda path, mode: False)  # tests run as root here
    with pytest.raises(ValueError, match=r"\(the folder is not writable\); set AIGC_DATA_DIR"):
        config.data_dir()


def test_unknown_device_names_the_argument_and_choices(monkeypatch):
    with pytest.raises(ValueError, match=r"prefer='tpu'.*\('cpu', 'cuda', 'mps'\)"):
        config.get_device("tpu")
    monkeypatch.setenv("AIGC_DEVICE", "tpu")
    with pytest.raises(ValueError, match=r"AIGC_DEVICE='tpu'.*\('cpu', 'cuda', 'mps'\)"):
        config.get_device()


def test_device_given_as_torch_device_or_wrong_type():
    assert config.get_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(TypeError, match="prefer must be a device name"):
        config.get_device(0)


# --------------------------------------------------------------------------- text
def test_word_vocab_decode_unknown_id():
    vocab = text.WordVocab.build(["a b c"])
    with pytest.raises(ValueError, match=r"id 99 is not in the vocabulary \(valid ids: 0\.\.4\)"):
        vocab.decode([99])
    with pytest.raises(TypeError, match="ids must be a list of ints or a tensor, got int 99"):
        vocab.decode(99)
    assert vocab.decode(np.array([2, 3, 0])) == "a b"  # numpy ids still work; padding dropped


@pytest.mark.parametrize("max_len", [-1, 0])
def test_pad_batch_rejects_non_positive_max_len(max_len):
    with pytest.raises(ValueError, match=rf"max_len must be an int >= 1, got {max_len}"):
        text.pad_batch([[1, 2, 3]], max_len=max_len)


# --------------------------------------------------------------------------- check
@pytest.mark.parametrize("kwargs, name", [({"at_least": "0.9"}, "at_least"),
                                          ({"at_most": "2"}, "at_most")])
def test_outcome_threshold_must_be_a_number(kwargs, name):
    with pytest.raises(TypeError, match=rf"{name} must be a number, got str"):
        check.outcome("accuracy", 0.95, record=False, **kwargs)


# --------------------------------------------------------------------------- audio
def test_mel_to_audio_accepts_numpy():
    log_mel = np.full((audio.N_MELS, 12), -4.0, dtype=np.float32)
    wave = audio.mel_to_audio(log_mel, n_iter=2)
    assert isinstance(wave, torch.Tensor) and wave.shape == (11 * audio.HOP_LENGTH,)


def test_mel_spectrogram_of_nan_is_an_error():
    wave = torch.zeros(4096)
    wave[100] = float("nan")
    with pytest.raises(ValueError, match="wave contains NaN or infinite values"):
        audio.mel_spectrogram(wave)


def test_griffin_lim_rejects_negative_magnitudes():
    magnitude = torch.ones(audio.N_FFT // 2 + 1, 5)
    magnitude[3, 2] = -0.5
    with pytest.raises(ValueError, match=r"magnitude must be >= 0 .*got a minimum of -0\.5"):
        audio.griffin_lim(magnitude, n_iter=1)


# --------------------------------------------------------------------------- data
@pytest.mark.parametrize("crisis_days, err, match", [
    (5, TypeError, r"crisis_days must be a \(min, max\) pair of ints, got int 5"),
    ((5.0, 9), TypeError, r"crisis_days\[0\] must be an int, got 5\.0"),
    ((9, 5), ValueError, r"crisis_days\[1\] must be an int >= 9, got 5"),
])
def test_sentiment_stream_crisis_days(crisis_days, err, match):
    with pytest.raises(err, match=match):
        sentiment_stream(crisis_days=crisis_days)
