"""``speak("any sentence")``: text → phonemes → FastSpeech → mel → Griffin-Lim → playable audio.

The trained model lives in ``<data dir>/tts/fastspeech.safetensors`` (weights, with the model's
configuration and phoneme vocabulary in the file's metadata). The TTS lab saves it there with
:func:`save_tts`; when no model is saved yet, :func:`speak` trains the fast-profile recipe first
(about a minute on a laptop CPU) and saves it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import audio, config

DEFAULT_RECIPE = {"n_utterances": 600, "n_val": 60, "steps": 300, "batch_size": 8, "lr": 2e-3}
_session: dict = {}


@dataclass
class Speech:
    """One synthesised utterance. In a notebook it shows as an audio player.

    ``wave``: float32 ``[samples]`` at ``sample_rate``; ``mel``: log-mel ``[80, frames]``;
    ``phonemes`` with the predicted ``durations`` (frames).
    """

    text: str
    phonemes: list
    durations: list
    mel: torch.Tensor
    wave: np.ndarray
    sample_rate: int = audio.SAMPLE_RATE

    @property
    def seconds(self) -> float:
        return len(self.wave) / self.sample_rate

    def player(self):
        """An ``IPython.display.Audio`` player."""
        return audio.play(self.wave, self.sample_rate)

    def _repr_html_(self):
        return self.player()._repr_html_()

    def save(self, path) -> Path:
        """Write a 16-bit WAV file."""
        return audio.write_wav(path, self.wave, self.sample_rate)


def default_path() -> Path:
    return config.data_dir() / "tts" / "fastspeech.safetensors"


def save_tts(model, vocab: list, path=None) -> Path:
    """Save a trained :class:`~aigc_course.models.tts.FastSpeech` and its phoneme vocabulary
    (safetensors; no pickle), and make it the model :func:`speak` uses in this session."""
    from safetensors.torch import save_file

    path = Path(path) if path is not None else default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = config.private_tmp(path)
    save_file(weights, str(tmp), metadata={"config": json.dumps(model.config), "vocab": json.dumps(vocab)})
    tmp.replace(path)
    _session["model"] = (model, list(vocab))
    return path


def load_tts(path=None):
    """Load a model saved by :func:`save_tts` → ``(model, vocab)`` (CPU, eval mode)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from ..models.tts import FastSpeech

    path = Path(path) if path is not None else default_path()
    if not path.exists():
        raise FileNotFoundError(f"no trained TTS model at {path}: run the TTS lab (12_tts_lab) "
                                "or call speak() once to train one")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    model = FastSpeech(**json.loads(meta["config"]))
    model.load_state_dict(load_file(str(path)))
    return model.eval(), json.loads(meta["vocab"])


def train_tts(seed: int = 0, progress: bool = True, **recipe):
    """Train the fast-profile FastSpeech recipe on the eSpeak NG corpus → ``(model, vocab)``."""
    from ..models.tts import FastSpeech, fastspeech_step
    from ..train import fit
    from .corpus import load_speech_corpus

    r = {**DEFAULT_RECIPE, **recipe}
    corpus = load_speech_corpus(r["n_utterances"])
    train, _ = corpus.split(r["n_val"])
    torch.manual_seed(seed)
    model = FastSpeech(len(corpus.vocab), mel_mean=train.mean_mel())
    fit(model, train.loader(r["batch_size"]), step=fastspeech_step, epochs=10_000,
        max_steps=r["steps"], optimizer=torch.optim.Adam(model.parameters(), lr=r["lr"]),
        seed=seed, progress=progress, device="cpu")
    return model.eval(), corpus.vocab


def speak(text: str, model=None, vocab: list | None = None, pace: float = 1.0,
          n_iter: int = 32) -> Speech:
    """Say ``text`` with the course's trained FastSpeech model and Griffin-Lim.

    Args:
        text: any English text (numbers and abbreviations are spelled out first).
        model, vocab: a trained model and its vocabulary (default: the one saved by the lab).
        pace: > 1 speaks faster (durations are divided by it).
        n_iter: Griffin-Lim iterations (more: fewer phase artefacts, slower).

    Returns a :class:`Speech`, which plays in a notebook.
    """
    from .corpus import encode_phonemes
    from .frontend import phonemize

    if not pace > 0:
        raise ValueError(f"pace must be positive, got {pace}")
    if model is None:
        if "model" not in _session:
            try:
                _session["model"] = load_tts()
            except FileNotFoundError:
                print("No trained TTS model yet: training the fast-profile recipe (about a minute)...")
                save_tts(*train_tts(progress=False))
        model, vocab = _session["model"]
    elif vocab is None:
        raise ValueError("pass the model's phoneme vocabulary too: speak(text, model=m, vocab=corpus.vocab)")
    front = phonemize(text)  # raises ValueError on empty / unspeakable text
    ids = encode_phonemes(front.phonemes, vocab)[None]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(ids.to(device), pace=pace)
    model.train(was_training)
    mel = out.mel[0, : int(out.n_frames[0])].T.cpu()
    if mel.shape[1] < 5:
        mel = torch.nn.functional.pad(mel, (0, 5 - mel.shape[1]), value=float(np.log(audio.LOG_FLOOR)))
    wave = audio.mel_to_audio(mel, n_iter=n_iter).numpy()
    return Speech(front.text, front.phonemes, out.durations[0].tolist(), mel, wave)
