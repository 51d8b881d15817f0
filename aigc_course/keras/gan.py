"""Keras 3 twin of the chapter-08 DCGAN (TensorFlow is imported inside).

>>> import keras                                                    # doctest: +SKIP
>>> from aigc_course.keras.gan import dcgan, as_images, to_torch_images
>>> gan = dcgan(latent_dim=32)                                      # doctest: +SKIP
>>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.9),
...             g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.9))  # doctest: +SKIP
>>> gan.fit(as_images(x_train), epochs=50, batch_size=128)          # doctest: +SKIP
>>> images = gan.sample(1000, seed=0)                                # doctest: +SKIP

The model is a subclassed ``keras.Model`` holding a ``generator`` and a ``discriminator``. Its
``train_step`` does what ``gan_step`` does in PyTorch, done right:

1. the discriminator is updated on a real batch **and** a generated batch (each with its own
   target), with its own optimizer, optionally with the R1 penalty on the real images;
2. the generator is updated with the **non-saturating** loss ``−log D(G(z))`` and its own
   optimizer — only the generator's weights are in that update (no ``trainable = False`` tricks).

Images are channels-last ``[B, 8, 8, 1]`` with pixel values in [0, 1] (the generator ends with a
sigmoid); :func:`as_images` converts the course's torch tensors and :func:`to_torch_images`
converts samples back, for :func:`aigc_course.metrics.digits_report`.
"""

from __future__ import annotations

import numpy as np

IMAGE_SHAPE = (8, 8, 1)
_CLASS = None


def _check_int(name: str, value, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int ≥ {low}, got {value!r}")


def as_images(x) -> np.ndarray:
    """Validate images and return them as float32 channels-last ``[N, 8, 8, 1]``.

    Accepts ``[N, 64]``, ``[N, 8, 8]``, ``[N, 8, 8, 1]`` or the course's ``[N, 1, 8, 8]``
    (numpy, torch or TF), with pixel values in [0, 1].
    """
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4 and x.shape[1:] == (1, 8, 8):
        x = x.transpose(0, 2, 3, 1)  # channels-first (PyTorch) → channels-last (Keras)
    elif x.ndim == 2 and x.shape[1] == 64 or x.ndim == 3 and x.shape[1:] == (8, 8):
        x = x.reshape(len(x), *IMAGE_SHAPE)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"expected images [N, 64], [N, 8, 8], [N, 8, 8, 1] or [N, 1, 8, 8], got shape {x.shape}")
    if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 1):
        raise ValueError("pixel values must be finite and in [0, 1]")
    return np.ascontiguousarray(x)


def to_torch_images(x):
    """Channels-last images ``[N, 8, 8, 1]`` → a torch tensor ``[N, 1, 8, 8]`` (for the course's metrics)."""
    import torch

    return torch.from_numpy(as_images(x).transpose(0, 3, 1, 2).copy())


