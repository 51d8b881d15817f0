"""The full profile's code paths, at a tiny size, on fixture data built here.

Every branch a notebook runs only with ``AIGC_PROFILE=full`` calls the package functions tested
below, so CI (fast profile) still executes that code: Tiny Shakespeare → char-LSTM (lab 06),
IMDB → LSTM classifier (07), the ``diffusers`` U-Net through ``fit`` (10), Tacotron 2 through
``fit`` (12; the LJSpeech loader is tested in ``test_speech.py``), ``torch.compile`` (14).
"""

import hashlib
import io
import json
import math
import re
import tarfile
from pathlib import Path

import pytest
import torch

from aigc_course import text as T
from aigc_course.data.download import Remote
from aigc_course.data.text_downloads import load_imdb, load_tiny_shakespeare
from aigc_course.metrics import accuracy
from aigc_course.models import DigitsCNN, train_sentiment_classifier
from aigc_course.models.diffusion import NoiseSchedule, ddim_sample, diffusion_step
from aigc_course.models.rnn import CharLSTM, bits_per_char, tbptt_step
from aigc_course.models.tts import Tacotron2, pad_to_multiple, tacotron_alignments, tacotron_step
from aigc_course.models.unet import UNetDenoiser, unet_for_digits
from aigc_course.scaling import compare_compile, time_training_steps
from aigc_course.speech import SpeechCorpus
from aigc_course.train import fit, has_checkpoint

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread avoids hand-offs on a busy machine
    yield
    torch.set_num_threads(threads)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- 06: Tiny Shakespeare
def test_tiny_shakespeare_trains_a_char_lstm(server, tmp_path):
    www, url = server
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
    (www / "input.txt").write_bytes((text * 40).encode())
    remote = Remote(f"{url}/input.txt", _sha((text * 40).encode()), "tinyshakespeare.txt")
    train_text, val_text = load_tiny_shakespeare(remote=remote, folder=tmp_path / "dl",
                                                 progress=False)
    vocab = T.CharVocab.from_text(train_text, unk=True)  # as in the notebook's cell
    batches = T.bptt_batches(vocab.encode(train_text), batch_size=4, seq_len=16)
    torch.manual_seed(0)
    model = CharLSTM(len(vocab), embed_dim=8, hidden_size=32)
    before = bits_per_char(model, vocab.encode(val_text), streams=2, seq_len=32)
    history = fit(model, batches, optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
                  step=tbptt_step(len(batches), grad_clip=1.0),
                  epochs=math.ceil(60 / len(batches)), max_steps=60, progress=False, device="cpu")
    after = bits_per_char(model, vocab.encode(val_text), streams=2, seq_len=32)
    assert len(history.steps) == 60
    assert after < 0.6 * before and after < math.log2(len(vocab))


def test_text_loaders_check_their_arguments_before_downloading():
    offline = Remote("http://127.0.0.1:9/x.txt", "0" * 64, "x.txt")  # never reached
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\), got 1"):
        load_tiny_shakespeare(1.0, remote=offline)
    with pytest.raises(TypeError, match="val_fraction must be a number, got str"):
        load_tiny_shakespeare("0.1", remote=offline)
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\), got 'dev'"):
        load_imdb("dev", remote=offline)
    with pytest.raises(ValueError, match="limit must be an int >= 1, got 0"):
        load_imdb(limit=0, remote=offline)
    with pytest.raises(TypeError, match="limit must be an int, got True"):
        load_imdb(limit=True, remote=offline)


