"""Variational autoencoders for the 8×8 digits (chapter 09).

* :class:`MLPVAE` and :class:`ConvVAE` — an encoder giving ``q(z|x) = N(μ, diag σ²)`` and a
  decoder giving one logit per pixel for ``p(x|z)``, with a standard-normal prior.
* :func:`binomial_log_prob` — the pixel likelihood: a grey level ``k ∈ {0, …, 16}`` is
  ``Binomial(16, p)`` with ``p = sigmoid(logit)``, a normalised distribution over the 17 levels.
* :func:`elbo_terms` — the two parts of the negative ELBO in **nats per image**:
  reconstruction ``E_q[−log p(x|z)]`` and ``KL(q(z|x) ‖ N(0, I))`` (closed form).
* :func:`vae_step` — the step function for :func:`aigc_course.train.fit` (with a β weight
  on the KL term: β = 1 is the ELBO, β ≠ 1 is the β-VAE).
* :func:`evaluate_elbo` — mean −ELBO over a data set (the number the lab asserts).
* :func:`importance_weighted_nll` — the tighter importance-weighted bound on −log p(x)
  (Burda et al., 2016); with ``k = 1`` sample it is the −ELBO.
* :func:`kl_per_dimension` and :func:`active_units` — which latent dimensions carry
  information (the symptom of posterior collapse is a KL of ≈ 0 in every dimension).

The digits' pixels are the grey levels 0..16 of scikit-learn's data, stored as ``k / 16`` in
[0, 1]; the likelihood reads them back as ``k = round(16 x)``. Because ``p(x|z)`` is a true
probability over the ``17^64`` possible images, −ELBO ≥ −log p(x) holds for a real likelihood,
in nats per image. The numbers are comparable with the *independent-pixel* baseline (each pixel
its own Binomial with the training mean), computed by :func:`independent_pixel_nll`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..data.digits import IMAGE_SHAPE, check_digit_images
from ..validation import check_choice, check_number
from ..validation import check_int as _check_int
from . import sampling

LEVELS = 16  # the digits' grey levels are 0, 1, …, 16: a pixel x in [0, 1] is level 16·x


def _check_images(x) -> torch.Tensor:
    """Images at the data boundary: shape, and finite pixels in [0, 1] (reads the values)."""
    return check_digit_images(x, values=True)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


class _VAE(nn.Module):
    """Shared parts: encode, decode, reparameterisation, forward, sampling. A subclass makes
    ``self.encoder`` (images → ``[B, 2·latent]``) and ``_decode`` (``z`` → logits)."""

    encoder: nn.Module

    def __init__(self, latent_dim: int):
        super().__init__()
        self.latent_dim = _check_int("latent_dim", latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``[B, latent]``: the encoder's output cut in two."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``[B, 1, 8, 8]`` of latent codes ``z [B, latent]``."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape [B, {self.latent_dim}], got {tuple(z.shape)}")
        return self._decode(z)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``z = μ + σ · ε`` with ``ε ~ N(0, I)``: the sample is a differentiable function of μ, σ."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def forward(self, x: torch.Tensor):
        """Returns ``(logits [B, 1, 8, 8], mu [B, latent], logvar [B, latent])``."""
        mu, logvar = self.encode(check_digit_images(x))  # shape only: the loss checks the pixels
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """``n`` images ``[n, 1, 8, 8]`` decoded from prior samples z ~ N(0, I): the pixel
        probabilities ``p``, which are also the mean grey levels ``E[k] / 16``."""
        _check_int("n", n)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        z = sampling.randn((n, self.latent_dim), _model_device(self), gen)
        was = self.training
        self.eval()
        out = torch.sigmoid(self.decode(z)).cpu()
        self.train(was)
        return out

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of each image: ``sigmoid(decode(μ(x)))``."""
        was = self.training
        self.eval()
        mu, _ = self.encode(_check_images(x).to(_model_device(self)))
        out = torch.sigmoid(self.decode(mu)).cpu()
        self.train(was)
        return out


class MLPVAE(_VAE):
    """Fully connected VAE: 64 → hidden → (μ, log σ²) ∈ ℝ^latent → hidden → 64 logits."""

    def __init__(self, latent_dim: int = 8, hidden: int = 256):
        super().__init__(latent_dim)
        _check_int("hidden", hidden)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
                                     nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 64))

    def _decode(self, z):
        return self.decoder(z).view(-1, *IMAGE_SHAPE)