def _gan_class():
    """Build the ``KerasGAN`` class on first use (so importing this module needs no TensorFlow)."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import keras
    import tensorflow as tf
    from keras import layers

    def generator(latent_dim: int, channels: int):
        c = channels
        return keras.Sequential([
            keras.Input((latent_dim,)),
            layers.Dense(4 * 4 * 2 * c), layers.BatchNormalization(momentum=0.9), layers.ReLU(),
            layers.Reshape((4, 4, 2 * c)),
            layers.UpSampling2D(2),                                            # 4×4 → 8×8
            layers.Conv2D(c, 3, padding="same"), layers.BatchNormalization(momentum=0.9), layers.ReLU(),
            layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
        ], name="generator")

    class Leaky(layers.Layer):
        """LeakyReLU(0.2) as max(x, 0.2·x): TF's fused Conv+LeakyRelu kernel breaks the
        double-backward pass of the R1 penalty (grappler "remapper failed" errors)."""

        def call(self, x):
            return keras.ops.maximum(x, 0.2 * x)

    def discriminator(channels: int):
        c = channels
        return keras.Sequential([
            keras.Input(IMAGE_SHAPE),
            layers.Conv2D(c, 3, padding="same"), Leaky(),
            layers.Conv2D(c, 4, strides=2, padding="same"), Leaky(),      # 8 → 4
            layers.Conv2D(2 * c, 4, strides=2, padding="same"), Leaky(),  # 4 → 2
            layers.Flatten(), layers.Dense(1),                            # a logit
        ], name="discriminator")

    class KerasGAN(keras.Model):
        """DCGAN for 8×8 digits: ``generator`` (noise → image) and ``discriminator`` (image → logit)."""

        def __init__(self, latent_dim: int = 32, channels: int = 64, r1: float = 0.0,
                     ema: float | None = 0.99, seed: int = 0, **kwargs):
            super().__init__(**kwargs)
            self.latent_dim, self.channels, self.r1, self.ema = latent_dim, channels, float(r1), ema
            self.generator = generator(latent_dim, channels)
            self.discriminator = discriminator(channels)
            # an exponential moving average of the generator's weights, to sample from
            self.generator_ema = generator(latent_dim, channels) if ema else None
            self._refreshed_at = None
            self.noise = keras.random.SeedGenerator(seed)
            names = ("d_loss", "g_loss", "d_real", "d_fake") + (("r1",) if r1 > 0 else ())
            self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
            self.d_optimizer = self.g_optimizer = None

        def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
            """Two optimizers, one per player (Adam with β₁ = 0 and lr 2e-3 works well here)."""
            if d_optimizer is None or g_optimizer is None:
                raise ValueError("a GAN needs two optimizers: compile(d_optimizer=..., g_optimizer=...)")
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
                raise ValueError(f"expected noise of shape [B, {self.latent_dim}], got {tuple(z.shape)}")
            return self.generator(z, training=training)

        def train_step(self, data):
            if self.d_optimizer is None:
                raise ValueError("call compile(d_optimizer=..., g_optimizer=...) before fit")
            real = data[0] if isinstance(data, tuple) else data
            if tuple(real.shape[1:]) != IMAGE_SHAPE:
                raise ValueError(f"expected real images [B, 8, 8, 1], got {tuple(real.shape)}; use as_images(x)")
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
                d_loss = tf.reduce_mean(tf.nn.softplus(-logit_real)) + tf.reduce_mean(tf.nn.softplus(logit_fake))
                if self.r1 > 0:  # R1: penalise the slope of D at the real images
                    grad = r1_tape.gradient(logit_real, real)
                    penalty = tf.reduce_mean(tf.reduce_sum(tf.square(grad), axis=[1, 2, 3]))
                    d_loss = d_loss + 0.5 * self.r1 * penalty
            grads = tape.gradient(d_loss, D.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, D.trainable_weights))

            # 2. generator: non-saturating loss −log D(G(z)); only G's weights are updated
            with tf.GradientTape() as tape:
                logit = D(G(keras.random.normal((n, self.latent_dim), seed=self.noise), training=True),
                          training=True)
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
            norms = [layer for layer in self.generator_ema.layers if isinstance(layer, layers.BatchNormalization)]
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
            _check_int("n", n)
            g = self.generator
            if self.generator_ema is not None:
                if self._refreshed_at is None or self._refreshed_at != self._ema_version():
                    self.refresh_ema_batch_norm()
                g = self.generator_ema
            z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
            return np.concatenate([np.asarray(g(z[i:i + 512], training=False)) for i in range(0, n, 512)])

    _CLASS = KerasGAN
    return _CLASS


def dcgan(latent_dim: int = 32, channels: int = 64, r1: float = 0.0, ema: float | None = 0.99,
          seed: int = 0):
    """A ``KerasGAN`` (subclassed ``keras.Model``), built, not yet compiled.

    Args:
        latent_dim: size of the noise z. channels: width of the convolutions (as ``DCGenerator``).
        r1: weight γ of the R1 penalty ``γ/2 · E‖∇ₓ D(x)‖²`` on real images (0 = off).
        ema: decay of the moving average of the generator's weights that ``sample`` uses
            (``None`` = sample from the trained generator itself).
        seed: seed of the noise drawn in ``train_step``.
    """
    _check_int("latent_dim", latent_dim)
    _check_int("channels", channels)
    _check_int("seed", seed, low=0)
    if isinstance(r1, bool) or not isinstance(r1, (int, float)) or not r1 >= 0:
        raise ValueError(f"r1 must be a number ≥ 0, got {r1!r}")
    if ema is not None and (isinstance(ema, bool) or not isinstance(ema, (int, float)) or not 0 < ema < 1):
        raise ValueError(f"ema must be in (0, 1) (e.g. 0.99) or None, got {ema!r}")
    model = _gan_class()(latent_dim, channels, r1, ema, seed, name="dcgan")
    z = np.zeros((1, latent_dim), dtype=np.float32)
    model(z)  # build the weights
    model.discriminator(np.zeros((1, *IMAGE_SHAPE), dtype=np.float32))
    if model.generator_ema is not None:
        model.generator_ema(z)
        model.generator_ema.set_weights(model.generator.get_weights())  # start from the same weights
    return model