# --------------------------------------------------------------------------- 07: IMDB
def _imdb_archive(path: Path) -> Path:
    reviews = {"pos": ["a great film, loved it", "wonderful acting<br />great story",
                       "great fun, loved the cast"],
               "neg": ["an awful film, hated it", "boring and awful", "awful plot, hated the cast"]}
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "test"):
            for label, texts in reviews.items():
                for i, review in enumerate(texts):
                    data = review.encode()
                    stars = 8 if label == "pos" else 2
                    info = tarfile.TarInfo(f"aclImdb/{split}/{label}/{i}_{stars}.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        readme = tarfile.TarInfo("aclImdb/README")  # other files in the archive are skipped
        readme.size = 2
        tar.addfile(readme, io.BytesIO(b"hi"))
    return path


def test_imdb_trains_the_sentiment_classifier(tmp_path):
    archive = _imdb_archive(tmp_path / "aclImdb_v1.tar.gz")
    remote = Remote(archive.as_uri(), _sha(archive.read_bytes()), "aclImdb_v1.tar.gz")
    texts, labels = load_imdb("train", remote=remote, folder=tmp_path / "dl", progress=False,
                              limit=3)
    test_texts, test_labels = load_imdb("test", remote=remote, folder=tmp_path / "dl",
                                        progress=False, limit=2)
    assert labels == [0] * 3 + [1] * 3 and test_labels == [0, 0, 1, 1]
    assert "wonderful acting great story" in texts
    clf, history = train_sentiment_classifier(texts, labels, epochs=30, max_len=200, batch_size=6,
                                              embed_dim=8, hidden_size=8, lr=1e-2, device="cpu")
    assert history.epochs[-1]["loss"] < 0.5 * history.epochs[0]["loss"]
    assert accuracy(clf.predict(test_texts), torch.tensor(test_labels)) == 1.0


# --------------------------------------------------------------------------- 10: diffusers U-Net
def _tiny_digits(n=32):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_unet_trains_through_fit_and_samples(tmp_path):
    torch.manual_seed(0)
    unet = unet_for_digits(channels=(8, 16))
    schedule = NoiseSchedule.cosine(20)
    history = fit(unet, _tiny_digits(), optimizer=torch.optim.AdamW(unet.parameters(), lr=1e-3),
                  step=diffusion_step(schedule), epochs=2, batch_size=16, max_steps=3,
                  checkpoint=tmp_path / "ckpt", progress=False, device="cpu")
    losses = history["loss"]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert has_checkpoint(tmp_path / "ckpt")
    labels = torch.tensor([0, 3, 9])
    samples = ddim_sample(unet, schedule, labels, steps=4, guidance=1.0,
                          generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 1
    classifier = DigitsCNN().eval()  # the notebook's cell: classifier and samples, one device
    assert samples.device == next(classifier.parameters()).device == next(unet.parameters()).device
    assert accuracy(classifier(samples), labels) in (0.0, 1 / 3, 2 / 3, 1.0)


def test_unet_builds_its_tensors_on_the_model_device():
    # "meta" tensors have a device but no data: a tensor made on the CPU by mistake fails here
    unet = unet_for_digits(channels=(8, 16)).to("meta")
    seen = []  # devices of what the wrapper hands to the diffusers U-Net
    unet.unet.register_forward_pre_hook(
        lambda _, args, kwargs: seen.append({a.device.type for a in (*args, *kwargs.values())}),
        with_kwargs=True)
    x = torch.randn(2, 1, 8, 8, device="meta")
    assert unet(x, 5).device.type == "meta"  # one int step, no labels: built inside forward
    assert unet(x, torch.tensor([1, 2], device="meta")).shape == (2, 1, 8, 8)
    assert seen == [{"meta"}, {"meta"}]


def test_unet_checks_its_arguments():
    from diffusers import UNet2DModel

    with pytest.raises(ValueError, match="num_class_embeds = num_classes \\+ 1 = 11"):
        UNetDenoiser(UNet2DModel(sample_size=8, in_channels=1, out_channels=1,
                                 block_out_channels=(8, 16), norm_num_groups=8,
                                 down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D")))  # unconditional
    with pytest.raises(ValueError, match="multiples of 8"):
        unet_for_digits(channels=(12, 16))
    with pytest.raises(ValueError, match="two ints"):
        unet_for_digits(channels=(8,))
    unet = unet_for_digits(channels=(8, 16))
    assert unet.null_label == 10
    with pytest.raises(ValueError, match="t and y must have shape \\[2\\]"):
        unet(torch.zeros(2, 1, 8, 8), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        unet(torch.zeros(1, 8, 8), 1)


# --------------------------------------------------------------------------- 12: Tacotron 2
def _synthetic_speech(n=4, n_phonemes=8):
    """Utterances whose mel frames are a smooth function of the phonemes (3 frames each)."""
    g = torch.Generator().manual_seed(0)
    phonemes, mels = [], []
    for i in range(n):
        ids = torch.randint(2, n_phonemes, (5 + i,), generator=g)
        frames = ids.repeat_interleave(3).float()  # 3 frames per phoneme
        mels.append(torch.sin(frames[None] * torch.linspace(0.1, 1.0, 80)[:, None]) - 4.0)
        phonemes.append(ids)
    vocab = ["<pad>", "<unk>"] + [f"p{i}" for i in range(2, n_phonemes)]
    return SpeechCorpus([f"utt {i}" for i in range(n)], phonemes, [None] * n, mels, vocab)


def test_tacotron2_trains_through_fit():
    corpus = _synthetic_speech()
    torch.manual_seed(0)
    taco = Tacotron2(len(corpus.vocab), d_model=16, rnn_dim=32, prenet_dim=16, postnet_dim=16)
    history = fit(taco, corpus.loader(batch_size=4, shuffle=False), step=tacotron_step,
                  optimizer=torch.optim.Adam(taco.parameters(), lr=3e-3), epochs=40, max_steps=40,
                  progress=False, device="cpu")
    l1 = history["mel_l1"]
    assert len(l1) == 40 and all(math.isfinite(v) for v in history["loss"])
    assert sum(l1[-5:]) / 5 < 0.7 * sum(l1[:5]) / 5
    phonemes, _, mel, _, _ = corpus.collate([0, 1])
    taco.train()
    aligned = tacotron_alignments(taco, phonemes, pad_to_multiple(mel, taco.r))
    assert taco.training  # the model's mode is restored
    assert aligned.device.type == "cpu" and aligned.shape[::2] == (2, phonemes.shape[1])
    assert torch.allclose(aligned.sum(-1), torch.ones(aligned.shape[:2]), atol=1e-5)


def test_pad_to_multiple_pads_with_silence():
    mel = torch.zeros(2, 7, 80)
    out = pad_to_multiple(mel, 3, floor=-11.5)
    assert out.shape == (2, 9, 80) and torch.equal(out[:, :7], mel)
    assert (out[:, 7:] == -11.5).all()
    assert pad_to_multiple(mel, 7) is mel


# --------------------------------------------------------------------------- 14: torch.compile
def _make_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


@pytest.mark.parametrize("backend", ["eager", "inductor"])  # inductor: ~15 s of C++ compiling
def test_compile_matches_eager_training(backend, monkeypatch):
    compiled_with = []
    real_compile = torch.compile

    def spy(model, **kwargs):
        compiled_with.append(kwargs)
        return real_compile(model, **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    timing = compare_compile(_make_mlp, x, y, steps=5, backend=backend)
    assert compiled_with == [{"backend": backend}]  # one model of the two went through compile
    eager, compiled = timing["eager"], timing["compiled"]
    assert set(eager) == set(compiled) == {"first_s", "step_s", "loss"}
    assert compiled["loss"] == pytest.approx(eager["loss"], rel=1e-4)  # same function learned
    assert eager["loss"] < time_training_steps(_make_mlp(), x, y, steps=1)["loss"]
    assert all(v > 0 for v in (*eager.values(), *compiled.values()))


def test_compile_checks_its_arguments():
    x, y = torch.randn(4, 8), torch.randint(0, 3, (4,))
    with pytest.raises(ValueError, match="backend must be one of"):
        compare_compile(_make_mlp, x, y, backend="tensorrt")
    with pytest.raises(ValueError, match="same length"):
        time_training_steps(_make_mlp(), x, y[:3])
    with pytest.raises(TypeError, match="y must be an integer tensor"):
        time_training_steps(_make_mlp(), x, y.float())
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        time_training_steps(_make_mlp(), x, y, steps=0)


# --------------------------------------------------------------------------- the notebooks
FULL_ONLY = re.compile(r'get_profile\(\) == "full"|by_profile\(fast=(0|False),')
PLACES_ON_CUDA = re.compile(r'(?<!== )["\']cuda(:\d+)?["\']')  # "cuda" other than in a comparison


def _code_cells(name):
    cells = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("name", ["06_lstm_text_generation.ipynb", "07_lstm_sentiment.ipynb",
                                  "10_diffusion_lab.ipynb", "12_tts_lab.ipynb",
                                  "14_scaling_up.ipynb"])
def test_full_profile_cells_are_short_and_device_neutral(name):
    cells = _code_cells(name)
    full_only = [c for c in cells if FULL_ONLY.search(c)]
    assert full_only, f"{name}: no full-profile branch found (did the marker change?)"
    for cell in full_only:
        n_lines = len(cell.splitlines())
        assert n_lines <= 16, f"{name}: a full-only cell of {n_lines} lines; move its code into " \
                              f"a tested package function"
    for cell in cells:
        assert not PLACES_ON_CUDA.search(cell), f"{name} hard-codes 'cuda': use ac.get_device()"
