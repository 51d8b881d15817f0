"""Keras 3 twin of :class:`aigc_course.models.vae.MLPVAE` (TensorFlow is imported inside).

>>> from aigc_course.keras.vae import mlp_vae, neg_elbo_keras    # doctest: +SKIP
>>> model = mlp_vae(latent_dim=8)                                 # doctest: +SKIP
>>> model.compile(optimizer="adam"); model.fit(x_train, epochs=10)  # doctest: +SKIP

The model is a subclassed ``keras.Model`` whose ``train_step`` does what ``vae_step`` does in
PyTorch: encode, draw ``z = μ + σ·ε`` (the reparameterisation), decode to Bernoulli logits,
and minimise ``recon + β·KL`` with a ``tf.GradientTape``. There are no labels: ``fit(x)``.
Images are ``[B, 64]`` (or ``[B, 8, 8]`` / ``[B, 8, 8, 1]``) with pixel values in [0, 1].
All numbers are in **nats per image**, with the definitions of the PyTorch lab, so
:func:`neg_elbo_keras` and :func:`aigc_course.models.vae.evaluate_elbo` measure the same thing.
"""

from __future__ import annotations

import numpy as np

PIXELS = 64
_CLASS = None


def _check_int(name: str, value, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int ≥ {low}, got {value!r}")


def as_flat_images(x) -> np.ndarray:
    """Validate images and return them as float32 ``[N, 64]``.

    Accepts ``[N, 64]``, ``[N, 8, 8]``, ``[N, 8, 8, 1]`` or ``[N, 1, 8, 8]`` (numpy, torch or TF).
    """
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != PIXELS:
        raise ValueError(f"expected images [N, 64], [N, 8, 8] or [N, 8, 8, 1], got shape {x.shape}")
    x = x.reshape(len(x), PIXELS)
    if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 1):
        raise ValueError("pixel values must be finite and in [0, 1]")
    return x


def _terms(tf, logits, x, mu, logvar):
    """Per-image reconstruction and KL terms ``[B]`` in nats (the PyTorch lab's definitions)."""
    recon = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=1)
    kl = 0.5 * tf.reduce_sum(tf.square(mu) + tf.exp(logvar) - logvar - 1.0, axis=1)
    return recon, kl


