"""Every erratum of book/errata.md: the broken snippet fails (or fails silently) and the fix works.

The numbering follows the page (E1 ... E16).
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

# --------------------------------------------------------------------------- E1 undefined name
BROKEN_E1 = """
import torch
from torch import nn

class Generator(nn.Module):
    def __init__(self, z_dim=100, img_shape=(1, 28, 28)):
        super().__init__()
        self.img_shape = img_shape
        self.net = nn.Sequential(nn.Linear(z_dim, 256), nn.ReLU(),
                                 nn.Linear(256, int(np.prod(img_shape))), nn.Tanh())

Generator()
"""


def test_e1_undefined_name_raises_and_fix_works():
    with pytest.raises(NameError, match="'np' is not defined"):
        exec(BROKEN_E1, {})  # noqa: S102 (the erratum's own code, on purpose)
    fixed = "import math\n" + BROKEN_E1.replace("np.prod", "math.prod").replace("Generator()\n", "")
    ns = {}
    exec(fixed, ns)  # noqa: S102
    g = ns["Generator"]()
    out = g.net(torch.randn(4, 100)).view(4, *g.img_shape)
    assert out.shape == (4, 1, 28, 28)


# --------------------------------------------------------------------------- E2 D trained only on fakes
def _gan():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    d = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))
    return g, d


def d_loss_broken(d, g, real, z):
    bce = nn.functional.binary_cross_entropy_with_logits
    fake_out = d(g(z))
    return bce(fake_out, torch.ones_like(fake_out)) + bce(fake_out, torch.zeros_like(fake_out))


def d_loss_fixed(d, g, real, z):
    bce = nn.functional.binary_cross_entropy_with_logits
    real_out, fake_out = d(real), d(g(z).detach())
    return bce(real_out, torch.ones_like(real_out)) + bce(fake_out, torch.zeros_like(fake_out))


def test_e2_discriminator_never_sees_real_data_in_broken_loss():
    g, d = _gan()
    z = torch.randn(64, 2)
    real_a, real_b = torch.randn(64, 2) + 3, torch.randn(64, 2) - 3
    assert d_loss_broken(d, g, real_a, z).item() == d_loss_broken(d, g, real_b, z).item()
    assert d_loss_fixed(d, g, real_a, z).item() != pytest.approx(d_loss_fixed(d, g, real_b, z).item())


def test_e2_fixed_discriminator_learns_to_separate():
    g, d = _gan()
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    for _ in range(100):
        real, z = torch.randn(128, 2) + 3, torch.randn(128, 2)
        loss = d_loss_fixed(d, g, real, z)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = ((d(torch.randn(500, 2) + 3) > 0).float().mean() + (d(g(torch.randn(500, 2))) < 0).float().mean()) / 2
    assert acc > 0.9


# --------------------------------------------------------------------------- E3 optimizer called on a loss
def test_e3_calling_an_optimizer_raises_and_fix_steps():
    model = nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    loss = nn.functional.mse_loss(model(x), y)
    with pytest.raises(TypeError, match="not callable"):
        opt(loss)
    before = loss.item()
    for _ in range(20):
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < before


# --------------------------------------------------------------------------- E4 Keras `trainable` in PyTorch
def test_e4_trainable_attribute_does_not_freeze_a_torch_module():
    g, d = _gan()
    combined = nn.Sequential(g, d)
    d.trainable = False  # the Keras idiom: just a new Python attribute on a torch module
    opt = torch.optim.Adam(combined.parameters(), lr=1e-2)
    before = [p.clone() for p in d.parameters()]
    loss = -d(g(torch.randn(16, 2))).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, d.parameters())), "D changed: not frozen"

    g, d = _gan()  # the fix: an optimizer over the generator's parameters only
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-2)
    before_d, before_g = [p.clone() for p in d.parameters()], [p.clone() for p in g.parameters()]
    loss = nn.functional.binary_cross_entropy_with_logits(d(g(torch.randn(16, 2))), torch.ones(16, 1))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    assert all(torch.equal(a, b) for a, b in zip(before_d, d.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_g, g.parameters()))


# --------------------------------------------------------------------------- E5 invented audio API
def test_e5_mel_to_wave_with_griffin_lim():
    from aigc_course import audio

    t = torch.arange(audio.SAMPLE_RATE // 2) / audio.SAMPLE_RATE
    wave = 0.5 * torch.sin(2 * torch.pi * 440 * t)
    log_mel = audio.mel_spectrogram(wave)
    rebuilt = audio.mel_to_audio(log_mel, n_iter=16)
    assert rebuilt.dim() == 1 and torch.isfinite(rebuilt).all()
    assert abs(len(rebuilt) - len(wave)) <= audio.HOP_LENGTH
    n = min(len(rebuilt), len(wave))
    assert audio.spectral_convergence(rebuilt[:n], wave[:n]) < 0.5
    assert not hasattr(torch, "mel_spectrogram_to_wav")


# --------------------------------------------------------------------------- E6 torchtext legacy
def test_e6_torchtext_legacy_api_is_gone_and_plain_pipeline_works():
    with pytest.raises(ImportError):
        from torchtext.data import BucketIterator, Field  # noqa: F401
    from collections import Counter

    from torch.nn.utils.rnn import pad_sequence

    texts = ["the service is good", "the app is not good at all", "bad"]
    labels = [1, 0, 0]
    counts = Counter(w for t in texts for w in t.lower().split())
    itos = ["<pad>", "<unk>"] + [w for w, _ in counts.most_common(10_000)]
    stoi = {w: i for i, w in enumerate(itos)}

    def collate(batch):
        ids = [torch.tensor([stoi.get(w, 1) for w in t.lower().split()]) for t, _ in batch]
        return pad_sequence(ids, batch_first=True, padding_value=0), torch.tensor([y for _, y in batch])

    loader = torch.utils.data.DataLoader(list(zip(texts, labels)), batch_size=3, collate_fn=collate)
    x, y = next(iter(loader))
    assert x.shape == (3, 7) and x.dtype == torch.long and (x[2, 1:] == 0).all()
    assert y.tolist() == labels


# --------------------------------------------------------------------------- E7 hub-only pipeline
def test_e7_hub_pipeline_fails_offline(tmp_path):
    code = textwrap.dedent("""
        from transformers import pipeline
        try:
            pipeline("text-generation", model="gpt2")
        except OSError as err:
            print("OSError", type(err).__name__)
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300, check=False)  # the child reports the error on stdout
    assert "OSError" in out.stdout, out.stderr[-2000:]