class ConvVAE(_VAE):
    """Convolutional VAE: conv 8×8 → 4×4 → (μ, log σ²); decoder linear → 4×4 → upsample → 8×8 logits."""

    def __init__(self, latent_dim: int = 8, channels: int = 32):
        super().__init__(latent_dim)
        c = self._c = _check_int("channels", channels)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),          # 8 → 4
            nn.Flatten(), nn.Linear(2 * c * 16, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim),
        )
        self.project = nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 2 * c * 16), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),                        # 4 → 8
            nn.Conv2d(2 * c, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, 1, 3, padding=1),
        )

    def _decode(self, z):
        return self.decoder(self.project(z).view(-1, 2 * self._c, 4, 4))


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, per_dimension: bool = False) -> torch.Tensor:
    """``KL(N(μ, diag σ²) ‖ N(0, I))`` per example ``[B]``, in nats:
    ``½ Σ (μ² + σ² − log σ² − 1)``; with ``per_dimension=True`` the terms before the sum ``[B, D]``."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)
    return kl if per_dimension else kl.sum(dim=1)


def grey_levels(x: torch.Tensor) -> torch.Tensor:
    """The integer grey levels ``k = round(16 x)`` (as floats, same shape) of pixels in [0, 1]."""
    return torch.round(x * LEVELS)


def binomial_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``log p(k)`` of each pixel's grey level ``k = round(16 x)`` under ``Binomial(16, p)``,
    ``p = sigmoid(logits)``; same shape as ``logits`` and ``x``, in nats.

    ``log p(k) = log C(16, k) + k log p + (16 − k) log(1 − p)``: for every ``p`` the 17
    probabilities add up to 1, so a sum of these over pixels is a true log-likelihood.
    """
    k = grey_levels(x)
    log_comb = math.lgamma(LEVELS + 1) - torch.lgamma(k + 1) - torch.lgamma(LEVELS + 1 - k)
    return log_comb + k * F.logsigmoid(logits) + (LEVELS - k) * F.logsigmoid(-logits)


