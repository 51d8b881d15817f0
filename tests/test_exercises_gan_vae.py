"""The write-it-yourself checks of notebooks 08 (GAN step) and 09 (VAE loss).

The reference solutions (the notebooks' solutions) pass; the plausible wrong ones fail with a
message that names what differs; the untouched stubs print the reminder and do not raise.
"""

import functools

import pytest
import torch
import torch.nn.functional as F

from aigc_course import check
from aigc_course.check import CheckFailed
from aigc_course.models.vae import binomial_log_prob


# --------------------------------------------------------------------------- GAN (notebook 08)
def gan_step_solution(model, batch, optimizers, *, detach=True, use_real=True,
                      loss="nonsaturating", zero_grads_first=False, retain_graph=False):
    """The notebook's solution; the keywords switch on the classic mistakes."""
    G, D = model.generator, model.discriminator
    real = batch[0]
    if zero_grads_first:                       # "zero everything once at the top"
        optimizers["d"].zero_grad()
        optimizers["g"].zero_grad()
    fake = G(model.noise(len(real)))
    # 1) the discriminator: real images -> 1, generated (detached) -> 0
    logit_real = D(real)
    logit_fake = D(fake.detach() if detach else fake)
    if use_real:
        d_loss = F.softplus(-logit_real).mean() + F.softplus(logit_fake).mean()
    else:                                      # the tutorial bug of section 4a
        d_loss = (F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
                  + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))
    if not zero_grads_first:
        optimizers["d"].zero_grad()
    d_loss.backward(retain_graph=retain_graph)
    optimizers["d"].step()
    # 2) the generator: fool the updated discriminator with the same fakes
    logit = D(fake)
    g_loss = F.softplus(-logit).mean() if loss == "nonsaturating" else -F.softplus(logit).mean()
    if not zero_grads_first:
        optimizers["g"].zero_grad()
    g_loss.backward()
    optimizers["g"].step()
    model.update_ema()
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(logit_real).mean().detach(),
            "d_fake": torch.sigmoid(logit_fake).mean().detach()}


def test_gan_step_solution_passes(capsys):
    check.gan_step(gan_step_solution)
    assert "✅ gan_step" in capsys.readouterr().out


def test_gan_step_with_logged_floats_passes(capsys):
    def with_floats(*args):
        return {k: v.item() for k, v in gan_step_solution(*args).items()}
    check.gan_step(with_floats)
    assert "✅ gan_step" in capsys.readouterr().out


def test_gan_step_stub_only_reminds(capsys):
    def my_gan_step(model, batch, optimizers):
        raise NotImplementedError
    check.gan_step(my_gan_step)
    assert "not written yet" in capsys.readouterr().out


def test_gan_step_without_detach_changes_the_generator_differently():
    wrong = functools.partial(gan_step_solution, detach=False, zero_grads_first=True, retain_graph=True)
    with pytest.raises(CheckFailed, match=r"after the call, the state\['generator\.") as info:
        check.gan_step(wrong)
    assert "detach the fakes" in str(info.value)


def test_gan_step_without_detach_that_crashes_is_explained():
    with pytest.raises(CheckFailed, match="backward through the graph a second time") as info:
        check.gan_step(functools.partial(gan_step_solution, detach=False))
    assert "fake.detach()" in str(info.value)


def test_gan_step_without_the_real_batch_fails_on_d_loss():
    with pytest.raises(CheckFailed, match=r"result\['d_loss'\]") as info:
        check.gan_step(functools.partial(gan_step_solution, use_real=False))
    assert "real batch" in str(info.value)


def test_gan_step_with_the_saturating_loss_fails_on_g_loss():
    with pytest.raises(CheckFailed, match=r"result\['g_loss'\]") as info:
        check.gan_step(functools.partial(gan_step_solution, loss="saturating"))
    assert "non-saturating" in str(info.value)


