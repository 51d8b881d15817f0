"""Speech corpora for the TTS lab: one synthesised offline with eSpeak NG, and LJSpeech.

The offline corpus: sentences are generated from a small template grammar, spoken by eSpeak NG,
and turned into (phonemes, durations, log-mel) triples; the result is cached in
``<data dir>/speech``. A model trained on it learns to imitate a *formant synthesiser*: clean,
perfectly consistent speech with exact phoneme timings. Real recordings (LJSpeech, a 24-hour
single-speaker corpus; :func:`load_ljspeech`, full profile) have none of those gifts: breath,
varying pace, no timings (an aligner must find them), and a far richer spectrum.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from .. import audio, config
from ..data.download import Remote, fetch
from .frontend import normalize_text, phonemize

PAD, UNK = "<pad>", "<unk>"

_WORDS = {
    "subject": ["the cat", "a young doctor", "my sister", "the old man", "our teacher", "the pilot",
                "a quiet child", "the farmer", "his brother", "the new student", "a tired nurse",
                "the singer", "her uncle", "the baker", "a clever fox", "the captain", "my neighbour",
                "the small robot", "a famous painter", "the judge"],
    "verb": ["found", "painted", "carried", "watched", "bought", "cleaned", "moved", "opened",
             "sold", "visited", "forgot", "described", "followed", "measured", "borrowed", "fixed",
             "admired", "ignored", "weighed", "packed"],
    "adjective": ["red", "heavy", "strange", "beautiful", "broken", "shiny", "wooden", "tiny",
                  "golden", "dusty", "bright", "cheap", "enormous", "quiet", "yellow", "smooth"],
    "object": ["box", "bicycle", "letter", "window", "garden", "umbrella", "violin", "map",
               "basket", "chair", "kettle", "mirror", "jacket", "bridge", "engine", "lamp", "boat",
               "picture", "clock", "book"],
    "place": ["near the river", "in the kitchen", "at the station", "behind the school",
              "under the bridge", "on the hill", "in the village", "by the sea", "at the market",
              "inside the museum", "across the street", "in the forest"],
    "time": ["Yesterday", "This morning", "Last winter", "On Monday", "At noon", "Every evening",
             "Later that night", "In July", "After lunch", "Once again"],
}
_TEMPLATES = [
    "{subject} {verb} the {adjective} {object} {place}.",
    "{time}, {subject} {verb} a {adjective} {object}.",
    "Why has {subject} {verb} the {object}?",
    "{subject} {verb} {number} {adjective} {object}s {place}.",
    "{time}, {subject} quickly {verb} the {object} {place}.",
    "Did {subject} say that the {object} was {adjective}?",
    "{subject} and {subject2} {verb} the {adjective} {object}.",
    "It was {adjective}, but {subject} {verb} it {place}.",
]


def generate_sentences(n: int, seed: int = 0) -> list:
    """``n`` distinct English sentences from a small template grammar (reproducible with ``seed``)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    seen, out = set(), []
    for _ in range(50 * n):
        pick = {k: v[rng.integers(len(v))] for k, v in _WORDS.items()}
        pick["subject2"] = _WORDS["subject"][rng.integers(len(_WORDS["subject"]))]
        pick["number"] = str(int(rng.integers(2, 100)))
        sentence = _TEMPLATES[rng.integers(len(_TEMPLATES))].format(**pick)
        sentence = sentence[0].upper() + sentence[1:]
        if sentence not in seen:
            seen.add(sentence)
            out.append(sentence)
            if len(out) == n:
                return out
    raise ValueError(f"the grammar cannot make {n} distinct sentences")