def test_e7_local_gpt2_pipeline_works_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, pipeline

    text = ["the world is a beautiful place", "the model writes text offline"] * 20
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<eos>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>")
    config = GPT2Config(vocab_size=len(hf_tok), n_positions=64, n_embd=32, n_layer=1, n_head=2,
                        eos_token_id=hf_tok.eos_token_id, bos_token_id=hf_tok.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    hf_tok.save_pretrained(tmp_path)
    generator = pipeline("text-generation", model=str(tmp_path), device="cpu")
    out = generator("the world", max_new_tokens=5, do_sample=False)[0]["generated_text"]
    assert out.startswith("the world") and len(out) > len("the world")


# --------------------------------------------------------------------------- E8 LSTM shapes
class BrokenRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, bidirectional=False):
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(hidden_size * 2, output_size)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])


class FixedRNN(nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_size, output_size, bidirectional=False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = nn.LSTM(embed_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), output_size)

    def forward(self, ids):
        out, _ = self.rnn(self.embed(ids))
        return self.fc(out[:, -1, :])


def test_e8_lstm_without_embedding_and_wrong_head_size():
    ids = torch.randint(1, 100, (4, 12))
    with pytest.raises(ValueError, match="dtype"):  # token ids are not [B, T, features] floats
        BrokenRNN(100, 32, 2)(ids)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        BrokenRNN(16, 32, 2)(torch.randn(4, 12, 16))  # unidirectional output is 32 wide, not 64
    for bidirectional in (False, True):
        assert FixedRNN(100, 16, 32, 2, bidirectional)(ids).shape == (4, 2)


# --------------------------------------------------------------------------- E9 accuracy over batches
def test_e9_summed_batch_accuracies_are_not_an_accuracy():
    torch.manual_seed(0)
    preds, labels = torch.randint(0, 2, (300,)), torch.randint(0, 2, (300,))
    batches = list(zip(preds.split(32), labels.split(32)))
    broken = 0
    for p, y in batches:
        broken += (p == y).sum().item() / y.size(0)
    correct = sum((p == y).sum().item() for p, y in batches)
    fixed = correct / sum(y.size(0) for _, y in batches)
    assert broken > 1  # an "accuracy" of ~5: silently wrong
    assert fixed == pytest.approx((preds == labels).float().mean().item())


