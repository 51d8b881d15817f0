"""Tests of the generative-image metrics and the GAN / VAE models (chapters 08, 09)."""

import math

import numpy as np
import pytest
import torch

from aigc_course import metrics as M
from aigc_course.models import gan as G
from aigc_course.models import vae as V


# --------------------------------------------------------------------------- metrics: known answers
def test_frechet_distance_of_identical_sets_is_zero():
    f = torch.randn(500, 6, generator=torch.Generator().manual_seed(0))
    assert M.frechet_distance(f, f) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_shifted_gaussians_matches_closed_form():
    # N(0, I) vs N(m, 4I) in d dims: |m|² + tr(I + 4I − 2·2I) = |m|² + d
    gen = torch.Generator().manual_seed(1)
    d, n = 4, 20000
    a = torch.randn(n, d, generator=gen, dtype=torch.float64)
    m = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    b = m + 2.0 * torch.randn(n, d, generator=gen, dtype=torch.float64)
    expected = float(m @ m) + d
    assert M.frechet_distance(a, b) == pytest.approx(expected, rel=0.05)


def test_inception_score_known_cases():
    one_hot_even = np.eye(10)[np.arange(100) % 10]
    assert M.inception_score(one_hot_even) == pytest.approx(10.0)
    assert M.inception_score(np.full((50, 10), 0.1)) == pytest.approx(1.0)
    assert M.inception_score(np.eye(10)[np.zeros(30, dtype=int)]) == pytest.approx(1.0)
    two_classes = np.eye(10)[np.arange(100) % 2]
    assert M.inception_score(two_classes) == pytest.approx(2.0)


def test_inception_score_rejects_non_probabilities():
    with pytest.raises(ValueError, match="sum to 1"):
        M.inception_score(np.ones((5, 10)))
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        M.inception_score(np.ones(10) / 10)


def test_class_coverage():
    assert M.class_coverage(torch.arange(100) % 10) == 1.0
    assert M.class_coverage(torch.zeros(100, dtype=torch.long)) == pytest.approx(0.1)
    assert M.class_coverage(np.eye(10)[np.arange(100) % 5]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="min_share"):
        M.class_coverage(torch.arange(10), min_share=1.5)


def test_precision_recall_identical_and_collapsed():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(300, 5, generator=gen)
    p, r = M.precision_recall(real, real.clone())
    assert p == pytest.approx(1.0) and r == pytest.approx(1.0)
    collapsed = real[:1].repeat(300, 1) + 1e-3 * torch.randn(300, 5, generator=gen)
    p, r = M.precision_recall(real, collapsed)
    assert p > 0.9 and r < 0.1
    with pytest.raises(ValueError, match="k must be"):
        M.precision_recall(real, real, k=0)


def test_digits_reference_points_are_ordered():
    from aigc_course.data import load_digits

    d = load_digits()
    ref = M.digits_reference_points(d.train.x, torch.cat([d.val.x, d.test.x]), d.train.y, n=270)
    assert ref["real vs real"]["fd"] < 20 < ref["per-pixel Gaussian"]["fd"]
    assert ref["real vs real"]["is"] > 8 and ref["class means"]["is"] > 8  # IS alone can be gamed
    assert ref["class means"]["recall"] < 0.2  # ...but recall cannot
    assert "noise" in M.format_report(ref)
    with pytest.raises(ValueError, match="n must be"):
        M.digits_reference_points(d.train.x, d.test.x, n=10_000)


# --------------------------------------------------------------------------- GAN
@pytest.mark.parametrize("cond", [None, 10])
def test_dcgan_shapes(cond):
    g, d = G.DCGenerator(latent_dim=16, channels=8, num_classes=cond), G.DCDiscriminator(8, num_classes=cond)
    labels = torch.arange(5) % 10 if cond else None
    x = g(torch.randn(5, 16), labels)
    assert x.shape == (5, 1, 8, 8) and 0 <= x.min() and x.max() <= 1
    assert d(x, labels).shape == (5,)
    gan = G.GAN(g, d)
    assert gan.sample(7, seed=0).shape == (7, 1, 8, 8)


def test_mlp_gan_shapes_and_spectral_norm():
    g, d = G.MLPGenerator(latent_dim=4, hidden=16), G.MLPDiscriminator(hidden=16, spectral_norm=True)
    assert d(g(torch.randn(3, 4))).shape == (3,)
    w = d.net[1].weight
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, rel=0.1)


