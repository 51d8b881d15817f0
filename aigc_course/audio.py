"""Audio for the text-to-speech lab: mel spectrograms, Griffin-Lim, WAV files, in-page players.

The course's audio settings are those of most open TTS recipes (Tacotron 2, FastSpeech, HiFi-GAN
on LJSpeech): 22,050 Hz, a 1,024-sample window (46 ms) moved by 256 samples (11.6 ms per frame),
80 mel bands from 0 to 8 kHz, and natural-log magnitudes floored at ``1e-5``.

Shapes: a waveform is a 1-D float tensor ``[samples]`` in [-1, 1]; a log-mel spectrogram is
``[80, frames]`` (or ``[batch, 80, frames]``); a magnitude spectrogram is ``[513, frames]``.
Everything is plain ``torch`` (``torch.stft``/``torch.istft``); librosa is used only for the mel
filter bank and is imported inside the function that needs it (torchaudio is not used: its wheel
does not import with the course's CPU build of torch).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .validation import check_finite, check_int, check_number

SAMPLE_RATE = 22_050
N_FFT = 1024
HOP_LENGTH = 256
WIN_LENGTH = 1024
N_MELS = 80
F_MIN = 0.0
F_MAX = 8_000.0
LOG_FLOOR = 1e-5


def _as_wave(wave) -> torch.Tensor:
    """A 1-D float32 tensor from a numpy array / tensor / list; int16 PCM is rescaled.

    NaN or infinite samples are an error (they would spread to every frame of a spectrogram).
    """
    if isinstance(wave, np.ndarray) and wave.dtype == np.int16:
        wave = wave.astype(np.float32) / 32768.0
    t = torch.as_tensor(wave)
    if not torch.is_floating_point(t):
        raise TypeError(f"waveform must hold floats in [-1, 1] (or int16 PCM), got dtype {t.dtype}")
    if t.dim() != 1:
        raise ValueError(f"waveform must be 1-D [samples], got shape {tuple(t.shape)}")
    if t.numel() < WIN_LENGTH:
        raise ValueError(f"waveform too short: {t.numel()} samples, need at least {WIN_LENGTH}")
    return check_finite("wave", t.float())


def _window(device) -> torch.Tensor:
    return torch.hann_window(WIN_LENGTH, device=device)


def stft(wave) -> torch.Tensor:
    """Complex short-time Fourier transform ``[513, frames]``, ``frames = samples // 256 + 1``."""
    wave = _as_wave(wave)
    return torch.stft(wave, N_FFT, HOP_LENGTH, WIN_LENGTH, window=_window(wave.device),
                      center=True, return_complex=True)


def istft(spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
    """Inverse of :func:`stft` (overlap-add); ``length`` trims/pads to that many samples."""
    return torch.istft(spec, N_FFT, HOP_LENGTH, WIN_LENGTH, window=_window(spec.device),
                       center=True, length=length)


@lru_cache(maxsize=2)
def _mel_basis_np() -> np.ndarray:
    import warnings

    with warnings.catch_warnings():  # librosa imports tqdm.auto, which warns without ipywidgets
        warnings.filterwarnings("ignore", message="IProgress not found")
        import librosa  # lazy: librosa is slow to import

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX)


def mel_basis(device="cpu") -> torch.Tensor:
    """The ``[80, 513]`` Slaney-style mel filter bank (triangles on the mel scale)."""
    return torch.from_numpy(_mel_basis_np()).to(device)


def mel_spectrogram(wave) -> torch.Tensor:
    """Log-mel spectrogram ``[80, frames]``: ``ln(max(mel_filters @ |STFT|, 1e-5))``.

    Silence sits at ``ln(1e-5) ≈ -11.5``; loud speech near 0 to 2.
    """
    mag = stft(wave).abs()
    mel = mel_basis(mag.device) @ mag
    return torch.log(torch.clamp(mel, min=LOG_FLOOR))


