"""A Mandarin voice for the TTS lab: sentences, phonemes with tones, and an offline corpus.

Mandarin is a *tone language*: 妈 mā (tone 1, high and level) and 马 mǎ (tone 3, low and dipping)
have the same consonant and vowel and differ only in pitch. A model that reads phonemes without
tones cannot know which pitch to produce, so the tones must be part of its input.

eSpeak NG's ``cmn`` voice speaks Mandarin written in Han characters, but its phoneme events carry
no tone marks. We take each syllable's tone from ``pypinyin``'s dictionary and attach it to the
phonemes eSpeak spoke for that syllable:

1. ``pypinyin`` gives one tone per Han character (1-4, and 5 for the neutral tone). These are the
   dictionary (citation) tones, *before* tone sandhi: 你好 is 3, 3 although a speaker says
   ní hǎo. The network sees the neighbouring tones and learns the sandhi that eSpeak applies.
2. eSpeak's phonemes are split into syllables: every Mandarin syllable has exactly one vowel
   (a monophthong such as ``a``, a diphthong such as ``ɑu``, or ``ər``); consonants before a
   vowel are its onset, and an ``n`` or ``ŋ`` after it that no vowel follows is its coda.
3. When the number of syllables agrees with the number of tones, syllable ``k`` gets tone ``k``.
   When it does not (a character eSpeak reads as two syllables, Latin letters, digits), the
   utterance is left without tones (``aligned=False``) rather than given wrong ones.

The tone is written after the syllable's vowel symbol (``ˈɑu3``), so the vocabulary carries it
and the same FastSpeech model and training code work unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .. import audio
from .corpus import (
    SpeechCorpus,
    _cache_path,
    _load,
    _save,
    corpus_from_speech,
)
from .frontend import durations_in_frames

VOICE = "cmn"
_PAUSE = "_"
_VOWEL_START = set("aɑeəɛiouyɤɿʅɚ")
_CODAS = {"n", "ŋ"}
_HAN = re.compile(r"[\u4e00-\u9fff]")
_DIGITS = "零一二三四五六七八九"

# --------------------------------------------------------------------------- sentences
_NAMES = ["小明", "小红", "王老师", "李医生", "张先生", "刘阿姨", "陈同学", "我的朋友", "她的妹妹",
          "他的哥哥", "老王", "小李", "我们班长", "周经理", "林奶奶", "赵叔叔"]
_CITIES = ["北京", "上海", "广州", "西安", "南京", "杭州", "成都", "天津", "武汉", "苏州", "青岛",
           "昆明"]
_PLACES = ["公园", "图书馆", "火车站", "学校", "医院", "超市", "饭馆", "博物馆", "机场", "书店",
           "菜市场", "办公室"]
_TIMES = ["早上八点", "下午三点半", "晚上七点", "中午十二点", "明天上午", "星期五下午", "今天晚上",
          "周末", "后天早上", "星期一中午"]
_WEATHER = ["晴天", "下雨", "下雪", "多云", "刮风", "有雾", "很热", "很冷"]
_ACTIVITIES = ["看书", "喝茶", "吃饭", "打电话", "写信", "开会", "上课", "跑步", "画画", "唱歌",
               "买菜", "学中文"]
_THINGS = ["苹果", "杯子", "本书", "面包", "鸡蛋", "西瓜", "椅子", "花瓶"]
_TEMPLATES = [
    "{name}{time}去{place}。",
    "{city}今天{weather}，气温{number}度。",
    "{name}在{place}{activity}。",
    "{name}买了{count}个{thing}。",
    "我们{time}在{place}见面。",
    "{name}今年{number}岁。",
    "明天{city}{weather}吗？",
    "{name}喜欢{activity}。",
    "从{city}到{city2}要{count}个小时。",
    "{name}的房间是{digits}号。",
    "{time}，{name}在{city}{activity}。",
    "请问{place}在哪里？",
]


def han_number(n: int) -> str:
    """``0 ≤ n < 100`` in Han characters: ``25`` → ``'二十五'``, ``10`` → ``'十'``."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if not 0 <= n < 100:
        raise ValueError(f"numbers from 0 to 99 are supported, got {n}")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + ("" if ones == 0 else _DIGITS[ones])


