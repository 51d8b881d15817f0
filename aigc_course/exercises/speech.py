"""Checks for the text-to-speech exercises (notebook 12): the length regulator and one
Griffin-Lim iteration.

* :func:`length_regulator` compares the learner's function with
  :func:`aigc_course.models.tts.length_regulate` (frames only, zero padded to the longest item).
* :func:`griffin_lim_step` compares one iteration with :func:`griffin_lim_step_reference`, the
  maths of one pass of :func:`aigc_course.audio.griffin_lim`'s loop without momentum
  (``tests/test_exercises_diffusion_speech.py`` checks that iterating it reproduces
  ``griffin_lim(..., momentum=0)``), on the course's STFT settings.
"""

from __future__ import annotations

import torch

from .. import check as _check  # not `from ..check import`: that looks up check.__path__

__all__ = ["griffin_lim_step", "length_regulator"]


def _guarded(mine, name: str, hint: str):
    """``mine``, with a crash (other than the stub's ``NotImplementedError``) turned into a
    :class:`CheckFailed` that names the error and gives the hint."""

    def call(*args):
        try:
            return mine(*args)
        except NotImplementedError:
            raise
        except Exception as err:   # a learner's bug: say what it was, keep the traceback
            text = f"❌ {name}: your function raised {type(err).__name__}: {err}\n   Hint: {hint}"
            print(text)
            raise _check.CheckFailed(text) from err

    return call


# --------------------------------------------------------------------------- length regulator
_LR_HINT = ("for each batch item b, repeat row i of encodings[b] ([N, D]) durations[b, i] times "
            "along the phoneme axis (dim 0 of the item: torch.repeat_interleave(h, d, dim=0)), "
            "not along the features, and exactly d times (not d + 1); a duration 0 drops the "
            "phoneme. Then pad every item with zero frames to the longest total duration "
            "(torch.nn.utils.rnn.pad_sequence(..., batch_first=True)): frames [B, T, D].")


def _lr_inputs():
    """Three items of five 4-dim phoneme vectors; durations with zeros and unequal totals."""
    gen = torch.Generator().manual_seed(0)
    encodings = torch.randn(3, 5, 4, generator=gen)
    durations = torch.tensor([[2, 0, 3, 1, 1],     # 7 frames
                              [1, 1, 1, 1, 1],     # 5 frames
                              [0, 4, 2, 0, 3]])    # 9 frames: the longest, T = 9
    return (encodings, durations)


def _lr_reference(encodings, durations):
    from ..models.tts import length_regulate

    return length_regulate(encodings, durations)[0]


def length_regulator(mine) -> None:
    """Compare ``mine(encodings, durations) -> frames`` with the package's length regulator.

    ``encodings`` ``[B, N, D]`` float (one vector per phoneme), ``durations`` ``[B, N]`` integer
    frames per phoneme. ``frames`` ``[B, T, D]``: phoneme ``i`` of item ``b`` repeated
    ``durations[b, i]`` times, items zero padded to ``T = max_b sum_i durations[b, i]``, as
    :func:`aigc_course.models.tts.length_regulate` returns it (its first output).
    """
    _check.function("length_regulator", _guarded(mine, "length_regulator", _LR_HINT), _lr_reference,
             _lr_inputs, hint=_LR_HINT)


# --------------------------------------------------------------------------- Griffin-Lim
_GL_HINT = ("x = audio.istft(magnitude * phase, length) (the target magnitude with the current "
            "phase), S = audio.stft(x) (the course's settings: n_fft 1024, hop 256, Hann window "
            "of 1024, center=True), then return the NEW phase S / |S| (complex, modulus 1; "
            "clamp |S| at 1e-8 to avoid dividing by zero) — not the phase you were given, and "
            "not S itself (its magnitude is not the target's).")


def griffin_lim_step_reference(magnitude: torch.Tensor, phase: torch.Tensor, length: int) -> torch.Tensor:
    """One iteration of Griffin-Lim, as in :func:`aigc_course.audio.griffin_lim` with ``momentum=0``.

    ``magnitude`` ``[513, frames]`` (the target ``|S|``), ``phase`` ``[513, frames]`` complex of
    modulus 1 (the current :math:`e^{i\\varphi}`), ``length`` the number of samples. Returns the
    new phase ``[513, frames]``: that of the STFT of ``iSTFT(magnitude · phase)``. Iterating it
    ``n`` times from ``griffin_lim``'s random start and ending with ``audio.istft(magnitude ·
    phase, length)`` gives ``griffin_lim(magnitude, n_iter=n, momentum=0.0)``.
    """
    from .. import audio

    wave = audio.istft(magnitude * phase, length)
    rebuilt = torch.stft(wave, audio.N_FFT, audio.HOP_LENGTH, audio.WIN_LENGTH,
                         window=audio._window(wave.device), center=True, return_complex=True)
    return rebuilt / rebuilt.abs().clamp(min=1e-8)


def _gl_inputs():
    """The |STFT| of 2,048 samples of two tones (9 frames) and a random starting phase."""
    from .. import audio

    n = 2048
    t = torch.arange(n) / audio.SAMPLE_RATE
    wave = 0.5 * torch.sin(2 * torch.pi * 220.0 * t) + 0.25 * torch.sin(2 * torch.pi * 1234.0 * t)
    magnitude = audio.stft(wave).abs()                               # [513, 9]
    gen = torch.Generator().manual_seed(0)
    phase = torch.exp(2j * torch.pi * torch.rand(magnitude.shape, generator=gen))
    return (magnitude, phase, n)


def _as_real(step, name: str):
    """Run ``step`` and return its complex result as real pairs (the comparison reads reals)."""

    def call(*args):
        out = step(*args)
        if not (isinstance(out, torch.Tensor) and out.is_complex()):
            what = f"dtype {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
            text = (f"❌ {name}: expected the new phase as a complex tensor e^(iφ) of modulus 1, "
                    f"got {what}\n   Hint: if you computed the angles φ = S.angle(), return "
                    "torch.polar(torch.ones_like(φ), φ); or return S / S.abs().clamp(min=1e-8).")
            print(text)
            raise _check.CheckFailed(text)
        return torch.view_as_real(out.resolve_conj().contiguous())

    return call


def griffin_lim_step(mine) -> None:
    """Compare ``mine(magnitude, phase, length) -> new_phase`` with one Griffin-Lim iteration.

    See :func:`griffin_lim_step_reference` for the arguments. The result is compared as real and
    imaginary parts: a shape ``[513, frames, 2]`` in the messages.
    """
    _check.function("griffin_lim_step", _as_real(_guarded(mine, "griffin_lim_step", _GL_HINT), "griffin_lim_step"),
             _as_real(griffin_lim_step_reference, "griffin_lim_step (reference)"), _gl_inputs,
             rtol=1e-4, atol=1e-5, hint=_GL_HINT)
