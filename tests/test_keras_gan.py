"""Tests of the Keras 3 DCGAN (chapter 08 companion): shapes, the custom train_step, bad input."""

import numpy as np
import pytest

from aigc_course.keras import gan as KG


def test_input_validation():
    assert KG.as_images(np.zeros((3, 64))).shape == (3, 8, 8, 1)
    assert KG.as_images(np.zeros((3, 8, 8))).shape == (3, 8, 8, 1)
    x = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    channels_last = KG.as_images(x)
    assert channels_last.dtype == np.float32 and channels_last.flags.c_contiguous
    assert np.array_equal(channels_last[..., 0], x[:, 0])  # [N, 1, 8, 8] → [N, 8, 8, 1]
    with pytest.raises(ValueError, match="expected images"):
        KG.as_images(np.zeros((3, 7, 7)))
    with pytest.raises(ValueError, match="expected images"):
        KG.as_images(np.zeros((3, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        KG.as_images(np.full((2, 64), 16.0))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        KG.as_images(np.full((2, 64), np.nan))
    for kwargs, error, match in (
            ({"latent_dim": 0}, ValueError, "latent_dim must be an int >= 1, got 0"),
            ({"channels": 2.5}, TypeError, "channels must be an int, got 2.5"),
            ({"r1": -1.0}, ValueError, r"r1 must be in \[0, inf\], got -1"),
            ({"seed": -1}, ValueError, "seed must be an int >= 0, got -1"),
            ({"ema": 1.5}, ValueError, r"ema must be in \(0, 1\), got 1.5"),
            ({"ema": 0}, ValueError, r"ema must be in \(0, 1\), got 0")):
        with pytest.raises(error, match=match):
            KG.dcgan(**kwargs)
        with pytest.raises(error, match=match):
            KG.GAN(**kwargs)  # the class itself checks its arguments


def test_to_torch_images_round_trip():
    torch = pytest.importorskip("torch")
    x = torch.rand(4, 1, 8, 8)
    back = KG.to_torch_images(KG.as_images(x))
    assert back.shape == (4, 1, 8, 8) and torch.equal(back, x)


@pytest.fixture(scope="module")
def keras_and_digits():
    import keras

    from aigc_course.data import load_digits

    return keras, KG.as_images(load_digits().train.x[:256])


def _compiled(keras, **kwargs):
    keras.utils.set_random_seed(0)
    gan = KG.dcgan(latent_dim=8, channels=8, seed=0, **kwargs)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2))
    return gan


def _weights(model):
    return [w.numpy().copy() for w in model.trainable_weights]


def test_gan_is_a_module_level_keras_model(keras_and_digits):
    keras, _ = keras_and_digits
    gan = KG.dcgan(latent_dim=8, channels=8)
    assert type(gan) is KG.GAN and isinstance(gan, keras.Model) and gan.name == "dcgan"
    assert KG.GAN.__qualname__ == "GAN" and "train_step" in vars(KG.GAN)
    assert type(KG.dcgan(latent_dim=4, channels=4)) is type(gan)  # one class, not one per call
    direct = KG.GAN(latent_dim=8, channels=8)  # the EMA copy starts from the generator's weights
    assert all(np.array_equal(a, b) for a, b in
               zip(_weights(direct.generator_ema), _weights(direct.generator)))


def test_shapes(keras_and_digits):
    import tensorflow as tf

    _, x = keras_and_digits
    gan = KG.dcgan(latent_dim=8, channels=8)
    images = gan(tf.random.normal((5, 8)))
    assert tuple(images.shape) == (5, 8, 8, 1)
    assert float(tf.reduce_min(images)) >= 0 and float(tf.reduce_max(images)) <= 1
    assert tuple(gan.discriminator(x[:3]).shape) == (3, 1)
    s = gan.sample(700, seed=1)  # more than one internal batch of 512
    assert s.shape == (700, 8, 8, 1) and np.array_equal(s[:10], gan.sample(10, seed=1))
    with pytest.raises(ValueError, match="noise of shape"):
        gan(tf.zeros((2, 3)))
    with pytest.raises(ValueError, match="n must be"):
        gan.sample(0)


def test_train_steps_update_both_players_with_their_own_optimizers(keras_and_digits):
    keras, x = keras_and_digits
    gan = _compiled(keras, r1=1.0)
    g0, d0 = _weights(gan.generator), _weights(gan.discriminator)
    h = gan.fit(x, epochs=2, batch_size=64, verbose=0).history
    assert set(h) >= {"d_loss", "g_loss", "d_real", "d_fake", "r1"}
    assert all(np.isfinite(v).all() for v in h.values())
    assert all(0 <= v <= 1 for v in h["d_real"] + h["d_fake"])
    assert all(not np.allclose(a, b) for a, b in zip(g0, _weights(gan.generator)))
    assert all(not np.allclose(a, b) for a, b in zip(d0, _weights(gan.discriminator)))
    assert gan.d_optimizer.iterations.numpy() == gan.g_optimizer.iterations.numpy() == 8


def test_ema_generator_and_its_batch_norm_statistics(keras_and_digits):
    keras, x = keras_and_digits
    gan = _compiled(keras)
    start = _weights(gan.generator_ema)
    assert all(np.array_equal(a, b) for a, b in zip(start, _weights(gan.generator)))  # same start
    gan.fit(x, epochs=1, batch_size=64, verbose=0)
    ema, trained = _weights(gan.generator_ema), _weights(gan.generator)
    for e, t, s0 in zip(ema, trained, start):
        assert not np.allclose(e, t) and not np.array_equal(e, s0)
        # 4 steps of decay 0.99 from the start: the average has moved only a little of the way
        assert np.abs(e - s0).max() < np.abs(t - s0).max()
    bn = next(layer for layer in gan.generator_ema.layers if "batch_normalization" in layer.name)
    assert np.allclose(bn.moving_mean.numpy(), 0)  # never updated by training
    a = gan.sample(20, seed=3)
    assert not np.allclose(bn.moving_mean.numpy(), 0)  # refreshed from the EMA generator's outputs
    assert np.array_equal(a, gan.sample(20, seed=3))
    no_ema = KG.dcgan(latent_dim=8, channels=8, ema=None)
    assert no_ema.generator_ema is None and no_ema.sample(3).shape == (3, 8, 8, 1)


def test_discriminator_update_depends_on_the_real_batch(keras_and_digits):
    """The broken-tutorial bug (D never sees real data) would make these identical."""
    keras, x = keras_and_digits

    def d_after_one_step(real):
        gan = _compiled(keras)
        gan.train_on_batch(real)
        return np.concatenate([w.ravel() for w in _weights(gan.discriminator)])

    same_a, same_b = d_after_one_step(x[:32]), d_after_one_step(x[:32])
    other = d_after_one_step(np.ones_like(x[:32]))
    assert np.allclose(same_a, same_b, atol=1e-6)  # reproducible: the difference is the data
    assert not np.allclose(same_a, other, atol=1e-3)


def test_discriminator_learns_to_separate_real_from_generated(keras_and_digits):
    keras, x = keras_and_digits
    gan = _compiled(keras)
    h = gan.fit(x, epochs=3, batch_size=64, verbose=0).history
    assert h["d_real"][-1] > h["d_fake"][-1]


def test_compile_and_fit_errors(keras_and_digits):
    keras, x = keras_and_digits
    gan = KG.dcgan(latent_dim=8, channels=8)
    with pytest.raises(ValueError, match="two optimizers"):
        gan.compile(d_optimizer=keras.optimizers.Adam())
    opt = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="separate optimizer"):
        gan.compile(d_optimizer=opt, g_optimizer=opt)
    gan = _compiled(keras)
    with pytest.raises(ValueError, match=r"\[B, 8, 8, 1\]"):
        gan.fit(x.reshape(len(x), 64), epochs=1, batch_size=64, verbose=0)