def elbo_terms(model: _VAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example reconstruction term ``−log p(x|z)`` (one sample of z, binomial pixels) and
    KL term, each ``[B]`` in nats; −ELBO = their sum."""
    x = _check_images(x)  # the data boundary: NaN or out-of-range pixels stop here
    logits, mu, logvar = model(x)
    recon = -binomial_log_prob(logits, x).flatten(1).sum(1)
    return recon, gaussian_kl(mu, logvar)


def vae_step(beta: float = 1.0, grad_clip: float | None = None, warmup_steps: int = 0):
    """Step function for ``fit``: minimise ``recon + β · KL`` (β = 1: the negative ELBO).

    Batches are ``(x, y)`` (labels ignored) or ``x``. Logs ``loss`` (the minimised
    objective), ``neg_elbo``, ``recon`` and ``kl``, all in nats per image, and ``beta``.

    ``warmup_steps > 0`` is *KL annealing* (Bowman et al., 2016): the KL weight rises
    linearly from 0 to ``beta`` over the first ``warmup_steps`` calls, so the decoder learns
    to use ``z`` before the KL term can push the posterior onto the prior. The call count is
    the step's state: its ``state_dict()`` / ``load_state_dict()`` let a ``fit`` checkpoint
    save and restore it, so a resumed run goes on with the same KL weights.
    """
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or beta < 0:
        raise ValueError(f"beta must be a number ≥ 0, got {beta!r}")
    _check_int("warmup_steps", warmup_steps, low=0)
    calls = [0]

    def step(model, batch, optimizer):
        from ..train import clip_and_step

        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        calls[0] += 1
        weight = beta * min(1.0, calls[0] / warmup_steps) if warmup_steps else beta
        recon, kl = elbo_terms(model, x)
        loss = (recon + weight * kl).mean()
        clip_and_step(loss, optimizer, model.parameters(), grad_clip)
        return {"loss": loss.detach(), "neg_elbo": (recon + kl).mean().detach(),
                "recon": recon.mean().detach(), "kl": kl.mean().detach(), "beta": weight}

    def state_dict():
        return {"calls": calls[0]}

    def load_state_dict(state):
        calls[0] = state["calls"]

    step.state_dict, step.load_state_dict = state_dict, load_state_dict  # what fit checkpoints
    return step


@torch.no_grad()
def evaluate_elbo(model: _VAE, x: torch.Tensor, batch_size: int = 512, seed: int = 0) -> dict:
    """Mean ``neg_elbo``, ``recon`` and ``kl`` (nats per image) of ``model`` on images ``x``.

    One posterior sample per image, drawn with a fixed seed so the number is reproducible.
    Works as ``fit(..., evaluate=lambda m, _: evaluate_elbo(m, val_x))``.
    """
    x = _check_images(x)
    if len(x) == 0:
        raise ValueError("no images given")
    was = model.training
    model.eval()
    device = _model_device(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        parts = [elbo_terms(model, x[i:i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
    model.train(was)
    recon = torch.cat([p[0] for p in parts]).mean().item()
    kl = torch.cat([p[1] for p in parts]).mean().item()
    return {"neg_elbo": recon + kl, "recon": recon, "kl": kl}


def independent_pixel_nll(train_x: torch.Tensor, test_x: torch.Tensor,
                          family: str = "binomial") -> float:
    """Baseline without a latent code: mean ``−log p(x)`` of ``test_x`` (nats per image) when
    every pixel is independent, fitted to ``train_x`` by maximum likelihood.

    ``family="binomial"`` (the VAE decoder's family, so the fair comparison): pixel ``j`` is
    ``Binomial(16, p_j)`` with ``p_j`` its training mean. ``family="categorical"``: pixel ``j``
    has its own 17-level histogram (one count added to every level, so no level has p = 0).
    """
    train_x, test_x = _check_images(train_x), _check_images(test_x)
    check_choice("family", family, ("binomial", "categorical"))
    if family == "binomial":
        p = train_x.mean(0).clamp(1e-4, 1 - 1e-4)
        return float(-binomial_log_prob(torch.logit(p), test_x).flatten(1).sum(1).mean())
    levels = torch.arange(LEVELS + 1, dtype=train_x.dtype)
    counts = (grey_levels(train_x).flatten(1)[..., None] == levels).sum(0) + 1.0   # [64, 17]
    log_p = (counts / counts.sum(1, keepdim=True)).log()
    k = grey_levels(test_x).flatten(1).long()                                        # [N, 64]
    return float(-log_p.gather(1, k.T).T.sum(1).mean())


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z; μ, diag σ²)`` summed over the last dimension."""
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


@torch.no_grad()
def importance_weighted_nll(model: _VAE, x: torch.Tensor, k: int = 64, batch_size: int = 256,
                            seed: int = 0) -> float:
    """Mean importance-weighted bound on ``−log p(x)`` (nats per image), with ``k`` samples.

    .. math:: -\\log p(x) \\le -\\log \\frac{1}{k} \\sum_{i=1}^{k}
              \\frac{p(x \\mid z_i)\\, p(z_i)}{q(z_i \\mid x)},\\qquad z_i \\sim q(z \\mid x)

    ``k = 1`` gives the −ELBO (in expectation); the bound tightens as ``k`` grows
    (Burda et al., 2016), so the gap between the two says how loose the ELBO is.
    """
    x = _check_images(x)
    _check_int("k", k)
    _check_int("batch_size", batch_size)
    if len(x) == 0:
        raise ValueError("no images given")
    was = model.training
    model.eval()
    device = _model_device(model)
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device)
            mu, logvar = model.encode(xb)                                   # [B, D]
            eps = torch.randn(k, *mu.shape, device=device)
            z = mu + (0.5 * logvar).exp() * eps                             # [k, B, D]
            logits = model.decode(z.flatten(0, 1)).view(k, len(xb), -1)    # [k, B, 64]
            log_px_z = binomial_log_prob(logits, xb.flatten(1).expand(k, -1, -1)).sum(-1)
            log_pz = _log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
            log_w = log_px_z + log_pz - _log_normal(z, mu, logvar)         # [k, B]
            out.append(-(torch.logsumexp(log_w, dim=0) - math.log(k)))
    model.train(was)
    return float(torch.cat(out).mean())


@torch.no_grad()
def kl_per_dimension(model: _VAE, x: torch.Tensor) -> torch.Tensor:
    """Mean ``KL(q(z_j|x) ‖ N(0, 1))`` of each latent dimension ``j`` over ``x``: ``[latent]``, nats.

    They add up to the KL term of :func:`evaluate_elbo`. A dimension with KL ≈ 0 is unused:
    its posterior equals the prior for every image, so the decoder learns to ignore it.
    """
    x = _check_images(x)
    if len(x) == 0:
        raise ValueError("no images given")
    was = model.training
    model.eval()
    mu, logvar = model.encode(x.to(_model_device(model)))
    model.train(was)
    return gaussian_kl(mu, logvar, per_dimension=True).mean(0).cpu()


@torch.no_grad()
def active_units(model: _VAE, x: torch.Tensor, threshold: float = 0.01) -> int:
    """Number of latent dimensions whose posterior mean varies across images:
    ``Var_x(E_q[z_j | x]) > threshold`` (the "active units" of Burda et al., 2016)."""
    x = _check_images(x)
    if len(x) < 2:
        raise ValueError("need at least 2 images to measure how the posterior mean varies")
    check_number("threshold", threshold, low=0.0)
    was = model.training
    model.eval()
    mu, _ = model.encode(x.to(_model_device(model)))
    model.train(was)
    return int((mu.var(0) > threshold).sum())