def mandarin_sentences(n: int, seed: int = 0) -> list:
    """``n`` distinct short Mandarin sentences from a template grammar (reproducible with ``seed``).

    Names, cities, places, times, weather and everyday activities; numbers are written in Han
    characters (``二十五``, room numbers digit by digit), so every syllable is a character.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    pick = lambda words: words[rng.integers(len(words))]
    seen, out = set(), []
    for _ in range(50 * n):
        count = int(rng.integers(2, 10))
        city, city2 = rng.choice(len(_CITIES), size=2, replace=False)
        words = {"name": pick(_NAMES), "city": _CITIES[city], "city2": _CITIES[city2],
                 "place": pick(_PLACES), "time": pick(_TIMES), "weather": pick(_WEATHER),
                 "activity": pick(_ACTIVITIES), "thing": pick(_THINGS),
                 "number": han_number(int(rng.integers(2, 40))),
                 "count": "两" if count == 2 else han_number(count),
                 "digits": "".join(_DIGITS[int(d)] for d in rng.integers(1, 10, size=3))}
        sentence = pick(_TEMPLATES).format(**words)
        if sentence not in seen:
            seen.add(sentence)
            out.append(sentence)
            if len(out) == n:
                return out
    raise ValueError(f"the grammar cannot make {n} distinct sentences")


# --------------------------------------------------------------------------- tones and phonemes
def syllable_tones(text: str) -> list:
    """One dictionary tone per Han character of ``text`` (1-4; 5 = neutral), from ``pypinyin``.

    No tone sandhi is applied: ``'你好'`` → ``[3, 3]``. Other characters (punctuation) are skipped.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError as err:
        raise ImportError("the Mandarin voice needs the pip package 'pypinyin' "
                          "(pip install 'pypinyin>=0.50,<1')") from err
    han = "".join(_HAN.findall(text))
    if not han:
        return []
    syllables = lazy_pinyin(han, style=Style.TONE3, neutral_tone_with_five=True)
    return [int(s[-1]) if s[-1].isdigit() else 5 for s in syllables]


def is_vowel(symbol: str) -> bool:
    """Whether an eSpeak ``cmn`` phoneme is a syllable's vowel (stress marks are ignored)."""
    core = symbol.lstrip("ˈˌ")
    return bool(core) and core[0] in _VOWEL_START


def syllable_index(phonemes) -> list:
    """The syllable each phoneme belongs to (0, 1, ...), or ``-1`` for pauses.

    Every vowel opens a new syllable. An ``n`` or ``ŋ`` right after a vowel with no vowel next
    closes that syllable (its coda); every other consonant belongs to the next vowel (its onset),
    or to the previous one when no vowel follows.
    """
    phonemes = list(phonemes)
    vowel_rank = {}
    for i, p in enumerate(phonemes):
        if is_vowel(p):
            vowel_rank[i] = len(vowel_rank)
    index = []
    for i, p in enumerate(phonemes):
        if p == _PAUSE:
            index.append(-1)
            continue
        if i in vowel_rank:
            index.append(vowel_rank[i])
            continue
        before = next((vowel_rank[j] for j in range(i - 1, -1, -1) if j in vowel_rank), -1)
        after = next((vowel_rank[j] for j in range(i + 1, len(phonemes)) if j in vowel_rank), -1)
        next_is_vowel = i + 1 < len(phonemes) and i + 1 in vowel_rank
        coda = p in _CODAS and i - 1 in vowel_rank and not next_is_vowel
        index.append(before if coda or after < 0 else after)
    return index


@dataclass(frozen=True)
class MandarinPhonemes:
    """One Mandarin utterance: eSpeak's ``phonemes`` with ``durations`` (mel frames), the
    ``tones`` aligned with them (the tone of each phoneme's syllable, 1-5; 0 for pauses and
    when ``aligned`` is False) and eSpeak's ``wave`` (float32, 22,050 Hz)."""

    text: str
    phonemes: list
    tones: list
    durations: list
    wave: object
    aligned: bool

    @property
    def n_frames(self) -> int:
        return int(sum(self.durations))

    @property
    def symbols(self) -> list:
        """The model's input: each syllable's vowel carries its tone (``'ˈɑu3'``), other
        phonemes are unchanged."""
        return [f"{p}{t}" if t and is_vowel(p) else p for p, t in zip(self.phonemes, self.tones)]


