"""Keras 3 twin of the chapter-08 DCGAN: a ``keras.Model`` subclass that overrides ``train_step``.

>>> import keras                                                    # doctest: +SKIP
>>> from aigc_course.keras.gan import dcgan, as_images, to_torch_images
>>> gan = dcgan(latent_dim=32)                                      # doctest: +SKIP
>>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.9),
...             g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.9))  # doctest: +SKIP
>>> gan.fit(as_images(x_train), epochs=50, batch_size=128)          # doctest: +SKIP
>>> images = gan.sample(1000, seed=0)                                # doctest: +SKIP

The structure is that of the keras-io example "DCGAN overriding ``Model.train_step``":
:class:`GAN` holds a ``generator`` and a ``discriminator``, ``compile`` takes one optimizer per
player, and ``train_step`` does what ``gan_step`` does in PyTorch:

1. the discriminator is updated on a real batch **and** a generated batch (each with its own
   target), with its own optimizer, optionally with the R1 penalty on the real images;
2. the generator is updated with the **non-saturating** loss ``−log D(G(z))`` and its own
   optimizer — only the generator's weights are in that update (no ``trainable = False`` tricks).

Images are channels-last ``[B, 8, 8, 1]`` with pixel values in [0, 1] (the generator ends with a
sigmoid); :func:`as_images` converts the course's torch tensors and :func:`to_torch_images`
converts samples back, for :func:`aigc_course.metrics.digits_report`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from ..data.digits import IMAGE_SHAPE as CHANNELS_FIRST_SHAPE
from ..validation import check_int, check_number
from . import IMAGE_SHAPE


def as_images(x) -> np.ndarray:
    """Validate images and return them as float32 channels-last ``[N, 8, 8, 1]``.

    Accepts ``[N, 64]``, ``[N, 8, 8]``, ``[N, 8, 8, 1]`` or the course's ``[N, 1, 8, 8]``
    (numpy, torch or TF), with pixel values in [0, 1].
    """
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4 and x.shape[1:] == CHANNELS_FIRST_SHAPE:
        x = x.transpose(0, 2, 3, 1)  # channels-first (PyTorch) → channels-last (Keras)
    elif x.ndim == 2 and x.shape[1] == 64 or x.ndim == 3 and x.shape[1:] == IMAGE_SHAPE[:2]:
        x = x.reshape(len(x), *IMAGE_SHAPE)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError("expected images [N, 64], [N, 8, 8], [N, 8, 8, 1] or [N, 1, 8, 8], "
                         f"got shape {x.shape}")
    if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 1):
        raise ValueError("pixel values must be finite and in [0, 1]")
    return np.ascontiguousarray(x)


def to_torch_images(x):
    """Channels-last images ``[N, 8, 8, 1]`` → a torch tensor ``[N, 1, 8, 8]`` (for the metrics)."""
    import torch

    return torch.from_numpy(as_images(x).transpose(0, 3, 1, 2).copy())


class Leaky(layers.Layer):
    """LeakyReLU(0.2) written as max(x, 0.2·x).

    TF fuses ``Conv2D`` + ``LeakyReLU`` into one kernel whose double backward pass (needed by
    the R1 penalty) fails with grappler "remapper failed" errors; this form is not fused.
    """

    def call(self, x):
        return keras.ops.maximum(x, 0.2 * x)


def build_generator(latent_dim: int, channels: int) -> keras.Sequential:
    """Noise ``[B, latent_dim]`` → images ``[B, 8, 8, 1]`` in (0, 1), as ``DCGenerator``."""
    c = channels
    return keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(4 * 4 * 2 * c), layers.BatchNormalization(momentum=0.9), layers.ReLU(),
        layers.Reshape((4, 4, 2 * c)),
        layers.UpSampling2D(2),                                               # 4×4 → 8×8
        layers.Conv2D(c, 3, padding="same"), layers.BatchNormalization(momentum=0.9),
        layers.ReLU(),
        layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
    ], name="generator")


def build_discriminator(channels: int) -> keras.Sequential:
    """Images ``[B, 8, 8, 1]`` → one logit ``[B, 1]`` ("real" if large), as ``DCDiscriminator``."""
    c = channels
    return keras.Sequential([
        keras.Input(IMAGE_SHAPE),
        layers.Conv2D(c, 3, padding="same"), Leaky(),
        layers.Conv2D(c, 4, strides=2, padding="same"), Leaky(),              # 8 → 4
        layers.Conv2D(2 * c, 4, strides=2, padding="same"), Leaky(),          # 4 → 2
        layers.Flatten(), layers.Dense(1),                                    # a logit
    ], name="discriminator")


class GAN(keras.Model):
    """DCGAN for 8×8 digits: ``generator`` (noise → image), ``discriminator`` (image → logit).

    Args:
        latent_dim: size of the noise z. channels: width of the convolutions (as ``DCGenerator``).
        r1: weight γ of the R1 penalty ``γ/2 · E‖∇ₓ ℓ(x)‖²`` on real images (0 = off).
        ema: decay of the moving average of the generator's weights that ``sample`` uses
            (``None`` = sample from the trained generator itself).
        seed: seed of the noise drawn in ``train_step``.
    """

    def __init__(self, latent_dim: int = 32, channels: int = 64, r1: float = 0.0,
                 ema: float | None = 0.99, seed: int = 0, **kwargs):
        latent_dim, channels = check_int("latent_dim", latent_dim), check_int("channels", channels)
        r1, seed = check_number("r1", r1, low=0), check_int("seed", seed, low=0)
        if ema is not None:
            ema = check_number("ema", ema, 0, 1, low_open=True, high_open=True)
        super().__init__(**kwargs)
        self.latent_dim, self.channels, self.r1, self.ema = latent_dim, channels, r1, ema
        self.generator = build_generator(latent_dim, channels)
        self.discriminator = build_discriminator(channels)
        # an exponential moving average of the generator's weights, to sample from
        self.generator_ema = None
        if ema is not None:
            self.generator_ema = build_generator(latent_dim, channels)
            self.generator_ema.set_weights(self.generator.get_weights())  # the same start
        self._refreshed_at = None
        self.noise = keras.random.SeedGenerator(seed)
        names = ("d_loss", "g_loss", "d_real", "d_fake") + (("r1",) if r1 > 0 else ())
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.d_optimizer = self.g_optimizer = None

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Two optimizers, one per player (Adam with β₁ = 0 and lr 2e-3 works well here)."""
        if d_optimizer is None or g_optimizer is None:
            raise ValueError("a GAN needs two optimizers: "
                             "compile(d_optimizer=..., g_optimizer=...)")
        if d_optimizer is g_optimizer:
            raise ValueError("use two separate optimizer objects (each keeps its own state)")
        super().compile(**kwargs)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def metrics(self):  # reset by Keras at the start of every epoch
        return list(self.trackers.values())

    def call(self, z, training=False):
        """Noise ``[B, latent_dim]`` → images ``[B, 8, 8, 1]`` in (0, 1)."""
        if z.shape[-1] is not None and z.shape[-1] != self.latent_dim:
            raise ValueError(f"expected noise of shape [B, {self.latent_dim}], "
                             f"got {tuple(z.shape)}")
        return self.generator(z, training=training)

    def train_step(self, data):
        if self.d_optimizer is None:
            raise ValueError("call compile(d_optimizer=..., g_optimizer=...) before fit")
        real = data[0] if isinstance(data, tuple) else data
        if tuple(real.shape[1:]) != IMAGE_SHAPE:  # the static shape: checked once, when traced
            raise ValueError(f"expected real images [B, 8, 8, 1], got {tuple(real.shape)}; "
                             "use as_images(x)")
        n = tf.shape(real)[0]
        D, G = self.discriminator, self.generator

        # 1. discriminator: real images → "real", generated images → "fake"
        fake = G(keras.random.normal((n, self.latent_dim), seed=self.noise), training=True)
        with tf.GradientTape() as tape:
            with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
                r1_tape.watch(real)
                logit_real = D(real, training=True)
            logit_fake = D(fake, training=True)
            # BCE(real, 1) + BCE(fake, 0) written with softplus: −log σ(l) = softplus(−l)
            d_loss = (tf.reduce_mean(tf.nn.softplus(-logit_real))
                      + tf.reduce_mean(tf.nn.softplus(logit_fake)))
            if self.r1 > 0:  # R1: penalise the slope of D at the real images
                grad = r1_tape.gradient(logit_real, real)
                penalty = tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]))
                d_loss = d_loss + 0.5 * self.r1 * penalty
        grads = tape.gradient(d_loss, D.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, D.trainable_weights))

        # 2. generator: non-saturating loss −log D(G(z)); only G's weights are updated
        with tf.GradientTape() as tape:
            z = keras.random.normal((n, self.latent_dim), seed=self.noise)
            logit = D(G(z, training=True), training=True)
            g_loss = tf.reduce_mean(tf.nn.softplus(-logit))
        grads = tape.gradient(g_loss, G.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, G.trainable_weights))
        if self.generator_ema is not None:  # θ_ema ← ema·θ_ema + (1 − ema)·θ
            for w_ema, w in zip(self.generator_ema.trainable_weights, G.trainable_weights):
                w_ema.assign(self.ema * w_ema + (1.0 - self.ema) * w)

        values = {"d_loss": d_loss, "g_loss": g_loss,
                  "d_real": tf.reduce_mean(tf.sigmoid(logit_real)),
                  "d_fake": tf.reduce_mean(tf.sigmoid(logit_fake))}
        if self.r1 > 0:
            values["r1"] = penalty
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def refresh_ema_batch_norm(self, n: int = 2048, seed: int = 0) -> None:
        """Set the EMA generator's batch-norm statistics to those of ``n`` of its own samples.

        Its moving means/variances are not averaged weights: they would belong to nothing.
        With momentum 0, one pass in training mode replaces them by the batch's statistics.
        """
        if self.generator_ema is None:
            return
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
        norms = [layer for layer in self.generator_ema.layers
                 if isinstance(layer, layers.BatchNormalization)]
        momenta = [layer.momentum for layer in norms]
        for layer in norms:
            layer.momentum = 0.0
        self.generator_ema(z, training=True)
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
        self._refreshed_at = self._ema_version()

    def _ema_version(self):
        return None if self.g_optimizer is None else int(self.g_optimizer.iterations.numpy())

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images ``[n, 8, 8, 1]`` (numpy, in [0, 1]) from fixed noise, drawn from the EMA
        generator when there is one (batch norm in inference mode, statistics refreshed first)."""
        check_int("n", n)
        g = self.generator
        if self.generator_ema is not None:
            if self._refreshed_at is None or self._refreshed_at != self._ema_version():
                self.refresh_ema_batch_norm()
            g = self.generator_ema
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
        return np.concatenate([np.asarray(g(z[i:i + 512], training=False))
                               for i in range(0, n, 512)])


def dcgan(latent_dim: int = 32, channels: int = 64, r1: float = 0.0, ema: float | None = 0.99,
          seed: int = 0) -> GAN:
    """A :class:`GAN` named ``"dcgan"``, its weights built, not yet compiled (same arguments)."""
    model = GAN(latent_dim, channels, r1, ema, seed, name="dcgan")
    model(np.zeros((1, latent_dim), dtype=np.float32))  # build the model itself
    return model