@dataclass
class SpeechCorpus:
    """Utterances as parallel lists: ``texts``, ``phonemes`` (id tensors ``[N_i]``), ``durations``
    (frames per phoneme ``[N_i]``, or ``None`` when unknown) and ``mels`` (log-mel ``[80, T_i]``).
    ``vocab`` maps ids to phoneme symbols (id 0 is padding)."""

    texts: list
    phonemes: list
    durations: list
    mels: list
    vocab: list

    def __len__(self) -> int:
        return len(self.texts)

    def split(self, n_val: int) -> tuple[SpeechCorpus, SpeechCorpus]:
        """The first ``len - n_val`` utterances for training, the last ``n_val`` held out."""
        if not 0 < n_val < len(self):
            raise ValueError(f"n_val must be between 1 and {len(self) - 1}, got {n_val}")
        k = len(self) - n_val
        part = lambda a, b: SpeechCorpus(self.texts[a:b], self.phonemes[a:b], self.durations[a:b],
                                         self.mels[a:b], self.vocab)
        return part(0, k), part(k, len(self))

    def mean_mel(self) -> torch.Tensor:
        """The average log-mel frame ``[80]`` over every frame: the "mean spectrogram" baseline."""
        return torch.cat(self.mels, dim=1).mean(dim=1)

    def loader(self, batch_size: int = 16, shuffle: bool = True) -> DataLoader:
        """Padded batches ``(phonemes [B,N], durations [B,N], mels [B,T,80], n_phonemes [B], n_frames [B])``."""
        return DataLoader(list(range(len(self))), batch_size=batch_size, shuffle=shuffle,
                          collate_fn=self.collate, generator=torch.Generator())

    def collate(self, indices) -> tuple:
        ph = torch.nn.utils.rnn.pad_sequence([self.phonemes[i] for i in indices], batch_first=True)
        dur = torch.nn.utils.rnn.pad_sequence([self._dur(i) for i in indices], batch_first=True)
        mel = torch.nn.utils.rnn.pad_sequence([self.mels[i].T for i in indices], batch_first=True,
                                              padding_value=float(np.log(audio.LOG_FLOOR)))
        n_ph = torch.tensor([len(self.phonemes[i]) for i in indices])
        n_fr = torch.tensor([self.mels[i].shape[1] for i in indices])
        return ph, dur, mel, n_ph, n_fr

    def _dur(self, i):
        d = self.durations[i]
        return d if d is not None else torch.zeros(len(self.phonemes[i]), dtype=torch.long)


def encode_phonemes(phonemes, vocab) -> torch.Tensor:
    """Phoneme symbols → ids; an unseen symbol falls back to its unstressed form, then ``<unk>``."""
    index = {p: i for i, p in enumerate(vocab)}
    ids = [index.get(p, index.get(p.replace("ˈ", "").replace("ˌ", ""), index[UNK])) for p in phonemes]
    return torch.tensor(ids, dtype=torch.long)


def _cache_path(name: str, params: dict) -> Path:
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    folder = config.data_dir() / "speech"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}-{key}.npz"


def _save(path: Path, corpus: SpeechCorpus) -> None:
    tmp = config.private_tmp(path, ".tmp.npz")  # np.savez adds .npz to any other name
    np.savez(tmp, texts=np.array(corpus.texts), vocab=np.array(corpus.vocab),
             phonemes=torch.cat(corpus.phonemes).numpy(), durations=torch.cat(corpus.durations).numpy(),
             n_phonemes=np.array([len(p) for p in corpus.phonemes]),
             mels=torch.cat(corpus.mels, dim=1).numpy().astype(np.float32),
             n_frames=np.array([m.shape[1] for m in corpus.mels]))
    tmp.replace(path)


def _load(path: Path) -> SpeechCorpus:
    with np.load(path, allow_pickle=False) as z:
        ph_cut, fr_cut = np.cumsum(z["n_phonemes"])[:-1], np.cumsum(z["n_frames"])[:-1]
        phonemes = [torch.from_numpy(a.copy()) for a in np.split(z["phonemes"], ph_cut)]
        durations = [torch.from_numpy(a.copy()) for a in np.split(z["durations"], ph_cut)]
        mels = [torch.from_numpy(a.copy()) for a in np.split(z["mels"], fr_cut, axis=1)]
        return SpeechCorpus([str(t) for t in z["texts"]], phonemes, durations, mels,
                            [str(v) for v in z["vocab"]])


