"""Tests of the TTS lab's support code: front end, audio, corpora, models and speak()."""

import hashlib
import tarfile

import numpy as np
import pytest
import torch

from aigc_course import audio
from aigc_course.data.download import DownloadError, Remote
from aigc_course.models.tts import (
    FastSpeech,
    Tacotron2,
    evaluate_fastspeech,
    fastspeech_step,
    length_regulate,
    tacotron_step,
)
from aigc_course.speech import (
    SpeechCorpus,
    durations_in_frames,
    encode_phonemes,
    espeak,
    generate_sentences,
    load_ljspeech,
    load_speech_corpus,
    load_tts,
    normalize_text,
    number_to_words,
    ordinal_to_words,
    phonemize,
    read_ljspeech_metadata,
    save_tts,
    speak,
    synthesize,
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # the tensors here are tiny: one thread avoids thread hand-offs (much faster on a busy machine)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture(scope="module")
def tiny_corpus():
    return load_speech_corpus(n=6, seed=3, cache=False)


# --------------------------------------------------------------------------- front end
@pytest.mark.parametrize("text, expected", [
    ("Dr. Smith paid $3.50 on the 2nd.", "doctor smith paid three dollars fifty cents on the second."),
    ("In 1984, 12 cats & 1,000 dogs!", "in nineteen eighty four, twelve cats and one thousand dogs!"),
    ("It fell -3.25%; see No. 7, e.g. now", ("it fell minus three point two five percent; see number "
                                             "seven, for example now")),
    ("  Mr.   Brown   vs.  Mrs. Green?  ", "mister brown versus missus green?"),
    ("The 21st of $1", "the twenty first of one dollar"),
    ("Year 2024, room 1905.", "year two thousand twenty four, room nineteen oh five."),
])
def test_normalize_text_spells_out_tricky_text(text, expected):
    assert normalize_text(text) == expected


def test_number_words():
    assert number_to_words(0) == "zero"
    assert number_to_words(115) == "one hundred fifteen"
    assert number_to_words(2_000_017) == "two million seventeen"
    assert number_to_words(-40) == "minus forty"
    assert ordinal_to_words(12) == "twelfth" and ordinal_to_words(30) == "thirtieth"
    assert ordinal_to_words(103) == "one hundred third"
    with pytest.raises(ValueError, match="up to 999,999,999,999"):
        number_to_words(10**12)
    with pytest.raises(TypeError, match="must be an int"):
        number_to_words(1.5)


@pytest.mark.parametrize("bad, message", [("", "text is empty"), ("   \n", "text is empty"),
                                          ("?!... --", "nothing to speak")])
def test_normalize_text_rejects_empty_text(bad, message):
    with pytest.raises(ValueError, match=message):
        normalize_text(bad)
    with pytest.raises(ValueError, match=message):
        phonemize(bad)


def test_normalize_text_rejects_non_strings():
    with pytest.raises(TypeError, match="must be a str"):
        normalize_text(42)


def test_phonemize_gives_phonemes_with_durations_that_cover_the_audio():
    p = phonemize("Hello, world. It is 12 degrees!")
    assert p.text == "hello, world. it is twelve degrees!"
    assert len(p.phonemes) == len(p.durations) > 15
    assert all(d >= 0 for d in p.durations)
    assert p.n_frames == len(p.wave) // audio.HOP_LENGTH + 1
    assert p.phonemes[0] == "_" and "_" in p.phonemes[2:-2]  # leading silence, pause at the comma
    assert {"h", "l", "w", "d"} <= set(p.phonemes)
    assert p.wave.dtype == np.float32 and 0.05 < np.abs(p.wave).max() <= 1.0


def test_espeak_is_repeatable_and_checks_its_inputs():
    a, b = synthesize("a test, again"), synthesize("a test, again")
    assert a.sample_rate == audio.SAMPLE_RATE and a.phonemes == b.phonemes
    assert abs(len(a.wave) - len(b.wave)) < 0.01 * len(a.wave)  # only eSpeak's pitch flutter differs
    assert espeak.version()[0].isdigit()
    with pytest.raises(ValueError, match="no voice"):
        synthesize("hello", voice="xx-nonexistent")
    with pytest.raises(ValueError, match="empty"):
        synthesize(" ")


def test_durations_in_frames():
    assert durations_in_frames([0, 256, 1000], n_samples=2000) == [1, 3, 4]
    assert sum(durations_in_frames([0, 5, 5, 1999], 2000)) == 2000 // 256 + 1
    with pytest.raises(ValueError, match="begin at 0"):
        durations_in_frames([3, 10], 100)
    with pytest.raises(ValueError, match="never decrease"):
        durations_in_frames([0, 10, 5], 100)
    with pytest.raises(ValueError, match="before the last phoneme"):
        durations_in_frames([0, 500], 100)


# --------------------------------------------------------------------------- audio
def test_stft_round_trip_is_exact_and_mel_has_the_right_shape():
    wave = torch.from_numpy(synthesize("round trip").wave)
    back = audio.istft(audio.stft(wave), length=len(wave))
    assert torch.max(torch.abs(back - wave)) < 1e-4
    mel = audio.mel_spectrogram(wave)
    assert mel.shape == (80, len(wave) // 256 + 1)
    silent = audio.mel_spectrogram(torch.zeros(4096))
    assert torch.allclose(silent, torch.full_like(silent, np.log(1e-5)))


def test_griffin_lim_rebuilds_a_magnitude_far_better_than_random_phase():
    wave = torch.from_numpy(synthesize("Griffin and Lim.").wave)
    mag = audio.stft(wave).abs()
    rebuilt = audio.griffin_lim(mag, n_iter=32, length=len(wave))
    random_phase = audio.griffin_lim(mag, n_iter=1, momentum=0.0, length=len(wave))
    err, err_random = (audio.spectral_convergence(w, wave) for w in (rebuilt, random_phase))
    assert err < 0.25 and err < 0.5 * err_random
    from_mel = audio.mel_to_audio(audio.mel_spectrogram(wave))
    assert audio.spectral_convergence(from_mel[: len(wave)], wave) < 0.6
    assert from_mel.abs().max() <= 1.0


def test_audio_input_errors():
    with pytest.raises(ValueError, match="1-D"):
        audio.stft(torch.zeros(2, 4096))
    with pytest.raises(ValueError, match="too short"):
        audio.mel_spectrogram(torch.zeros(100))
    with pytest.raises(TypeError, match="floats"):
        audio.stft(torch.zeros(4096, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\[513, frames\]"):
        audio.griffin_lim(torch.zeros(80, 10))
    with pytest.raises(ValueError, match="n_iter"):
        audio.griffin_lim(torch.zeros(513, 10), n_iter=0)
    with pytest.raises(ValueError, match=r"\[80, frames\]"):
        audio.mel_to_magnitude(torch.zeros(513, 10))


def test_wav_round_trip_and_player(tmp_path):
    wave = synthesize("save me").wave
    path = audio.write_wav(tmp_path / "out" / "a.wav", wave)
    back, sr = audio.read_wav(path)
    assert sr == 22_050 and back.shape == (len(wave),)
    assert torch.max(torch.abs(back - torch.from_numpy(wave))) < 1e-3  # 16-bit quantisation
    html = audio.play(wave)._repr_html_()
    assert "<audio" in html


# --------------------------------------------------------------------------- corpus
def test_generated_sentences_are_distinct_and_reproducible():
    a = generate_sentences(200, seed=1)
    assert a == generate_sentences(200, seed=1) and len(set(a)) == 200
    assert a != generate_sentences(200, seed=2)
    with pytest.raises(ValueError, match="positive int"):
        generate_sentences(0)


def test_corpus_is_consistent_and_cached(data_dir):
    corpus = load_speech_corpus(n=5, seed=7)
    assert len(list((data_dir / "speech").glob("espeak-*.npz"))) == 1
    again = load_speech_corpus(n=5, seed=7)
    for i in range(5):
        assert int(corpus.durations[i].sum()) == corpus.mels[i].shape[1]
        assert len(corpus.durations[i]) == len(corpus.phonemes[i])
        assert torch.equal(corpus.phonemes[i], again.phonemes[i])
        assert torch.allclose(corpus.mels[i], again.mels[i])
    assert corpus.texts == again.texts and corpus.vocab[:3] == ["<pad>", "<unk>", "_"]
    ph, dur, mel, _, n_fr = next(iter(corpus.loader(batch_size=5, shuffle=False)))
    assert ph.shape == dur.shape and mel.shape == (5, int(n_fr.max()), 80)
    assert torch.equal(dur.sum(1), n_fr)
    with pytest.raises(ValueError, match="n_val"):
        corpus.split(5)


def test_unknown_phonemes_fall_back():
    vocab = ["<pad>", "<unk>", "_", "a", "ˈe"]
    assert encode_phonemes(["a", "ˈa", "e", "ˈe", "zz"], vocab).tolist() == [3, 3, 1, 4, 1]


def _ljspeech_fixture(tmp_path):
    root = tmp_path / "src" / "LJSpeech-1.1"
    (root / "wavs").mkdir(parents=True)
    rows = [("LJ001-0001", "Printing, in the only sense.", "Printing, in the only sense."),
            ("LJ001-0002", "In 1492 he sailed.", "In fourteen ninety-two he sailed.")]
    for utt_id, _, text in rows:
        audio.write_wav(root / "wavs" / f"{utt_id}.wav", synthesize(text).wave)
    (root / "metadata.csv").write_text("".join(f"{a}|{b}|{c}\n" for a, b, c in rows), encoding="utf-8")
    archive = tmp_path / "src" / "LJSpeech-1.1.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        tar.add(root, arcname="LJSpeech-1.1")
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def test_ljspeech_loader_on_a_fixture(tmp_path, data_dir):
    archive, sha = _ljspeech_fixture(tmp_path)
    remote = Remote(f"file://{archive}", sha, "LJSpeech-1.1.tar.bz2")
    corpus = load_ljspeech(remote=remote)
    assert len(corpus) == 2 and corpus.durations == [None, None]
    assert corpus.texts[1] == "in fourteen ninety-two he sailed."
    assert all(m.shape[0] == 80 and m.shape[1] > 20 for m in corpus.mels)
    assert all((p > 1).all() for p in corpus.phonemes)  # every phoneme is in the vocabulary
    _, dur, _, _, _ = corpus.collate([0, 1])
    assert int(dur.sum()) == 0  # no durations for real recordings
    bad = Remote(f"file://{archive}", "0" * 64, "other.tar.bz2")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        load_ljspeech(remote=bad)


def test_ljspeech_metadata_errors(tmp_path):
    path = tmp_path / "metadata.csv"
    path.write_text("LJ001-0001|only two fields\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        read_ljspeech_metadata(path)


# --------------------------------------------------------------------------- models
def test_length_regulator_shapes_and_values():
    h = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    durations = torch.tensor([[1, 2, 0], [3, 0, 1]])
    frames, n_frames = length_regulate(h, durations)
    assert frames.shape == (2, 4, 4) and n_frames.tolist() == [3, 4]
    assert torch.equal(frames[0, :3], h[0, [0, 1, 1]]) and torch.equal(frames[0, 3], torch.zeros(4))
    assert torch.equal(frames[1], h[1, [0, 0, 0, 2]])
    with pytest.raises(ValueError, match="non-negative integers"):
        length_regulate(h, durations.float())
    with pytest.raises(ValueError, match="non-negative integers"):
        length_regulate(h, -durations)
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        length_regulate(h, durations[:, :2])


def test_fastspeech_shapes_and_predicted_durations():
    torch.manual_seed(0)
    model = FastSpeech(10, d_model=32, d_ff=64).eval()
    ph = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9]])
    out = model(ph, torch.tensor([[2, 1, 3, 0], [1, 1, 1, 1]]))
    assert out.mel.shape == (2, 6, 80) and out.n_frames.tolist() == [6, 4]
    assert out.log_durations.shape == (2, 4) and out.log_durations[0, 3] == 0
    free = model(ph, pace=0.5)
    assert free.durations[0, 3] == 0 and free.mel.shape[1] == max(int(free.n_frames.max()), 1)
    assert torch.equal(free.n_frames, free.durations.sum(1))  # untrained: any durations, consistent
    with pytest.raises(ValueError, match=r"\[batch, length\]"):
        model(ph[0])
    with pytest.raises(ValueError, match="at least 2"):
        FastSpeech(1)


def test_fastspeech_overfits_a_tiny_batch(tiny_corpus):
    torch.manual_seed(0)
    train = SpeechCorpus(*(getattr(tiny_corpus, k)[:4] for k in ("texts", "phonemes", "durations",
                                                                "mels")), tiny_corpus.vocab)
    model = FastSpeech(len(train.vocab), d_model=64, d_ff=128, dropout=0.0, mel_mean=train.mean_mel())
    batch = next(iter(train.loader(batch_size=4, shuffle=False)))
    before = evaluate_fastspeech(model, [batch])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(80):
        logs = fastspeech_step(model, batch, opt)
    after = evaluate_fastspeech(model, [batch])
    assert after["mel_l1"] < 0.5 * before["mel_l1"] and after["mel_l1"] < 0.8
    assert logs["duration_mse"] < 0.3


def test_tacotron2_shapes_masks_and_a_training_step(tiny_corpus):
    torch.manual_seed(0)
    model = Tacotron2(len(tiny_corpus.vocab), d_model=32, rnn_dim=64, prenet_dim=32, postnet_dim=32)
    batch = tiny_corpus.collate([0, 1, 2])
    ph, _, mel, n_ph, _ = batch
    t = mel.shape[1] - mel.shape[1] % 2
    before, after, stop, align = model(ph, mel[:, :t])
    assert before.shape == after.shape == (3, t, 80) and stop.shape == (3, t)
    assert align.shape == (3, t // 2, ph.shape[1])
    assert torch.allclose(align.sum(-1), torch.ones(3, t // 2), atol=1e-5)
    short = int(n_ph.argmin())
    assert align[short, :, int(n_ph[short]):].abs().max() < 1e-6  # never attends to padding
    with pytest.raises(ValueError, match="multiple of 2"):
        model(ph, mel[:, : t - 1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    logs = [tacotron_step(model, batch, opt)["loss"] for _ in range(3)]
    assert logs[-1] < logs[0]
    mel_out, align_out = model.eval().infer(ph[:1, : int(n_ph[0])], max_frames=8)
    assert mel_out.shape[0] == 1 and mel_out.shape[2] == 80 and align_out.shape[0] == 1
    with pytest.raises(ValueError, match="one utterance"):
        model.infer(ph)


# --------------------------------------------------------------------------- speak
def test_speak_with_a_saved_model(tiny_corpus, tmp_path):
    torch.manual_seed(0)
    model = FastSpeech(len(tiny_corpus.vocab), d_model=32, d_ff=64)
    path = save_tts(model, tiny_corpus.vocab, tmp_path / "tts.safetensors")
    loaded, vocab = load_tts(path)
    assert vocab == tiny_corpus.vocab
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    speech = speak("Dr. No has 2 cats.", model=loaded, vocab=vocab, n_iter=4)
    assert speech.text == "doctor no has two cats."
    assert speech.mel.shape[0] == 80 and speech.wave.ndim == 1 and speech.seconds > 0
    assert len(speech.durations) == len(speech.phonemes)
    assert "<audio" in speech._repr_html_()
    assert speech.save(tmp_path / "a.wav").stat().st_size > 44
    with pytest.raises(ValueError, match="empty"):
        speak("", model=loaded, vocab=vocab)
    with pytest.raises(ValueError, match="vocabulary"):
        speak("hello", model=loaded)
    with pytest.raises(ValueError, match="pace"):
        speak("hello", model=loaded, vocab=vocab, pace=0)
    with pytest.raises(FileNotFoundError, match="no trained TTS model"):
        load_tts(tmp_path / "missing.safetensors")
