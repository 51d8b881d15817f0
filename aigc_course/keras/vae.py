"""Keras 3 twin of :class:`aigc_course.models.vae.MLPVAE`: a ``keras.Model`` that overrides
``train_step``.

>>> from aigc_course.keras.vae import mlp_vae, neg_elbo_keras    # doctest: +SKIP
>>> model = mlp_vae(latent_dim=8)                                 # doctest: +SKIP
>>> model.compile(optimizer="adam"); model.fit(x_train, epochs=10)  # doctest: +SKIP

The structure is that of the keras-io example "Variational AutoEncoder": a :class:`Sampling`
layer draws ``z = μ + σ·ε`` (the reparameterisation), an ``encoder`` and a ``decoder`` network,
and a :class:`VAE` whose ``train_step`` does what ``vae_step`` does in PyTorch: encode, sample,
decode to one logit per pixel and minimise ``recon + β·KL`` with a ``tf.GradientTape``. There are
no labels: ``fit(x)``. Images are ``[B, 64]`` (or ``[B, 8, 8]`` / ``[B, 8, 8, 1]``) with pixel
values in [0, 1], the grey levels ``k = 16·x`` of the digits; each pixel's likelihood is
``Binomial(16, sigmoid(logit))`` over the 17 levels. All numbers are in **nats per image**, with the definitions of the PyTorch lab,
so :func:`neg_elbo_keras` and :func:`aigc_course.models.vae.evaluate_elbo` measure the same thing.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from ..validation import check_int, check_number
from . import IMAGE_SHAPE

PIXELS = math.prod(IMAGE_SHAPE)  # 64
LEVELS = 16  # grey levels 0..16, stored as k / 16


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


def per_image_terms(logits, x, mu, logvar):
    """Reconstruction and KL terms ``[B]`` in nats per image (the PyTorch lab's definitions).

    recon: ``−log p(k)`` of the grey levels ``k = round(16 x)``, ``x [B, 64]``, under
    ``Binomial(16, sigmoid(logits))``, ``logits [B, 64]``, summed over pixels;
    kl: ``KL(N(μ, σ²) ‖ N(0, I))`` in closed form, summed over the latent dimensions.
    """
    k = tf.round(tf.cast(x, logits.dtype) * LEVELS)
    log_comb = math.lgamma(LEVELS + 1) - tf.math.lgamma(k + 1) - tf.math.lgamma(LEVELS + 1 - k)
    log_p = log_comb + k * tf.math.log_sigmoid(logits) + (LEVELS - k) * tf.math.log_sigmoid(-logits)
    recon = -tf.reduce_sum(log_p, axis=1)
    kl = 0.5 * tf.reduce_sum(tf.square(mu) + tf.exp(logvar) - logvar - 1.0, axis=1)
    return recon, kl


class Sampling(layers.Layer):
    """``(μ, log σ²)`` → ``z = μ + σ·ε`` with ε ~ N(0, I): the reparameterisation trick."""

    def __init__(self, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mu, logvar = inputs
        eps = keras.random.normal(tf.shape(mu), seed=self.seed_generator)
        return mu + tf.exp(0.5 * logvar) * eps


def build_encoder(latent_dim: int, hidden: int) -> keras.Sequential:
    """Images ``[B, 64]`` → ``[B, 2·latent_dim]``: μ and log σ² side by side."""
    return keras.Sequential([
        keras.Input((PIXELS,)),
        layers.Dense(hidden, activation="relu"), layers.Dense(hidden, activation="relu"),
        layers.Dense(2 * latent_dim),
    ], name="encoder")


def build_decoder(latent_dim: int, hidden: int) -> keras.Sequential:
    """Codes ``[B, latent_dim]`` → logits ``[B, 64]``: one binomial ``p = sigmoid(logit)`` per pixel."""
    return keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(hidden, activation="relu"), layers.Dense(hidden, activation="relu"),
        layers.Dense(PIXELS),
    ], name="decoder")


class VAE(keras.Model):
    """MLP VAE: 64 → hidden → hidden → (μ, log σ²) ∈ ℝ^latent → hidden → hidden → 64.

    Args:
        latent_dim: size of z. hidden: width of the two hidden layers in encoder and decoder.
        beta: weight of the KL term in the training loss (1: the negative ELBO; β-VAE otherwise).
        seed: seed of the reparameterisation noise drawn by the ``Sampling`` layer.
    """

    def __init__(self, latent_dim: int = 8, hidden: int = 256, beta: float = 1.0,
                 seed: int = 0, **kwargs):
        latent_dim, hidden = check_int("latent_dim", latent_dim), check_int("hidden", hidden)
        beta, seed = check_number("beta", beta, low=0), check_int("seed", seed, low=0)
        super().__init__(**kwargs)
        self.latent_dim, self.hidden, self.beta = latent_dim, hidden, beta
        self.encoder = build_encoder(latent_dim, hidden)
        self.decoder = build_decoder(latent_dim, hidden)
        self.sampling = Sampling(seed, name="sampling")
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
        z = self.sampling((mu, logvar))
        return self.decoder(z, training=training), mu, logvar

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            logits, mu, logvar = self(x, training=True)
            recon, kl = per_image_terms(logits, x, mu, logvar)
            loss = tf.reduce_mean(recon + self.beta * kl)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._update_metrics(loss, recon, kl)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        logits, mu, logvar = self(x, training=False)
        recon, kl = per_image_terms(logits, x, mu, logvar)
        return self._update_metrics(tf.reduce_mean(recon + self.beta * kl), recon, kl)

    def _update_metrics(self, loss, recon, kl):
        for name, value in (("loss", loss), ("neg_elbo", tf.reduce_mean(recon + kl)),
                            ("recon", tf.reduce_mean(recon)), ("kl", tf.reduce_mean(kl))):
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images ``[n, 8, 8]`` (pixel probabilities) decoded from z ~ N(0, I)."""
        check_int("n", n)
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
        return np.array(tf.sigmoid(self.decoder(z))).reshape(n, *IMAGE_SHAPE[:2])  # writable

    def reconstruct(self, x) -> np.ndarray:
        """Decode the posterior mean of each image: ``[N, 8, 8]`` probabilities."""
        x = as_flat_images(x)
        mu, _ = self.encode(x)
        return np.array(tf.sigmoid(self.decoder(mu))).reshape(len(x), *IMAGE_SHAPE[:2])


def mlp_vae(latent_dim: int = 8, hidden: int = 256, beta: float = 1.0, seed: int = 0) -> VAE:
    """A :class:`VAE` named ``"mlp_vae"``, built for inputs ``[B, 64]`` (same arguments)."""
    model = VAE(latent_dim, hidden, beta, seed, name="mlp_vae")
    model(np.zeros((1, PIXELS), dtype=np.float32))  # build the model itself
    return model


def neg_elbo_keras(model: VAE, x, batch_size: int = 512, seed: int = 0) -> dict:
    """Mean ``neg_elbo``, ``recon`` and ``kl`` (nats per image) of a :class:`VAE` on images ``x``.

    One posterior sample per image with a fixed numpy seed, so the number is reproducible;
    the same definition as :func:`aigc_course.models.vae.evaluate_elbo`.
    """
    x = as_flat_images(x)
    if len(x) == 0:
        raise ValueError("no images given")
    check_int("batch_size", batch_size)
    rng = np.random.default_rng(seed)
    recon_all, kl_all = [], []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size]
        mu, logvar = model.encode(xb)
        eps = rng.standard_normal(mu.shape).astype(np.float32)
        logits = model.decoder(mu + tf.exp(0.5 * logvar) * eps)
        recon, kl = per_image_terms(logits, xb, mu, logvar)
        recon_all.append(np.asarray(recon))
        kl_all.append(np.asarray(kl))
    recon, kl = float(np.concatenate(recon_all).mean()), float(np.concatenate(kl_all).mean())
    return {"neg_elbo": recon + kl, "recon": recon, "kl": kl}