def corpus_from_speech(texts, symbols, durations, waves) -> SpeechCorpus:
    """A :class:`SpeechCorpus` from synthesised utterances (any language).

    ``symbols``: one list of phoneme symbols per utterance (``"_"`` is the pause); ``durations``:
    frames per symbol; ``waves``: the audio, turned into log-mel spectrograms ``[frames, 80]``.
    The vocabulary is ``PAD``, ``UNK``, the pause, then every other symbol, sorted.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one small FFT per utterance: one thread is fastest (no thread hand-offs)
    try:
        mels = [audio.mel_spectrogram(w) for w in waves]
    finally:
        torch.set_num_threads(threads)
    vocab = [PAD, UNK, "_"] + sorted({p for s in symbols for p in s} - {"_"})
    return SpeechCorpus(
        texts=list(texts),
        phonemes=[encode_phonemes(s, vocab) for s in symbols],
        durations=[torch.tensor(d, dtype=torch.long) for d in durations],
        mels=mels,
        vocab=vocab,
    )


def load_speech_corpus(n: int = 600, seed: int = 0, voice: str = "en-us", cache: bool = True) -> SpeechCorpus:
    """The offline corpus: ``n`` generated sentences spoken by eSpeak NG (cached in the data dir).

    The phoneme vocabulary is built from the corpus (plus ``<pad>``, ``<unk>`` and the pause ``_``).
    """
    sentences = generate_sentences(n, seed)
    from .espeak import version

    path = _cache_path("espeak", {"n": n, "seed": seed, "voice": voice, "version": 1,
                                  "espeak": version()})
    if cache and path.exists():
        return _load(path)
    spoken = [phonemize(s, voice=voice) for s in sentences]
    corpus = corpus_from_speech([u.text for u in spoken], [u.phonemes for u in spoken],
                                [u.durations for u in spoken], [u.wave for u in spoken])
    if cache:
        _save(path, corpus)
    return corpus


# --------------------------------------------------------------------------- LJSpeech (full profile)
LJSPEECH = Remote(
    url="https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2",
    sha256="be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5",
    filename="LJSpeech-1.1.tar.bz2",
)


def read_ljspeech_metadata(path) -> list:
    """``metadata.csv`` rows ``id|raw text|normalised text`` → list of ``(id, normalised text)``."""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE), 1):
            if len(row) != 3 or not row[0]:
                raise ValueError(f"{path}, line {line_no}: expected 'id|text|normalised text', got {row!r}")
            rows.append((row[0], row[2] or row[1]))
    return rows


def load_ljspeech(max_utterances: int | None = None, remote: Remote = LJSPEECH,
                  vocab: list | None = None) -> SpeechCorpus:
    """LJSpeech (Ito & Johnson, 2017; public domain): download (2.6 GB, SHA-256 checked), extract,
    and return the first ``max_utterances`` utterances with eSpeak phonemes and log-mels.

    Durations are ``None``: real recordings come without phoneme timings. Train an attention model
    (Tacotron 2), or get durations from an aligner, before a FastSpeech model can use them.
    """
    archive = fetch(remote)
    root = archive.parent / "LJSpeech-1.1"
    if not (root / "metadata.csv").exists():
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(archive.parent, filter="data")
    rows = read_ljspeech_metadata(root / "metadata.csv")[:max_utterances]
    texts, phones, mels = [], [], []
    for utt_id, text in rows:
        wave, sr = audio.read_wav(root / "wavs" / f"{utt_id}.wav")
        if sr != audio.SAMPLE_RATE:
            raise ValueError(f"{utt_id}.wav: expected {audio.SAMPLE_RATE} Hz, got {sr}")
        texts.append(normalize_text(text))
        phones.append(phonemize(text).phonemes)
        mels.append(audio.mel_spectrogram(wave))
    vocab = vocab or [PAD, UNK, "_"] + sorted({p for ps in phones for p in ps} - {"_"})
    return SpeechCorpus(texts, [encode_phonemes(p, vocab) for p in phones], [None] * len(texts),
                        mels, vocab)
