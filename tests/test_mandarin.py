"""Tests of the Mandarin voice of the TTS lab: sentences, tones, syllables, phonemes and corpus."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from aigc_course.speech import SpeechCorpus, load_speech_corpus
from aigc_course.speech.mandarin import (
    han_number,
    is_vowel,
    load_mandarin_corpus,
    mandarin_sentences,
    phonemize_mandarin,
    pitch_track,
    syllable_index,
    syllable_tones,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


# --------------------------------------------------------------------------- text and tones
def test_dictionary_tones_without_sandhi():
    # pypinyin's citation tones: 你好 is 3, 3 (a speaker says ní hǎo; the model learns that)
    assert syllable_tones("你好") == [3, 3]
    assert syllable_tones("妈麻马骂吗？") == [1, 2, 3, 4, 5]  # punctuation has no tone
    assert syllable_tones("Hello, 3!") == []
    with pytest.raises(TypeError, match="str"):
        syllable_tones(3)


def test_han_numbers():
    assert [han_number(n) for n in (0, 7, 10, 12, 20, 25, 99)] == [
        "零", "七", "十", "十二", "二十", "二十五", "九十九"]
    with pytest.raises(ValueError, match="0 to 99"):
        han_number(100)
    with pytest.raises(TypeError, match="int"):
        han_number(2.0)


def test_sentences_are_distinct_reproducible_and_all_han():
    a = mandarin_sentences(240)
    assert a == mandarin_sentences(240) and len(set(a)) == 240
    assert a != mandarin_sentences(240, seed=1)
    assert all(len(syllable_tones(s)) == sum(c not in "，。？" for c in s) for s in a)
    with pytest.raises(ValueError, match="positive int"):
        mandarin_sentences(0)


def test_syllables_from_vowels_onsets_and_codas():
    # 三点 "s a n t iɛ n": the n before a consonant closes 三; pauses belong to no syllable
    assert syllable_index(["_", "s", "a", "n", "t", "ˈiɛ", "n", "_"]) == [-1, 0, 0, 0, 1, 1, 1, -1]
    # 天安 "th iɛ n a n": n before a vowel opens the next syllable (its onset)
    assert syllable_index(["th", "iɛ", "n", "a", "n"]) == [0, 0, 1, 1, 1]
    # 小 "ɕ j ɑu": the glide j is part of the onset; 二 "ər" has no onset
    assert syllable_index(["ɕ", "j", "ˈɑu", "_", "ˈər"]) == [0, 0, 0, -1, 1]
    assert is_vowel("ˈɑu") and is_vowel("i.") and is_vowel("o-") and not is_vowel("ŋ")


# --------------------------------------------------------------------------- eSpeak NG cmn
def test_phonemes_tones_and_durations_line_up():
    u = phonemize_mandarin("你好，世界。")
    assert u.aligned
    assert len(u.phonemes) == len(u.tones) == len(u.durations) == len(u.symbols)
    assert u.n_frames == len(u.wave) // 256 + 1
    vowel_tones = [t for p, t in zip(u.phonemes, u.tones) if is_vowel(p)]
    assert vowel_tones == [3, 3, 4, 4]
    assert all(t == 0 for p, t in zip(u.phonemes, u.tones) if p == "_")
    marked = [s for s in u.symbols if s[-1].isdigit()]
    assert len(marked) == 4 and all(is_vowel(s) for s in marked)


def test_same_phonemes_different_tones_give_different_symbols():
    symbols = [phonemize_mandarin(c).symbols for c in "妈麻马骂"]
    plain = [[s.rstrip("12345") for s in syms] for syms in symbols]
    assert all(p == plain[0] for p in plain)          # eSpeak: the same "m ɑ" four times
    assert len({tuple(s) for s in symbols}) == 4      # the tones tell them apart


def test_when_syllables_and_tones_disagree_no_tones_are_guessed():
    # Latin letters and digits have no pypinyin tone: the counts differ, the tones are left out
    for text in ("你好ABC。", "我有3个苹果。"):
        u = phonemize_mandarin(text)
        assert not u.aligned and set(u.tones) == {0}
        assert u.symbols == u.phonemes
    with pytest.raises(ValueError, match="Han characters"):
        phonemize_mandarin("hello")


def test_every_sentence_of_the_labs_corpus_aligns():
    # the fallback above must not be needed for the 240 sentences the lab trains on
    unaligned = [s for s in mandarin_sentences(240) if not phonemize_mandarin(s).aligned]
    assert len(unaligned) == 0, unaligned[:5]


def test_pitch_track_follows_the_tones():
    def contour(char):
        f0 = pitch_track(phonemize_mandarin(char).wave)
        return f0[~np.isnan(f0)]

    rising, falling = contour("麻"), contour("骂")     # tone 2 rises, tone 4 falls at its end
    assert rising[-1] > rising[0] + 5 and falling[-1] < falling.max() - 2
    sine = np.sin(2 * np.pi * 120 * np.arange(22050) / 22050)
    assert np.nanmedian(pitch_track(sine)) == pytest.approx(120, rel=0.02)
    with pytest.raises(ValueError, match="1-D"):
        pitch_track(np.zeros(10))


# --------------------------------------------------------------------------- the corpus
def test_corpus_has_the_english_structure_and_is_cached(data_dir):
    corpus = load_mandarin_corpus(n=5, seed=3)
    assert len(list((data_dir / "speech").glob("espeak-cmn-*.npz"))) == 1
    again = load_mandarin_corpus(n=5, seed=3)
    english = load_speech_corpus(n=3, seed=3, cache=False)
    assert type(corpus) is type(english) is SpeechCorpus
    for field in ("texts", "phonemes", "durations", "mels", "vocab"):
        assert type(getattr(corpus, field)) is type(getattr(english, field))
    for i in range(5):
        assert corpus.phonemes[i].dtype == corpus.durations[i].dtype == torch.long
        assert int(corpus.durations[i].sum()) == corpus.mels[i].shape[1]
        assert corpus.mels[i].shape[0] == 80 and len(corpus.durations[i]) == len(corpus.phonemes[i])
        assert torch.equal(corpus.phonemes[i], again.phonemes[i])
    assert corpus.texts == again.texts == mandarin_sentences(5, seed=3)
    assert corpus.vocab == again.vocab and corpus.vocab[:3] == ["<pad>", "<unk>", "_"]
    ph, dur, mel, _, n_fr = next(iter(corpus.loader(batch_size=5, shuffle=False)))
    assert ph.shape == dur.shape and mel.shape == (5, int(n_fr.max()), 80)
    assert torch.equal(dur.sum(1), n_fr)


def test_the_vocabulary_carries_the_tones(data_dir):
    vocab = load_mandarin_corpus(n=20, cache=False).vocab
    vowels = [v for v in vocab[3:] if is_vowel(v)]
    assert vowels and all(v[-1] in "12345" for v in vowels)   # no vowel without its tone
    assert {v[-1] for v in vowels} >= {"1", "2", "3", "4"}


def test_mandarin_synthesis_runs_offline(tmp_path):
    # the same network guard the notebook tests run every kernel under
    log = tmp_path / "network.log"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "AIGC_NETWORK_GUARD_LOG"}}
    env.update(PYTHONPATH=str(ROOT / ".ci" / "network_guard"), AIGC_NETWORK_GUARD_LOG=str(log),
               AIGC_DATA_DIR=str(tmp_path / "data"), OMP_NUM_THREADS="1")
    code = ("import os; from aigc_course.speech.mandarin import load_mandarin_corpus; "
            "c = load_mandarin_corpus(n=2); "
            "print(os.environ.get('AIGC_NETWORK_GUARD_ACTIVE'), len(c))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "2"]
    assert not log.exists() or not log.read_text().strip()
