"""The TTS front end: text normalisation, then phonemes and their durations from eSpeak NG.

A TTS model never sees raw text. "Dr. Smith paid $3.50 on the 2nd" is first *normalised* into the
words a reader would say ("doctor smith paid three dollars fifty cents on the second"), then
converted from letters to *phonemes* (grapheme-to-phoneme, G2P), the units of sound. English
spelling is too irregular for a model trained on a few minutes of speech to learn G2P itself
("though", "through", "tough"), so we ask eSpeak NG's pronunciation dictionary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from .. import audio
from . import espeak

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
            "nine": "ninth", "twelve": "twelfth"}
ABBREVIATIONS = {
    "mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor", "prof": "professor",
    "st": "saint", "jr": "junior", "sr": "senior", "vs": "versus", "etc": "et cetera",
    "e.g": "for example", "i.e": "that is", "approx": "approximately", "dept": "department",
}
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ",
            "#": " number "}


def number_to_words(n: int) -> str:
    """``1234`` → ``'one thousand two hundred thirty four'`` (0 ≤ n < 10¹²; negatives: 'minus')."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= 10**12:
        raise ValueError(f"numbers up to 999,999,999,999 are supported, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in _SCALES:
        if n >= size:
            rest = n % size
            return f"{number_to_words(n // size)} {name}" + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    """``21`` → ``'twenty first'``."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL:
        words[-1] = _ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _year(n: int) -> str:
    """1984 → 'nineteen eighty four'; 1900 → 'nineteen hundred'."""
    high, low = divmod(n, 100)
    if low == 0:
        return f"{number_to_words(high)} hundred"
    return f"{number_to_words(high)} " + (f"oh {_ONES[low]}" if low < 10 else number_to_words(low))


def _money(match: re.Match) -> str:
    dollars = int(match.group(1).replace(",", ""))
    cents = int(match.group(2)) if match.group(2) else 0
    text = f"{number_to_words(dollars)} dollar{'s' if dollars != 1 else ''}"
    return text + (f" {number_to_words(cents)} cent{'s' if cents != 1 else ''}" if cents else "")


def _number(match: re.Match) -> str:
    sign, whole, frac = match.group(1), match.group(2).replace(",", ""), match.group(3)
    value = int(whole)
    if not frac and not sign and "," not in match.group(2) and 1100 <= value <= 1999:
        words = _year(value)
    else:
        words = number_to_words(value)
    if frac:
        words += " point " + " ".join(_ONES[int(d)] for d in frac)
    return (" minus " if sign else " ") + words + " "


def normalize_text(text: str) -> str:
    """Spell out what a reader would say: numbers, money, ordinals, years, abbreviations, symbols.

    Keeps sentence punctuation (``, . ? ! ; :``), which tells eSpeak where to pause and how to
    intonate; lower-cases everything; collapses whitespace. Raises ``ValueError`` on text with
    nothing to say.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty: give at least one word to speak")
    t = text.replace("\u2019", "'").replace("\u2014", ", ").replace("\u2013", " to ")
    t = re.sub(r"\bno\.?\s*(?=\d)", "number ", t, flags=re.IGNORECASE)  # "No. 5" → "number 5"
    for short, full in ABBREVIATIONS.items():  # "Dr." → "doctor" (only with the full stop)
        t = re.sub(rf"\b{re.escape(short)}\.", f" {full} ", t, flags=re.IGNORECASE)
    t = re.sub(r"\$(\d[\d,]*)(?:\.(\d\d))?\b", _money, t)
    t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: ordinal_to_words(int(m.group(1))), t, flags=re.IGNORECASE)
    t = re.sub(r"(?<![\w.])(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?", _number, t)
    for symbol, word in _SYMBOLS.items():
        t = t.replace(symbol, word)
    t = re.sub(r"[\"()\[\]{}<>*/\\|~^_`]", " ", t)
    t = re.sub(r"\s+([,.?!;:])", r"\1", re.sub(r"\s+", " ", t)).strip().lower()
    if not re.search(r"[a-z]", t):
        raise ValueError(f"nothing to speak in {text!r}: it has no letters or numbers")
    return t


@dataclass(frozen=True)
class Phonemes:
    """Phonemes of one utterance with eSpeak's durations in mel frames (sum = ``n_frames``)."""

    text: str
    phonemes: list
    durations: list
    wave: object  # float32 numpy waveform spoken by eSpeak, 22,050 Hz

    @property
    def n_frames(self) -> int:
        return int(sum(self.durations))


def durations_in_frames(starts, n_samples: int, hop_length: int = audio.HOP_LENGTH) -> list:
    """Phoneme start samples → whole mel frames per phoneme.

    Frame boundaries are the starts rounded to the nearest frame; the durations add up exactly to
    the ``n_samples // hop_length + 1`` frames that :func:`aigc_course.audio.mel_spectrogram` gives.
    """
    starts = list(starts)
    if not starts or starts[0] != 0 or any(b < a for a, b in pairwise(starts)):
        raise ValueError("starts must begin at 0 and never decrease")
    if n_samples < starts[-1]:
        raise ValueError(f"n_samples ({n_samples}) is before the last phoneme start ({starts[-1]})")
    n_frames = n_samples // hop_length + 1
    bounds = [min(round(s / hop_length), n_frames) for s in starts] + [n_frames]
    return [b - a for a, b in pairwise(bounds)]


def phonemize(text: str, voice: str = "en-us", normalize: bool = True) -> Phonemes:
    """Text → normalised text → eSpeak NG phonemes with durations (frames) and eSpeak's audio."""
    clean = normalize_text(text) if normalize else text
    result = espeak.synthesize(clean, voice=voice)
    if len(result.wave) < audio.WIN_LENGTH:
        raise ValueError(f"eSpeak NG produced no audio for {text!r}")
    durations = durations_in_frames(result.starts, len(result.wave))
    return Phonemes(clean, list(result.phonemes), durations, result.wave)
