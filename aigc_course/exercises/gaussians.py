"""Checks for the Gaussian exercises of notebook 04 (the mathematics of VAEs).

- :func:`gaussian_kl` compares the learner's closed-form ``KL(N(μ, diag σ²) ‖ N(0, I))`` with
  :func:`aigc_course.models.vae.gaussian_kl`, the KL term of the course's VAEs;
- :func:`reparameterize` compares the learner's reparameterised sample ``z = μ + exp(½ log σ²) · ε``
  and its gradients with respect to ``μ`` and ``log σ²`` with the VAEs' ``reparameterize``.

When a result is wrong, the check also tries the usual mistakes (the standard deviation where
the variance belongs, a missing ½, the sum over the wrong dimension, ...) and names the one the
result reproduces (with the helpers of :mod:`.divergences`, imported inside the checks: a
module-level import of a sibling would be circular, because ``aigc_course.check`` imports every
exercise module when an attribute it lacks is looked up).
"""

from __future__ import annotations

from ..check import _is_tensor, function

__all__ = ["gaussian_kl", "reparameterize"]

KL_HINT = ("KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − log σ² − 1) for each latent dimension, with "
           "σ² = exp(logvar) and log σ² = logvar itself; sum over the latent dimensions (dim=1), "
           "not over the batch: one value per example, shape [B]")

REPARAM_HINT = ("z = mu + sigma * eps with sigma = exp(½ · logvar) (logvar is log σ², so the standard "
                "deviation needs the ½) and eps = torch.randn_like(mu), drawn once, of the shape of mu "
                "(the check draws from the same seed); z must stay differentiable in mu and logvar: "
                "no .detach(), no torch.no_grad(), no .item() or numpy")


def _latents():
    """Fixed ``(mu, logvar)``, float32 ``[B 4, latent 3]`` (B ≠ latent, so a sum over the wrong
    dimension shows as a wrong shape)."""
    import torch

    g = torch.Generator().manual_seed(3)
    mu = torch.randn(4, 3, generator=g)
    logvar = torch.randn(4, 3, generator=g) - 0.5
    return mu, logvar


def _detached(mine, make_inputs) -> bool:
    """True if ``mine`` returns a tensor that autograd cannot differentiate (errors: False)."""
    import torch

    try:
        torch.manual_seed(0)
        z = mine(*make_inputs())
    except Exception:  # noqa: BLE001 - the check reports the learner's errors itself
        return False
    return _is_tensor(z) and not z.requires_grad


def gaussian_kl(mine) -> None:
    """Check ``mine(mu, logvar)`` → ``[B]`` (nats) against :func:`aigc_course.models.vae.gaussian_kl`.

    The inputs: ``mu`` and ``logvar`` (``log σ²``), float32 ``[4, 3]`` (a batch of 4, 3 latent
    dimensions); the answer is ``[4]``.
    """
    from ..models.vae import gaussian_kl as reference
    from .divergences import _diagnose, _hint  # here, not at the top: see the module's docstring

    mistakes = {
        "you used the standard deviation σ = exp(½ logvar) where the variance σ² = exp(logvar) belongs":
            lambda mu, lv: 0.5 * (mu.pow(2) + (0.5 * lv).exp() - lv - 1).sum(1),
        "you read logvar as log σ instead of log σ² (the variance is exp(logvar), its log is logvar)":
            lambda mu, lv: 0.5 * (mu.pow(2) + (2 * lv).exp() - 2 * lv - 1).sum(1),
        "you forgot the ½ (your values are twice the right ones)":
            lambda mu, lv: (mu.pow(2) + lv.exp() - lv - 1).sum(1),
        "you averaged over the latent dimensions instead of summing them (the KL of independent "
        "coordinates is the sum of their KLs)":
            lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - lv - 1).mean(1),
        "you added log σ² instead of subtracting it": lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() + lv - 1).sum(1),
        "you summed over the batch (dim 0) instead of over the latent dimensions (dim 1)":
            lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - lv - 1).sum(0),
        "you summed over everything, batch included, instead of over the latent dimensions (dim 1)":
            lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - lv - 1).sum(),
    }
    mistake = _diagnose(mine, _latents, reference, mistakes)
    function("gaussian_kl", mine, reference, _latents, hint=_hint(mistake, KL_HINT))


def reparameterize(mine) -> None:
    """Check ``mine(mu, logvar)`` → ``z`` against the VAEs' ``reparameterize``, with its gradients.

    The inputs: ``mu`` and ``logvar``, float32 ``[4, 3]`` leaf tensors that require gradients.
    Both functions draw their noise from the same seed. Compared: ``z``, then the gradients of
    ``z.sum()`` with respect to ``mu`` (all ones) and ``logvar`` (``½ σ ε``), which show whether
    the gradient flows through the sample.
    """
    import torch

    from ..models.vae import MLPVAE
    from .divergences import _diagnose, _hint

    reference = MLPVAE.reparameterize    # a staticmethod shared by every VAE of the course

    def make_inputs():
        mu, logvar = _latents()
        return mu.requires_grad_(), logvar.requires_grad_()

    def with_gradients(fn):
        def run(mu, logvar):
            z = fn(mu, logvar)
            out = {"z": z, "gradient of z.sum() w.r.t. mu": None, "gradient of z.sum() w.r.t. logvar": None}
            if _is_tensor(z) and z.requires_grad:
                g_mu, g_lv = torch.autograd.grad(z.sum(), (mu, logvar), allow_unused=True)
                out["gradient of z.sum() w.r.t. mu"] = g_mu
                out["gradient of z.sum() w.r.t. logvar"] = g_lv
            return out
        return run

    def detached(fn):
        def run(mu, logvar):
            return fn(mu, logvar).detach()
        return run

    mistakes = {
        "you used exp(logvar), the variance, as the standard deviation (σ = exp(½ · logvar))":
            lambda mu, lv: mu + lv.exp() * torch.randn_like(mu),
        "you used logvar itself as the standard deviation (σ = exp(½ · logvar))":
            lambda mu, lv: mu + lv * torch.randn_like(mu),
        "you drew uniform noise (torch.rand_like) instead of standard normal noise (torch.randn_like)":
            lambda mu, lv: mu + (0.5 * lv).exp() * torch.rand_like(mu),
    }
    mistake = _diagnose(detached(mine), make_inputs, detached(reference), mistakes)
    if mistake is None and _detached(mine, make_inputs):
        mistake = ("your z does not depend on mu and logvar for autograd (it was detached, computed "
                   "under torch.no_grad() or rebuilt from numbers), so no gradient reaches the "
                   "encoder: the whole point of the trick")
    function("reparameterize", with_gradients(mine), with_gradients(reference), make_inputs,
             hint=_hint(mistake, REPARAM_HINT))