def test_gan_bad_input():
    g, d = G.DCGenerator(latent_dim=16, channels=8), G.DCDiscriminator(8)
    with pytest.raises(ValueError, match="noise of shape"):
        g(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"\[B, 1, 8, 8\]"):
        d(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="unconditional"):
        d(torch.rand(2, 1, 8, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="agree on num_classes"):
        G.GAN(G.DCGenerator(num_classes=10), G.DCDiscriminator())
    with pytest.raises(ValueError, match="loss must be"):
        G.gan_step(loss="hinge")
    with pytest.raises(ValueError, match='optimizer=\\{"g"'):
        G.gan_step()(G.GAN(g, d), (torch.rand(4, 1, 8, 8),), torch.optim.Adam(g.parameters()))


def test_gan_step_trains_discriminator_on_real_data():
    """D's gradient must depend on the real batch (the seeds' bug: D never saw real data)."""
    torch.manual_seed(0)

    def d_update(real):
        torch.manual_seed(0)
        gan = G.GAN(G.MLPGenerator(latent_dim=4, hidden=8), G.MLPDiscriminator(hidden=8))
        before = [p.clone() for p in gan.discriminator.parameters()]
        opt = G.make_optimizers(gan, 1e-2, 1e-2)
        logs = G.gan_step()(gan, (real, torch.zeros(len(real))), opt)
        assert set(logs) >= {"d_loss", "g_loss", "d_real", "d_fake"}
        return torch.cat([(p - b).flatten() for p, b in zip(gan.discriminator.parameters(), before)])

    a = d_update(torch.zeros(8, 1, 8, 8))
    b = d_update(torch.ones(8, 1, 8, 8))
    assert a.abs().sum() > 0 and not torch.allclose(a, b)


def test_gan_learns_a_simple_distribution_with_fit():
    """A few hundred steps on a fixed image move the generator's mean towards it."""
    from aigc_course.train import fit

    torch.manual_seed(0)
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:6, 3:5] = 1.0
    data = (target.repeat(256, 1, 1, 1), torch.zeros(256, dtype=torch.long))
    gan = G.GAN(G.MLPGenerator(latent_dim=4, hidden=32), G.MLPDiscriminator(hidden=32))
    err0 = (gan.sample(64, seed=0).mean(0) - target[0]).abs().mean()
    fit(gan, data, optimizer=G.make_optimizers(gan, 2e-3, 2e-3), step=G.gan_step(), epochs=8,
        batch_size=32, progress=False, device="cpu")
    err1 = (gan.sample(64, seed=0).mean(0) - target[0]).abs().mean()
    assert err1 < 0.5 * err0


def test_wgan_gp_step_and_penalty():
    torch.manual_seed(0)
    gan = G.GAN(G.DCGenerator(latent_dim=8, channels=8), G.DCDiscriminator(8, spectral_norm=False))
    step = G.wgan_gp_step(n_critic=2)
    opt = G.make_optimizers(gan)
    logs = [step(gan, (torch.rand(4, 1, 8, 8),), opt) for _ in range(2)]
    assert "g_loss" not in logs[0] and "g_loss" in logs[1]
    assert math.isfinite(float(logs[0]["gp"]))
    with pytest.raises(ValueError, match="same shape"):
        G.gradient_penalty(gan.discriminator, torch.rand(2, 1, 8, 8), torch.rand(3, 1, 8, 8))


def test_ema_generator_tracks_weights():
    gan = G.GAN(G.MLPGenerator(latent_dim=4, hidden=8), G.MLPDiscriminator(hidden=8), ema=0.5)
    with torch.no_grad():
        for p in gan.generator.parameters():
            p.add_(1.0)
    before = [p.clone() for p in gan.generator_ema.parameters()]
    gan.update_ema()
    for b, e, p in zip(before, gan.generator_ema.parameters(), gan.generator.parameters()):
        assert torch.allclose(e, 0.5 * b + 0.5 * p)
    with pytest.raises(ValueError, match="ema must be"):
        G.GAN(G.MLPGenerator(), G.MLPDiscriminator(), ema=1.5)


# --------------------------------------------------------------------------- VAE
@pytest.mark.parametrize("cls", [V.MLPVAE, V.ConvVAE])
def test_vae_shapes(cls):
    m = cls(latent_dim=3)
    logits, mu, logvar = m(torch.rand(5, 1, 8, 8))
    assert logits.shape == (5, 1, 8, 8) and mu.shape == logvar.shape == (5, 3)
    assert m.sample(4, seed=0).shape == (4, 1, 8, 8)
    assert m.reconstruct(torch.rand(2, 64)).shape == (2, 1, 8, 8)


def test_gaussian_kl_closed_form_against_monte_carlo():
    mu, logvar = torch.tensor([[0.5, -1.0]], dtype=torch.float64), torch.tensor([[0.2, -0.7]], dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * torch.randn(200_000, 2, dtype=torch.float64,
                                                 generator=torch.Generator().manual_seed(0))
    log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
    assert V.gaussian_kl(mu, logvar).item() == pytest.approx((log_q - log_p).mean().item(), abs=0.01)
    assert V.gaussian_kl(torch.zeros(1, 4), torch.zeros(1, 4)).item() == 0.0


def test_vae_step_lowers_neg_elbo_and_bad_input():
    from aigc_course.data import load_digits
    from aigc_course.train import fit

    torch.manual_seed(0)
    d = load_digits()
    m = V.MLPVAE(latent_dim=4, hidden=64)
    before = V.evaluate_elbo(m, d.val.x)["neg_elbo"]
    h = fit(m, d.train, step=V.vae_step(), epochs=3, progress=False, device="cpu",
            optimizer=torch.optim.Adam(m.parameters(), 2e-3))
    after = V.evaluate_elbo(m, d.val.x)
    assert after["neg_elbo"] < before and after["neg_elbo"] == pytest.approx(after["recon"] + after["kl"])
    assert {"loss", "neg_elbo", "recon", "kl"} <= set(h.steps[0])
    baseline = V.independent_pixel_nll(d.train.x, d.test.x)
    assert 25 < baseline < 30
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        m(torch.full((2, 1, 8, 8), 3.0))
    with pytest.raises(ValueError, match="beta"):
        V.vae_step(beta=-1)
    with pytest.raises(ValueError, match="expected z"):
        m.decode(torch.randn(2, 7))
