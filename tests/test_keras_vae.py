"""Tests of the Keras 3 VAE (chapter 09 companion): shapes, the custom train_step, bad input."""

import numpy as np
import pytest

from aigc_course.keras import vae as KV


def test_input_validation():
    assert KV.as_flat_images(np.zeros((3, 8, 8, 1))).shape == (3, 64)
    assert KV.as_flat_images(np.ones((2, 1, 8, 8))).dtype == np.float32
    with pytest.raises(ValueError, match="expected images"):
        KV.as_flat_images(np.zeros((3, 7, 7)))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        KV.as_flat_images(np.full((2, 64), 16.0))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        KV.as_flat_images(np.full((2, 64), np.nan))
    with pytest.raises(ValueError, match="latent_dim must be an int >= 1, got 0"):
        KV.mlp_vae(latent_dim=0)
    with pytest.raises(TypeError, match="hidden must be an int, got 2.5"):
        KV.VAE(hidden=2.5)
    with pytest.raises(ValueError, match=r"beta must be in \[0, inf\], got -1"):
        KV.mlp_vae(beta=-1.0)
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
        KV.VAE(seed=-1)


@pytest.fixture(scope="module")
def keras_and_digits():
    import keras

    from aigc_course.data import load_digits

    d = load_digits()
    return keras, KV.as_flat_images(d.train.x[:256]), KV.as_flat_images(d.val.x[:64])


def test_shapes_and_same_elbo_definition_as_pytorch(keras_and_digits):
    import tensorflow as tf
    import torch

    from aigc_course.models.vae import binomial_log_prob

    _, x, _ = keras_and_digits
    m = KV.mlp_vae(latent_dim=3, hidden=32)
    logits, mu, logvar = m(x[:5])
    assert tuple(logits.shape) == (5, 64) and tuple(mu.shape) == tuple(logvar.shape) == (5, 3)
    assert m.sample(4, seed=1).shape == (4, 8, 8)
    assert np.array_equal(m.sample(4, seed=1), m.sample(4, seed=1))
    assert m.sample(2).flags.writeable  # torch.as_tensor warns on read-only arrays
    rec = m.reconstruct(x[:6].reshape(6, 8, 8))
    assert rec.shape == (6, 8, 8) and rec.min() >= 0 and rec.max() <= 1
    r = KV.neg_elbo_keras(m, x[:50])
    assert r["neg_elbo"] == pytest.approx(r["recon"] + r["kl"]) and r["kl"] >= 0
    assert r == KV.neg_elbo_keras(m, x[:50])  # reproducible: fixed seed
    # the reconstruction term is the PyTorch lab's binomial −log p(k), summed over pixels
    mean, lv = (np.asarray(t) for t in m.encode(x[:50]))
    eps = np.random.default_rng(0).standard_normal(mean.shape).astype(np.float32)
    lg = np.asarray(m.decoder(mean + np.exp(0.5 * lv) * eps))
    recon = -binomial_log_prob(torch.tensor(lg), torch.tensor(x[:50])).sum(1)
    kl = 0.5 * (mean ** 2 + np.exp(lv) - lv - 1).sum(1)
    assert r["recon"] == pytest.approx(float(recon.mean()), rel=1e-4)
    assert r["kl"] == pytest.approx(float(kl.mean()), rel=1e-4)
    with pytest.raises(ValueError, match="expected images"):
        m(tf.zeros((2, 65)))
    with pytest.raises(ValueError, match="no images"):
        KV.neg_elbo_keras(m, np.zeros((0, 64)))


def test_train_step_changes_weights_and_lowers_neg_elbo(keras_and_digits):
    keras, x, x_val = keras_and_digits
    keras.utils.set_random_seed(0)
    m = KV.mlp_vae(latent_dim=4, hidden=64, seed=0)
    m.compile(optimizer=keras.optimizers.Adam(3e-3))
    before_w = [w.numpy().copy() for w in m.trainable_weights]
    before = KV.neg_elbo_keras(m, x_val)["neg_elbo"]
    h = m.fit(x, epochs=4, batch_size=64, verbose=0)
    after = KV.neg_elbo_keras(m, x_val)["neg_elbo"]
    assert set(h.history) >= {"loss", "neg_elbo", "recon", "kl"}
    assert h.history["neg_elbo"][-1] < h.history["neg_elbo"][0]
    assert after < before - 100  # untrained (≈ 530 nats) is far worse than a few epochs
    assert all(not np.allclose(a, b.numpy()) for a, b in zip(before_w, m.trainable_weights))
    # β = 0 is a plain autoencoder objective: the logged loss is then the reconstruction alone
    ae = KV.mlp_vae(latent_dim=4, hidden=16, beta=0.0)
    ae.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = ae.fit(x, epochs=1, batch_size=256, verbose=0).history
    assert logs["loss"][0] == pytest.approx(logs["recon"][0], rel=1e-5)
    assert logs["neg_elbo"][0] > logs["loss"][0]


def test_vae_is_a_module_level_keras_model_with_a_sampling_layer(keras_and_digits):
    keras = keras_and_digits[0]
    m = KV.mlp_vae(latent_dim=3, hidden=16)
    assert type(m) is KV.VAE and isinstance(m, keras.Model) and m.name == "mlp_vae"
    assert {"train_step", "test_step"} <= set(vars(KV.VAE))
    assert isinstance(m.sampling, KV.Sampling)
    # z = μ + σ·ε: with μ = 2 and log σ² = log 0.25, z has mean 2 and standard deviation 0.5
    mu, logvar = np.full((20000, 2), 2.0, np.float32), np.full((20000, 2), np.log(0.25), np.float32)
    z = np.asarray(KV.Sampling(seed=1)((mu, logvar)))
    assert z.mean() == pytest.approx(2.0, abs=0.02) and z.std() == pytest.approx(0.5, abs=0.02)
    assert np.array_equal(z, np.asarray(KV.Sampling(seed=1)((mu, logvar))))  # seeded
    assert not np.array_equal(z, np.asarray(KV.Sampling(seed=2)((mu, logvar))))


def test_evaluate_runs_the_test_step(keras_and_digits):
    keras, _, x_val = keras_and_digits
    ae = KV.mlp_vae(latent_dim=4, hidden=16, beta=0.0)
    ae.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = [w.numpy().copy() for w in ae.trainable_weights]
    logs = ae.evaluate(x_val, batch_size=32, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "neg_elbo", "recon", "kl"}
    assert logs["loss"] == pytest.approx(logs["recon"], rel=1e-5)  # β = 0
    assert logs["neg_elbo"] == pytest.approx(logs["recon"] + logs["kl"], rel=1e-5)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(before, ae.trainable_weights))
