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
        G.gan_step(loss="wasserstein")
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


def test_gan_losses_known_values():
    big = torch.tensor([20.0])
    assert G._d_loss("hinge", big / 10, -big / 10).item() == 0.0           # beyond the margin: no loss
    assert G._d_loss("hinge", torch.zeros(1), torch.zeros(1)).item() == 2.0
    assert G._d_loss("nonsaturating", torch.zeros(1), torch.zeros(1)).item() == pytest.approx(2 * math.log(2))
    assert G._g_loss("hinge", torch.tensor([1.5, -0.5])).item() == pytest.approx(-0.5)
    # a confident discriminator (logit −20): the saturating loss is flat, the non-saturating one is not
    logit = torch.tensor([-20.0], requires_grad=True)
    sat, = torch.autograd.grad(G._g_loss("saturating", logit), logit)
    nonsat, = torch.autograd.grad(G._g_loss("nonsaturating", logit), logit)
    assert abs(sat.item()) < 1e-8 and nonsat.item() == pytest.approx(-1.0, abs=1e-6)


def test_r1_penalty_of_a_linear_discriminator_is_its_squared_weight_norm():
    class LinearD(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(64, 1)

        def forward(self, x, labels=None):
            return self.lin(x.flatten(1)).squeeze(1)

    d = LinearD()
    penalty, logits = G.r1_penalty(d, torch.rand(5, 1, 8, 8))
    assert logits.shape == (5,)
    assert penalty.item() == pytest.approx(d.lin.weight.pow(2).sum().item(), rel=1e-5)
    penalty.backward()  # differentiable with respect to D's weights (a double backward)
    assert d.lin.weight.grad is not None and d.lin.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("loss", G.LOSSES)
@pytest.mark.parametrize("r1", [0.0, 1.0])
def test_gan_step_all_losses_update_both_players(loss, r1):
    torch.manual_seed(0)
    gan = G.GAN(G.DCGenerator(latent_dim=8, channels=8, num_classes=10),
                G.DCDiscriminator(8, num_classes=10), ema=0.9)
    g0 = [p.clone() for p in gan.generator.parameters()]
    d0 = [p.clone() for p in gan.discriminator.parameters()]
    opt = G.make_optimizers(gan, 1e-2, 1e-2)
    logs = G.gan_step(loss=loss, d_steps=2, r1=r1)(gan, (torch.rand(6, 1, 8, 8), torch.arange(6)), opt)
    assert ("r1" in logs) == (r1 > 0)
    assert all(math.isfinite(float(v)) for v in logs.values())
    assert all(not torch.equal(a, b) for a, b in zip(g0, gan.generator.parameters()))
    changed = [not torch.equal(a, b) for a, b in zip(d0, gan.discriminator.parameters())]
    # (with the hinge loss the last bias can have an exactly zero gradient: ±1 per real/fake image)
    assert sum(changed) >= len(changed) - 1
    assert opt["d"].state[next(gan.discriminator.parameters())]["step"].item() == 2  # d_steps
    assert opt["g"].state[next(gan.generator.parameters())]["step"].item() == 1
    with pytest.raises(ValueError, match="r1 must be"):
        G.gan_step(r1=-1.0)


def test_ema_batch_norm_statistics_are_re_estimated_before_sampling():
    torch.manual_seed(0)
    gan = G.GAN(G.DCGenerator(latent_dim=8, channels=8), G.DCDiscriminator(8), ema=0.5)
    with torch.no_grad():  # make the averaged weights differ a lot from the trained ones
        for p in gan.generator.parameters():
            p.mul_(3.0).add_(0.5)
    gan.generator(torch.randn(256, 8))  # the trained generator's running statistics
    gan.update_ema()
    z = torch.randn(2048, 8)
    ema = gan.generator_ema
    with torch.no_grad():
        batch_stats = ema.train()(z)
        stale = ema.eval()(z)  # running statistics copied from the trained generator
    rng = torch.get_rng_state()
    gan.sample(4, seed=0)  # samples through a refreshed copy of the EMA generator
    assert torch.equal(rng, torch.get_rng_state())  # the global random state is untouched
    with torch.no_grad():
        assert torch.equal(ema.eval()(z), stale)  # sampling leaves the model unchanged
        fresh = gan._sampling_generator().eval()(z)
    assert (fresh - batch_stats).abs().mean() < 0.2 * (stale - batch_stats).abs().mean()
    gan.refresh_ema_batch_norm()  # in place, when asked
    with torch.no_grad():
        assert torch.allclose(ema.eval()(z), fresh)
    assert gan._ema_refreshed_at == gan._ema_updates == 1
    gan.load_state_dict(gan.state_dict())
    assert gan._ema_refreshed_at is None  # new weights: refresh again at the next sample()


def test_make_optimizers_validation():
    gan = G.GAN(G.MLPGenerator(latent_dim=4, hidden=8), G.MLPDiscriminator(hidden=8))
    opt = G.make_optimizers(gan, 1e-3, 2e-3, betas=(0, 0.9))  # ints are fine
    assert opt["d"].param_groups[0]["lr"] == 2e-3 and opt["g"].param_groups[0]["betas"] == (0.0, 0.9)
    with pytest.raises(ValueError, match="betas"):
        G.make_optimizers(gan, betas=(0.5,))
    with pytest.raises(ValueError, match="lr_d"):
        G.make_optimizers(gan, lr_d=0)
    with pytest.raises(TypeError, match="must be a GAN"):
        G.make_optimizers(gan.generator)


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
    assert 245 < baseline < 265                 # binomial pixels: about 254 nats per test image
    assert 100 < V.independent_pixel_nll(d.train.x, d.test.x, family="categorical") < 115
    with pytest.raises(ValueError, match="family must be one of"):
        V.independent_pixel_nll(d.train.x, d.test.x, family="bernoulli")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        V.elbo_terms(m, torch.full((2, 1, 8, 8), 3.0))
    with pytest.raises(ValueError, match="beta"):
        V.vae_step(beta=-1)
    with pytest.raises(ValueError, match="expected z"):
        m.decode(torch.randn(2, 7))


LEVEL_VALUES = torch.arange(V.LEVELS + 1, dtype=torch.float64) / V.LEVELS   # the 17 grey levels


@pytest.mark.parametrize("p", [1e-3, 0.1, 0.5, 0.77, 0.999])
def test_binomial_pixel_likelihood_is_normalised_over_the_17_levels(p):
    logit = torch.full((17,), math.log(p / (1 - p)), dtype=torch.float64)
    log_p = V.binomial_log_prob(logit, LEVEL_VALUES)
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-12)
    expected = torch.distributions.Binomial(16, probs=torch.tensor(p, dtype=torch.float64))
    assert torch.allclose(log_p, expected.log_prob(LEVEL_VALUES * 16), atol=1e-10)


