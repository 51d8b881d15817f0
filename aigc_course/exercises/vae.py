"""Checks for the VAE exercises (notebook 09): write the VAE loss yourself.

:func:`vae_loss` compares the learner's ``my_vae_loss(model, x)`` (encode, reparameterise,
decode, binomial reconstruction term + closed-form KL, in nats per image) with the package's
:func:`aigc_course.models.vae.elbo_terms`, averaged over the batch as
:func:`aigc_course.models.vae.vae_step` logs it, on a tiny ``MLPVAE``: the three numbers and
the gradients of every parameter of the model.
"""

from __future__ import annotations

import torch

from ..check import _fail, function

__all__ = ["vae_loss"]

LATENT, HIDDEN, BATCH = 3, 8, 4   # tiny: the check runs in milliseconds

HINT = ("if recon differs: it is −Σ log Binomial(k; 16, sigmoid(logit)) over the 64 pixels of each "
        "image, averaged over the batch — `-binomial_log_prob(logits, x).flatten(1).sum(1).mean()`, "
        "not a squared error or a Bernoulli cross-entropy — and z = μ + exp(½·log σ²)·ε with "
        "ε = torch.randn_like(mu), drawn once right after `model.encode(x)` (the encoder's second "
        "output is log σ², not σ). If kl differs: ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1), summed "
        f"over the latent dimensions and averaged over the batch (a sum over the {BATCH} images "
        f"is {BATCH} times too large). If only the gradients differ: z must be a differentiable "
        "function of μ and σ (no .detach(), no torch.no_grad())")


def _tiny_vae():
    """A fresh tiny ``MLPVAE`` and 4 images ``[4, 1, 8, 8]`` whose pixels are grey levels k / 16.

    The encoder's log-variance bias starts at −2 (σ ≈ 0.37): at the initial σ ≈ 1, a learner's
    ``exp(logvar)`` in place of ``exp(0.5 * logvar)`` would give almost the same numbers.
    """
    from ..models.vae import MLPVAE

    torch.manual_seed(4321)
    model = MLPVAE(latent_dim=LATENT, hidden=HIDDEN)
    with torch.no_grad():   # log σ² ≈ −2, as after training (at σ ≈ 1, σ and σ² look alike)
        model.encoder[-1].bias[LATENT:] = -2.0
    levels = torch.randint(0, 17, (BATCH, 1, 8, 8), generator=torch.Generator().manual_seed(9))
    return model, levels / 16


def _gradients(args) -> dict:
    """The gradient of ``neg_elbo`` with respect to every parameter (encoder first)."""
    return {f"gradient of {name}": (None if p.grad is None else p.grad.detach().clone())
            for name, p in args[0].named_parameters()}


def _reference(model, x):
    from ..models.vae import elbo_terms

    recon, kl = elbo_terms(model, x)   # [B] each, nats per image
    return {"recon": recon.mean(), "kl": kl.mean(), "neg_elbo": (recon + kl).mean()}


def _backward(fn):
    """Run ``fn(model, x)``, then ``neg_elbo.backward()``; returns the numbers as floats."""
    def run(model, x):
        out = fn(model, x)
        if isinstance(out, dict) and "neg_elbo" in out:
            loss = out["neg_elbo"]
            if not (isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.requires_grad):
                _fail("vae_loss: result['neg_elbo'] must be a one-number tensor that carries "
                      f"gradients (the loss you minimise), got {type(loss).__name__}"
                      + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""),
                      "average over the batch with .mean(), and do not call .item() or .detach() "
                      "on it nor compute it under torch.no_grad()")
            loss.backward()
            out = {k: (v.item() if isinstance(v, torch.Tensor) and v.numel() == 1 else v)
                   for k, v in out.items()}
        return out
    return run


def vae_loss(mine) -> None:
    """Compare ``mine(model, x) -> {"recon", "kl", "neg_elbo"}`` with the package's VAE loss.

    ``model`` is a tiny ``MLPVAE(latent_dim=3, hidden=8)``, ``x`` 4 images ``[4, 1, 8, 8]``.
    Expected: the batch means, in nats per image, of the reconstruction term (binomial pixels,
    one sample z = μ + σ·ε), the KL to N(0, I) and their sum, as
    :func:`aigc_course.models.vae.vae_step` logs them; ``neg_elbo`` must carry gradients.
    Compared: the three numbers, then the gradients of ``neg_elbo`` for every parameter.
    """
    function("vae_loss", _backward(mine), _backward(_reference), _tiny_vae, after=_gradients,
             rtol=1e-4, atol=1e-5, hint=HINT)