def phonemize_mandarin(text: str) -> MandarinPhonemes:
    """Han text → eSpeak NG ``cmn`` phonemes, durations (frames), audio, and per-phoneme tones.

    The text is passed to eSpeak as written (the course's normaliser is English-only): write
    numbers in Han characters. Raises ``ValueError`` on text without Han characters.
    """
    from . import espeak

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    tones = syllable_tones(text)
    if not tones:
        raise ValueError(f"nothing to speak in {text!r}: write the sentence in Han characters")
    result = espeak.synthesize(text.strip(), voice=VOICE)
    if len(result.wave) < audio.WIN_LENGTH:
        raise ValueError(f"eSpeak NG produced no audio for {text!r}")
    phonemes = list(result.phonemes)
    index = syllable_index(phonemes)
    n_syllables = max(index, default=-1) + 1
    aligned = n_syllables == len(tones)
    per_phoneme = [tones[k] if aligned and k >= 0 else 0 for k in index]
    durations = durations_in_frames(result.starts, len(result.wave))
    return MandarinPhonemes(text.strip(), phonemes, per_phoneme, durations, result.wave, aligned)


def pitch_track(wave, fmin: float = 60.0, fmax: float = 400.0, threshold: float = 0.5) -> np.ndarray:
    """A simple pitch (F0) tracker: Hz per mel frame (hop 256), ``nan`` where no pitch is found.

    Each 1,024-sample window's autocorrelation is searched for its highest peak between the lags
    of ``fmax`` and ``fmin``; a frame counts as voiced when that peak is at least ``threshold``
    times the energy at lag 0 and the frame is not near-silent. Enough to see a tone's contour.
    """
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1 or len(x) < audio.WIN_LENGTH:
        raise ValueError(f"wave must be 1-D with at least {audio.WIN_LENGTH} samples, got shape {x.shape}")
    if not 0 < fmin < fmax < audio.SAMPLE_RATE / 2:
        raise ValueError(f"need 0 < fmin < fmax < {audio.SAMPLE_RATE / 2}, got {fmin}, {fmax}")
    lo, hi = int(audio.SAMPLE_RATE / fmax), int(audio.SAMPLE_RATE / fmin)
    starts = range(0, len(x) - audio.WIN_LENGTH + 1, audio.HOP_LENGTH)
    frames = np.stack([x[s:s + audio.WIN_LENGTH] for s in starts])
    frames = (frames - frames.mean(1, keepdims=True)) * np.hanning(audio.WIN_LENGTH)
    spectrum = np.fft.rfft(frames, n=2 * audio.WIN_LENGTH)
    acf = np.fft.irfft(np.abs(spectrum) ** 2)[:, : hi + 1]
    lag = lo + np.argmax(acf[:, lo:hi + 1], axis=1)
    peak = acf[np.arange(len(acf)), lag]
    energy = acf[:, 0]
    voiced = (peak >= threshold * np.maximum(energy, 1e-12)) & (energy > 1e-3 * energy.max())
    return np.where(voiced, audio.SAMPLE_RATE / lag, np.nan)


def load_mandarin_corpus(n: int = 240, seed: int = 0, cache: bool = True) -> SpeechCorpus:
    """The offline Mandarin corpus: ``n`` generated sentences spoken by eSpeak NG's ``cmn`` voice.

    The same :class:`~aigc_course.speech.SpeechCorpus` as the English corpus (cached in the same
    ``<data dir>/speech`` folder), so the same model and training code use it. Its vocabulary
    holds the tone-marked symbols (``'a1'`` ... ``'a5'``) as separate phonemes.
    """
    from .espeak import version

    sentences = mandarin_sentences(n, seed)
    path = _cache_path("espeak-cmn", {"n": n, "seed": seed, "voice": VOICE, "version": 1,
                                      "espeak": version()})
    if cache and path.exists():
        return _load(path)
    spoken = [phonemize_mandarin(s) for s in sentences]
    corpus = corpus_from_speech([u.text for u in spoken], [u.symbols for u in spoken],
                                [u.durations for u in spoken], [u.wave for u in spoken])
    if cache:
        _save(path, corpus)
    return corpus