def _constant_decoder_vae(logit: float) -> V.MLPVAE:
    """A VAE whose decoder ignores z (every pixel has the same logit) and whose q(z|x) is the
    prior: its −ELBO is then exactly −log p(x)."""
    m = V.MLPVAE(latent_dim=2, hidden=8)
    with torch.no_grad():
        m.decoder[-1].weight.zero_()
        m.decoder[-1].bias.fill_(logit)
        m.encoder[-1].weight.zero_()
        m.encoder[-1].bias.zero_()
    return m


def test_elbo_reconstruction_is_a_normalised_likelihood():
    # 17 images, image k with every pixel at level k: with one shared pixel distribution,
    # recon(image k) / 64 = −log p(k), and a likelihood must give Σ_k p(k) = 1. The Bernoulli
    # cross-entropy on grey values gave Σ_k exp(−H(k/16, p)) ≈ 8.5 at p = 0.5.
    x = LEVEL_VALUES.float().view(17, 1, 1, 1).expand(17, 1, 8, 8)
    for logit in (-2.0, 0.0, 1.5):
        recon, kl = V.elbo_terms(_constant_decoder_vae(logit), x)
        assert kl.abs().max() < 1e-6
        assert torch.logsumexp(-recon.double() / 64, 0).item() == pytest.approx(0.0, abs=1e-5)