def _vae_class():
    """Build the ``KerasVAE`` class on first use (so importing this module needs no TensorFlow)."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import keras
    import tensorflow as tf
    from keras import layers

    class KerasVAE(keras.Model):
        """MLP VAE: 64 → hidden → hidden → (μ, log σ²) ∈ ℝ^latent → hidden → hidden → 64."""

        def __init__(self, latent_dim: int = 8, hidden: int = 256, beta: float = 1.0,
                     seed: int = 0, **kwargs):
            super().__init__(**kwargs)
            self.latent_dim, self.hidden, self.beta = latent_dim, hidden, float(beta)
            self.encoder = keras.Sequential(
                [keras.Input((PIXELS,)), layers.Dense(hidden, activation="relu"),
                 layers.Dense(hidden, activation="relu"), layers.Dense(2 * latent_dim)], name="encoder")
            self.decoder = keras.Sequential(
                [keras.Input((latent_dim,)), layers.Dense(hidden, activation="relu"),
                 layers.Dense(hidden, activation="relu"), layers.Dense(PIXELS)], name="decoder")
            self.noise = keras.random.SeedGenerator(seed)
            self.trackers = {name: keras.metrics.Mean(name=name)
                             for name in ("loss", "neg_elbo", "recon", "kl")}

        @property
        def metrics(self):  # reset by Keras at the start of every epoch
            return list(self.trackers.values())

        def encode(self, x):
            """``[B, 64]`` → ``(μ, log σ²)``, each ``[B, latent]``."""
            mu, logvar = tf.split(self.encoder(x), 2, axis=1)
            return mu, logvar

        def call(self, x, training=False):
            """``[B, 64]`` images → ``(logits [B, 64], μ, log σ²)``, one reparameterised sample."""
            if x.shape[-1] is not None and x.shape[-1] != PIXELS:
                raise ValueError(f"expected images of shape [B, {PIXELS}], got {tuple(x.shape)}")
            mu, logvar = self.encode(x)
            eps = keras.random.normal(tf.shape(mu), seed=self.noise)
            z = mu + tf.exp(0.5 * logvar) * eps          # the reparameterisation trick
            return self.decoder(z, training=training), mu, logvar

        def _update(self, x, training):
            logits, mu, logvar = self(x, training=training)
            recon, kl = _terms(tf, logits, x, mu, logvar)
            loss = tf.reduce_mean(recon + self.beta * kl)
            return loss, recon, kl

        def _log(self, loss, recon, kl):
            for name, value in (("loss", loss), ("neg_elbo", tf.reduce_mean(recon + kl)),
                                ("recon", tf.reduce_mean(recon)), ("kl", tf.reduce_mean(kl))):
                self.trackers[name].update_state(value)
            return {name: t.result() for name, t in self.trackers.items()}

        def train_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            with tf.GradientTape() as tape:
                loss, recon, kl = self._update(x, training=True)
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return self._log(loss, recon, kl)

        def test_step(self, data):
            x = data[0] if isinstance(data, tuple) else data
            return self._log(*self._update(x, training=False))

        def sample(self, n: int, seed: int = 0) -> np.ndarray:
            """``n`` images ``[n, 8, 8]`` (pixel probabilities) decoded from z ~ N(0, I)."""
            _check_int("n", n)
            z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
            return np.array(tf.sigmoid(self.decoder(z))).reshape(n, 8, 8)  # a writable copy

        def reconstruct(self, x) -> np.ndarray:
            """Decode the posterior mean of each image: ``[N, 8, 8]`` probabilities."""
            x = as_flat_images(x)
            mu, _ = self.encode(x)
            return np.array(tf.sigmoid(self.decoder(mu))).reshape(len(x), 8, 8)

    _CLASS = KerasVAE
    return _CLASS


def mlp_vae(latent_dim: int = 8, hidden: int = 256, beta: float = 1.0, seed: int = 0):
    """A ``KerasVAE`` (subclassed ``keras.Model``), built for inputs ``[B, 64]``.

    Args:
        latent_dim: size of z. hidden: width of the two hidden layers in encoder and decoder.
        beta: weight of the KL term in the training loss (1: the negative ELBO; β-VAE otherwise).
        seed: seed of the reparameterisation noise drawn in ``train_step``.
    """
    _check_int("latent_dim", latent_dim)
    _check_int("hidden", hidden)
    _check_int("seed", seed, low=0)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
        raise ValueError(f"beta must be a number ≥ 0, got {beta!r}")
    model = _vae_class()(latent_dim, hidden, beta, seed, name="mlp_vae")
    model(np.zeros((1, PIXELS), dtype=np.float32))  # build the weights
    return model


def neg_elbo_keras(model, x, batch_size: int = 512, seed: int = 0) -> dict:
    """Mean ``neg_elbo``, ``recon`` and ``kl`` (nats per image) of a ``KerasVAE`` on images ``x``.

    One posterior sample per image with a fixed numpy seed, so the number is reproducible;
    the same definition as :func:`aigc_course.models.vae.evaluate_elbo`.
    """
    import tensorflow as tf

    x = as_flat_images(x)
    if len(x) == 0:
        raise ValueError("no images given")
    _check_int("batch_size", batch_size)
    rng = np.random.default_rng(seed)
    recon_all, kl_all = [], []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        mu, logvar = model.encode(xb)
        eps = rng.standard_normal(mu.shape).astype(np.float32)
        logits = model.decoder(mu + tf.exp(0.5 * logvar) * eps)
        recon, kl = _terms(tf, logits, xb, mu, logvar)
        recon_all.append(np.asarray(recon))
        kl_all.append(np.asarray(kl))
    recon, kl = float(np.concatenate(recon_all).mean()), float(np.concatenate(kl_all).mean())
    return {"neg_elbo": recon + kl, "recon": recon, "kl": kl}