def mel_to_magnitude(log_mel: torch.Tensor) -> torch.Tensor:
    """Approximate linear magnitudes ``[513, frames]`` from a log-mel ``[80, frames]``.

    80 bands cannot determine 513 frequency bins, so this is a least-squares guess (the
    pseudo-inverse of the filter bank, clipped at zero): the first loss of information.
    """
    log_mel = torch.as_tensor(log_mel).float()
    if log_mel.dim() != 2 or log_mel.shape[0] != N_MELS:
        raise ValueError(f"log_mel must be [{N_MELS}, frames], got shape {tuple(log_mel.shape)}")
    pinv = torch.linalg.pinv(mel_basis(log_mel.device))
    return torch.clamp(pinv @ torch.exp(log_mel), min=0.0)


def griffin_lim(magnitude: torch.Tensor, n_iter: int = 32, momentum: float = 0.99,
                length: int | None = None, seed: int = 0) -> torch.Tensor:
    """Recover a waveform whose STFT magnitude matches ``magnitude`` ``[513, frames]``.

    Griffin & Lim (1984) alternate between the two constraints: keep the phase of the current
    signal's STFT but impose the target magnitude, then go back to a real signal (iSTFT). The
    ``momentum`` term is the "fast Griffin-Lim" acceleration of Perraudin et al. (2013).
    """
    magnitude = torch.as_tensor(magnitude).float()
    if magnitude.dim() != 2 or magnitude.shape[0] != N_FFT // 2 + 1:
        raise ValueError(f"magnitude must be [{N_FFT // 2 + 1}, frames], "
                         f"got {tuple(magnitude.shape)}")
    check_finite("magnitude", magnitude)
    if bool((magnitude < 0).any()):
        raise ValueError(f"magnitude must be >= 0 (it is |STFT|, e.g. from mel_to_magnitude), "
                         f"got a minimum of {float(magnitude.min()):g}")
    check_int("n_iter", n_iter)
    check_number("momentum", momentum, 0.0, 1.0, high_open=True)
    length = length or (magnitude.shape[1] - 1) * HOP_LENGTH
    gen = torch.Generator().manual_seed(seed)
    phase = torch.exp(2j * torch.pi * torch.rand(magnitude.shape, generator=gen))
    phase = phase.to(magnitude.device)
    previous = torch.zeros_like(phase)
    for _ in range(n_iter):
        wave = istft(magnitude * phase, length)
        rebuilt = torch.stft(wave, N_FFT, HOP_LENGTH, WIN_LENGTH, window=_window(wave.device),
                             center=True, return_complex=True)
        accelerated = rebuilt - momentum / (1 + momentum) * previous
        previous = rebuilt
        phase = accelerated / accelerated.abs().clamp(min=1e-8)
    return istft(magnitude * phase, length)


def mel_to_audio(log_mel: torch.Tensor, n_iter: int = 32) -> torch.Tensor:
    """Log-mel ``[80, frames]`` (a tensor or a numpy array) → waveform ``[samples]`` in [-1, 1]
    (pseudo-inverse + Griffin-Lim)."""
    log_mel = torch.as_tensor(log_mel).detach().cpu()
    wave = griffin_lim(mel_to_magnitude(log_mel), n_iter=n_iter)
    peak = wave.abs().max()
    return wave / peak * 0.95 if peak > 1.0 else wave


def spectral_convergence(wave, reference) -> float:
    """``‖|S_ref| − |S|‖_F / ‖|S_ref|‖_F`` on STFT magnitudes: 0 for a perfect rebuild (phase-blind)."""
    a, b = stft(wave).abs(), stft(reference).abs()
    n = min(a.shape[1], b.shape[1])
    return float(torch.linalg.norm(b[:, :n] - a[:, :n]) / torch.linalg.norm(b[:, :n]))


def write_wav(path, wave, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a mono 16-bit WAV file with ``soundfile``; returns the path."""
    import soundfile as sf

    data = _as_wave(wave).detach().cpu().numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(data, -1.0, 1.0), sample_rate, subtype="PCM_16")
    return path


def read_wav(path) -> tuple[torch.Tensor, int]:
    """Read a WAV file (mono, or the first channel) → ``(waveform [samples] float32, sample_rate)``."""
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(data[:, 0].copy()), int(sr)


def play(wave, sample_rate: int = SAMPLE_RATE):
    """An in-page audio player (``IPython.display.Audio``) for a waveform."""
    from IPython.display import Audio

    data = _as_wave(wave).detach().cpu().numpy()
    return Audio(data, rate=sample_rate, normalize=True)