def test_elbo_and_iwae_bound_the_exact_log_likelihood_of_a_1d_latent_model():
    torch.manual_seed(0)
    from aigc_course.data import load_digits

    x = load_digits().test.x[:6]
    m = V.MLPVAE(latent_dim=1, hidden=16)
    with torch.no_grad():
        m.decoder[0].weight.mul_(3.0)    # a decoder that depends strongly on z
        z = torch.linspace(-8, 8, 8001)[:, None]                           # the 1-D latent, gridded
        log_px_z = V.binomial_log_prob(m.decode(z).flatten(1)[:, None], x.flatten(1)).sum(-1)
        log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z)           # [G, 1]
        dz = float(z[1] - z[0])
        log_px = torch.logsumexp(log_px_z.double() + log_pz.double(), 0) + math.log(dz)   # [6]
    exact_nll = float(-log_px.mean())
    neg_elbo = sum(V.evaluate_elbo(m, x, seed=s)["neg_elbo"] for s in range(50)) / 50
    iwae = V.importance_weighted_nll(m, x, k=4096)
    assert neg_elbo > iwae > exact_nll - 0.05      # −ELBO ≥ IWAE bound ≥ −log p(x)
    assert iwae == pytest.approx(exact_nll, abs=0.5)
    assert neg_elbo - exact_nll > 1.0              # the ELBO gap of this untrained encoder


def test_importance_weighted_bound_is_tighter_and_matches_elbo_at_k1():
    torch.manual_seed(0)
    m = V.MLPVAE(latent_dim=3, hidden=32)
    x = torch.rand(40, 1, 8, 8)
    elbo = V.evaluate_elbo(m, x)["neg_elbo"]
    # k = 1 is a Monte Carlo -ELBO (sampled KL): average several seeds to compare with the closed form
    k1 = sum(V.importance_weighted_nll(m, x, k=1, seed=s) for s in range(20)) / 20
    assert k1 == pytest.approx(elbo, abs=0.3)
    k64 = V.importance_weighted_nll(m, x, k=64)
    assert k64 < elbo  # Jensen: a tighter upper bound on -log p(x)
    # a decoder that ignores z gives an exact likelihood: the bound then equals the reconstruction term
    ignore_z = V.MLPVAE(latent_dim=2, hidden=8)
    with torch.no_grad():
        ignore_z.decoder[0].weight.zero_()
        ignore_z.encoder[-1].weight.zero_()
        ignore_z.encoder[-1].bias.zero_()   # q(z|x) = N(0, I) = p(z): every weight is p(x|z)
    exact = V.evaluate_elbo(ignore_z, x)
    assert exact["kl"] == pytest.approx(0.0, abs=1e-6)
    assert V.importance_weighted_nll(ignore_z, x, k=16) == pytest.approx(exact["recon"], rel=1e-5)
    with pytest.raises(ValueError, match="k must be"):
        V.importance_weighted_nll(m, x, k=0)


def test_kl_per_dimension_active_units_and_warmup():
    torch.manual_seed(0)
    m = V.MLPVAE(latent_dim=4, hidden=16)
    x = torch.rand(30, 1, 8, 8)
    per_dim = V.kl_per_dimension(m, x)
    assert per_dim.shape == (4,) and (per_dim >= 0).all()
    assert per_dim.sum().item() == pytest.approx(V.evaluate_elbo(m, x)["kl"], rel=1e-4)
    with torch.no_grad():  # dimensions 0 and 1 forced to the prior: inactive, zero KL
        m.encoder[-1].weight[[0, 1, 4, 5]] = 0.0
        m.encoder[-1].bias[[0, 1, 4, 5]] = 0.0
        m.encoder[-1].weight[[2, 3]] *= 50.0   # make the others clearly vary with x
    per_dim = V.kl_per_dimension(m, x)
    assert per_dim[:2].abs().max() < 1e-6 and (per_dim[2:] > 0).all()
    assert V.active_units(m, x) == 2
    assert V.active_units(m, x, threshold=1e9) == 0
    with pytest.raises(ValueError, match="at least 2 images"):
        V.active_units(m, x[:1])
    with pytest.raises(ValueError, match="threshold"):
        V.active_units(m, x, threshold=-1)
    # KL warm-up: the weight rises linearly to beta over warmup_steps calls, then stays
    step = V.vae_step(beta=2.0, warmup_steps=4)
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    betas = [step(m, (x, None), opt)["beta"] for _ in range(6)]
    assert betas == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="warmup_steps"):
        V.vae_step(warmup_steps=-1)
