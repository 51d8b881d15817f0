"""A thin ctypes binding to the eSpeak NG speech synthesiser (the few functions the course needs).

eSpeak NG (https://github.com/espeak-ng/espeak-ng) is free software under the GNU General Public
License, version 3 or later (GPL-3.0-or-later). The course does not copy or change any of its code:
it loads the shared library shipped in the pip package ``espeakng-loader`` and calls it as a
library, at run time, through ``ctypes``. No system installation (``apt install espeak-ng``) is
needed.

One call, :func:`synthesize`, gives everything the lab uses: the waveform (22,050 Hz, 16-bit) and
the phonemes eSpeak spoke (IPA), each with the sample where it starts, from eSpeak's phoneme
events. eSpeak is a *formant / rule-based* synthesiser: the same text gives the same phonemes and
almost the same audio (its pitch "flutter" carries over from one call to the next, so timings can
differ by a fraction of a millisecond).
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA, _INIT_DONT_EXIT = 0x0001, 0x0002, 0x8000
_CHARS_UTF8 = 1
_EVENT_END_OF_LIST, _EVENT_PHONEME = 0, 7
_PAUSE = "_"  # eSpeak's pauses have an empty IPA name; we call them "_"


class _Event(ctypes.Structure):  # espeak_EVENT in speak_lib.h
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))
_lock = threading.Lock()
_state: dict = {}


@dataclass(frozen=True)
class Synthesis:
    """What eSpeak NG produced for one text.

    ``wave``: float32 ``[samples]`` in [-1, 1]; ``phonemes``: IPA symbols (``"_"`` = pause);
    ``starts``: the sample where each phoneme starts (non-decreasing; the first is 0);
    ``sample_rate``: 22,050 Hz.
    """

    wave: np.ndarray
    phonemes: list
    starts: list
    sample_rate: int


def _library():
    """Load and initialise libespeak-ng once per process."""
    if "lib" in _state:
        return _state["lib"]
    try:
        import espeakng_loader
    except ImportError as err:
        raise ImportError("the TTS lab needs the pip package 'espeakng-loader' "
                          "(pip install 'espeakng-loader>=0.2,<0.3')") from err
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                 espeakng_loader.get_data_path().encode(),
                                 _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
    if rate <= 0:
        raise RuntimeError(f"eSpeak NG failed to initialise (returned {rate})")
    _state.update(lib=lib, rate=rate, voice=None, chunks=[], events=[])

    def on_audio(wav, n, events):  # called by eSpeak with each chunk of audio and its events
        if n > 0:
            _state["chunks"].append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != _EVENT_END_OF_LIST:
            if events[i].type == _EVENT_PHONEME:
                name = events[i].id.decode("utf-8", errors="replace") or _PAUSE
                _state["events"].append((name, events[i].sample))
            i += 1
        return 0

    _state["callback"] = _Callback(on_audio)  # keep a reference, or ctypes frees it
    lib.espeak_SetSynthCallback(_state["callback"])
    return lib


def version() -> str:
    """The eSpeak NG library version, e.g. ``'1.52.0'``."""
    lib = _library()
    return lib.espeak_Info(None).decode()


def synthesize(text: str, voice: str = "en-us") -> Synthesis:
    """Speak ``text`` with eSpeak NG; return the audio and the timed phonemes.

    The text is passed as is (see :func:`aigc_course.speech.normalize_text` for the course's own
    text normalisation). Raises ``ValueError`` for empty text or an unknown voice.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty: give eSpeak NG at least one word to speak")
    with _lock:
        lib = _library()
        if voice != _state["voice"]:
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"eSpeak NG has no voice {voice!r} (try 'en-us' or 'en')")
            _state["voice"] = voice
        _state["chunks"], _state["events"] = [], []
        data = text.encode("utf-8")
        status = lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"eSpeak NG could not synthesise {text!r} (error {status})")
        chunks, events = _state["chunks"], _state["events"]
    wave = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
    phonemes = [_PAUSE] + [name for name, _ in events]  # leading silence before the first phoneme
    starts = [0] + [min(max(sample, 0), len(wave)) for _, sample in events]
    starts = list(np.maximum.accumulate(starts))
    return Synthesis(wave, phonemes, [int(s) for s in starts], _state["rate"])