# --------------------------------------------------------------------------- E10 uint8 before scaling
def to_uint8_broken(images):
    img = np.array(images, dtype=np.uint8)
    return img * 255


def to_uint8_fixed(images):
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + 1) / 2 * 255), 0, 255).astype(np.uint8)


def test_e10_casting_tanh_images_to_uint8_first_destroys_them():
    images = np.tanh(np.random.default_rng(0).normal(size=(4, 28, 28)))
    broken = to_uint8_broken(images)
    fixed = to_uint8_fixed(images)
    assert len(np.unique(broken)) <= 2  # everything truncated to 0 (and -1 wraps around)
    assert fixed.dtype == np.uint8 and fixed.min() < 30 and fixed.max() > 225
    assert len(np.unique(fixed)) > 100


# --------------------------------------------------------------------------- E11 a body that is only a comment
BROKEN_E11 = """
def generator_model():
    # ...

def discriminator_model():
    # ...
"""

FIXED_E11 = """
from torch import nn

def generator_model(z_dim=16, n_pixels=64):
    return nn.Sequential(nn.Linear(z_dim, 128), nn.ReLU(), nn.Linear(128, n_pixels), nn.Tanh())

def discriminator_model(n_pixels=64):
    raise NotImplementedError("exercise: write the discriminator")
"""


def test_e11_function_bodies_that_hold_only_a_comment_do_not_compile():
    with pytest.raises(SyntaxError, match="expected an indented block"):
        compile(BROKEN_E11, "<erratum>", "exec")
    ns = {}
    exec(compile(FIXED_E11, "<erratum>", "exec"), ns)  # noqa: S102
    assert ns["generator_model"]()(torch.randn(4, 16)).shape == (4, 64)
    with pytest.raises(NotImplementedError, match="discriminator"):
        ns["discriminator_model"]()


# --------------------------------------------------------------------------- E12, E14: Keras errata
@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def test_e12_invented_keras_image_api_and_save_img(keras, tmp_path):
    images = np.tanh(np.random.default_rng(0).normal(size=(28, 28, 1)))
    with pytest.raises(AttributeError, match="to_image"):
        keras.preprocessing.image.to_image(images, tmp_path / "broken.png")
    path = tmp_path / "fixed.png"
    keras.utils.save_img(path, to_uint8_fixed(images), scale=False)
    loaded = keras.utils.img_to_array(keras.utils.load_img(path, color_mode="grayscale"))
    assert loaded.shape == (28, 28, 1)
    assert np.array_equal(loaded.astype(np.uint8), to_uint8_fixed(images))


def _keras_mlp(keras, n_in, n_out, activation):
    inputs = keras.Input(shape=(n_in,))
    hidden = keras.layers.Dense(32, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(n_out, activation=activation)(hidden))


def test_e14_keras_gan_fed_the_image_size_instead_of_the_latent(keras):
    latent_dim, n_pixels = 100, 784
    z = np.random.default_rng(0).normal(size=(32, latent_dim)).astype("float32")
    # broken: every network is built with the 784-pixel input, the GAN too
    generator = _keras_mlp(keras, n_pixels, n_pixels, "tanh")
    discriminator = _keras_mlp(keras, n_pixels, 1, "sigmoid")
    x = keras.Input(shape=(n_pixels,))
    broken_gan = keras.Model(x, discriminator(generator(x)))
    expected = r"expected shape=\(None, 784\), found shape=\(32, 100\)"
    with pytest.raises(ValueError, match=expected):
        broken_gan(z)
    # fixed: the generator and the GAN take the latent vector, the discriminator takes images
    generator = _keras_mlp(keras, latent_dim, n_pixels, "tanh")
    z_in = keras.Input(shape=(latent_dim,))
    gan = keras.Model(z_in, discriminator(generator(z_in)))
    assert tuple(generator(z).shape) == (32, n_pixels)
    assert tuple(gan(z).shape) == (32, 1)


# --------------------------------------------------------------- E13 a loop that never calls the model
def _tts_data():
    torch.manual_seed(0)
    phonemes = torch.randn(64, 12)                    # stand-in for encoded text
    mels = phonemes @ torch.randn(12, 20)             # target mel frames
    return torch.utils.data.DataLoader(list(zip(phonemes, mels)), batch_size=16)