def test_gan_step_with_missing_logs_names_the_keys():
    def fewer_logs(*args):
        out = gan_step_solution(*args)
        return {"d_loss": out["d_loss"], "g_loss": out["g_loss"]}
    with pytest.raises(CheckFailed, match="expected a dict with keys"):
        check.gan_step(fewer_logs)


# --------------------------------------------------------------------------- VAE (notebook 09)
def vae_loss_solution(model, x, *, sigma="exp(logvar / 2)", kl_over_batch="mean", likelihood="binomial",
                      detach_z=False):
    """The notebook's solution; the keywords switch on the classic mistakes."""
    mu, logvar = model.encode(x)                              # [B, d] each
    std = {"exp(logvar / 2)": torch.exp(0.5 * logvar),
           "logvar": logvar,                                  # the second output read as σ
           "exp(logvar)": torch.exp(logvar)}[sigma]          # σ² used as σ
    z = mu + std * torch.randn_like(mu)                       # the reparameterisation trick
    if detach_z:
        z = z.detach()
    logits = model.decode(z)                                  # [B, 1, 8, 8]
    if likelihood == "binomial":
        recon = -binomial_log_prob(logits, x).flatten(1).sum(1)                    # [B] nats
    else:
        recon = F.mse_loss(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1)
    kl = 0.5 * (mu ** 2 + logvar.exp() - logvar - 1).sum(1)                        # [B] nats
    recon = recon.mean()
    kl = kl.mean() if kl_over_batch == "mean" else kl.sum()
    return {"recon": recon, "kl": kl, "neg_elbo": recon + kl}


def test_vae_loss_solution_passes(capsys):
    check.vae_loss(vae_loss_solution)
    assert "✅ vae_loss" in capsys.readouterr().out


def test_vae_loss_written_with_torch_distributions_passes(capsys):
    """An independent formulation (torch.distributions) agrees within the check's tolerance."""
    def with_distributions(model, x):
        mu, logvar = model.encode(x)
        q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
        z = q.rsample()
        k = torch.round(16 * x)
        p = torch.distributions.Binomial(16, logits=model.decode(z))
        recon = -p.log_prob(k).flatten(1).sum(1).mean()
        kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1).mean()
        return {"recon": recon, "kl": kl, "neg_elbo": recon + kl}
    check.vae_loss(with_distributions)
    assert "✅ vae_loss" in capsys.readouterr().out


def test_vae_loss_stub_only_reminds(capsys):
    def my_vae_loss(model, x):
        raise NotImplementedError
    check.vae_loss(my_vae_loss)
    assert "not written yet" in capsys.readouterr().out


@pytest.mark.parametrize("sigma", ["logvar", "exp(logvar)"])
def test_vae_loss_with_the_wrong_sigma_fails_on_recon(sigma):
    with pytest.raises(CheckFailed, match=r"result\['recon'\]") as info:
        check.vae_loss(functools.partial(vae_loss_solution, sigma=sigma))
    assert "log σ², not σ" in str(info.value)


def test_vae_loss_summing_kl_over_the_batch_fails_on_kl():
    with pytest.raises(CheckFailed, match=r"result\['kl'\]") as info:
        check.vae_loss(functools.partial(vae_loss_solution, kl_over_batch="sum"))
    assert "4 times too large" in str(info.value)


def test_vae_loss_with_mse_fails_on_recon():
    with pytest.raises(CheckFailed, match=r"result\['recon'\]") as info:
        check.vae_loss(functools.partial(vae_loss_solution, likelihood="mse"))
    assert "not a squared error" in str(info.value)


def test_vae_loss_with_a_detached_sample_fails_on_the_encoder_gradient():
    with pytest.raises(CheckFailed, match=r"state\['gradient of encoder\.") as info:
        check.vae_loss(functools.partial(vae_loss_solution, detach_z=True))
    assert "differentiable" in str(info.value)


def test_vae_loss_that_is_not_differentiable_says_so():
    def as_floats(model, x):
        return {k: v.item() for k, v in vae_loss_solution(model, x).items()}
    with pytest.raises(CheckFailed, match="must be a one-number tensor that carries gradients"):
        check.vae_loss(as_floats)