def test_e13_tts_loop_that_never_calls_the_model():
    with pytest.raises(NameError, match="train_dataset"):
        exec("DataLoader(train_dataset)", {"DataLoader": torch.utils.data.DataLoader})  # noqa: S102
    model = nn.Linear(12, 20)
    opt = torch.optim.Adam(model.parameters(), lr=5e-2)
    text, mel = next(iter(_tts_data()))
    loss = nn.functional.mse_loss(text[:, :1].expand_as(mel), mel)  # compares two data tensors
    with pytest.raises(RuntimeError, match="does not require grad"):
        loss.backward()
    first = None
    for _ in range(50):  # fixed: the model maps its input to the target
        for text, mel in _tts_data():
            loss = nn.functional.mse_loss(model(text), mel)
            opt.zero_grad()
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
    assert loss.item() < 0.1 * first


# --------------------------------------------------------------- E15 a "text generator" that classifies
class SentimentLSTM(nn.Module):
    """The broken 'text generation' model: one label per text, 2 outputs."""

    def __init__(self, vocab_size, hidden=32, n_out=2):
        super().__init__()
        self.embed, self.rnn = nn.Embedding(vocab_size, 16), nn.LSTM(16, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, n_out)

    def forward(self, ids):
        out, _ = self.rnn(self.embed(ids))
        return self.fc(out[:, -1])           # [B, 2]: a class, not the next character


class CharLM(SentimentLSTM):
    """The fix: a next-token distribution over the vocabulary at every position."""

    def __init__(self, vocab_size, hidden=32):
        super().__init__(vocab_size, hidden, n_out=vocab_size)

    def forward(self, ids):
        out, _ = self.rnn(self.embed(ids))
        return self.fc(out)                  # [B, T, vocab_size]


def test_e15_a_classifier_cannot_be_trained_or_sampled_as_a_language_model():
    torch.manual_seed(0)
    vocab_size = 30
    ids = torch.randint(0, vocab_size, (4, 11))
    x, y = ids[:, :-1], ids[:, 1:]
    broken = SentimentLSTM(vocab_size)
    assert broken(x).shape == (4, 2)
    assert int(y[:, -1].max()) >= 2
    with pytest.raises(IndexError, match="out of bounds"):  # the next character is not a class
        nn.functional.cross_entropy(broken(x), y[:, -1])
    fixed = CharLM(vocab_size)
    logits = fixed(x)
    assert logits.shape == (4, 10, vocab_size)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    assert loss.item() == pytest.approx(np.log(vocab_size), rel=0.1)  # untrained: ≈ uniform
    prompt = ids[:1, :3]
    for _ in range(20):  # sampling: feed the prediction back in
        probs = fixed(prompt)[:, -1].softmax(-1)
        prompt = torch.cat([prompt, torch.multinomial(probs, 1)], dim=1)
    assert prompt.shape == (1, 23) and int(prompt.max()) < vocab_size


# --------------------------------------------------------------------------- E16 GPT is not a GAN
def test_e16_gpt_is_a_language_model_trained_by_next_token_likelihood():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    model = GPT2LMHeadModel(config)
    ids = torch.randint(0, 50, (2, 12))
    out = model(ids, labels=ids)
    by_hand = nn.functional.cross_entropy(out.logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())
    assert out.loss.item() == pytest.approx(by_hand.item(), rel=1e-5)  # one network, one likelihood
    assert not any("discriminator" in name for name, _ in model.named_modules())


def test_e16_a_gan_on_sampled_tokens_gets_no_gradient():
    torch.manual_seed(0)
    generator = nn.Linear(8, 50)                     # logits over a 50-token vocabulary
    discriminator = nn.Embedding(50, 1)               # scores a token
    tokens = torch.multinomial(generator(torch.randn(16, 8)).softmax(-1), 1)  # discrete samples
    g_loss = -discriminator(tokens).mean()
    g_loss.backward()
    assert generator.weight.grad is None             # sampling cut the path: G cannot learn
    targets = torch.randint(0, 50, (16,))            # the fix: likelihood of the reply tokens
    nn.functional.cross_entropy(generator(torch.randn(16, 8)), targets).backward()
    assert generator.weight.grad is not None and generator.weight.grad.abs().sum() > 0
