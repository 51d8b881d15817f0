"""Tests of aigc_course.models.diffusion: forward process, schedulers, samplers, training step."""

import math

import numpy as np
import pytest
import torch

import aigc_course as ac
from aigc_course.models.diffusion import (
    Denoiser,
    NoiseSchedule,
    ddim_sample,
    ddim_step,
    ddim_timesteps,
    ddpm_sample,
    ddpm_step,
    diffusion_step,
    guided_noise,
    to_image_range,
    to_model_range,
)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return Denoiser(channels=8, blocks=1, num_classes=10, emb_dim=16).eval()


# --------------------------------------------------------------------------- schedules
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedules_end_in_noise_and_are_monotone(kind):
    s = getattr(NoiseSchedule, kind)(200)
    assert s.T == 200 and s.betas.dtype == torch.float64
    assert (s.alpha_bars[1:] < s.alpha_bars[:-1]).all()
    assert s.alpha_bars[0] > 0.99 and s.alpha_bars[-1] < 1e-3
    assert "T=200" in repr(s)


def test_cosine_schedule_destroys_information_more_slowly_than_linear():
    lin, cos = NoiseSchedule.linear(200), NoiseSchedule.cosine(200)
    # at the middle of the chain the cosine schedule keeps far more of the signal
    assert cos.alpha_bars[100] > 3 * lin.alpha_bars[100]


def test_linear_schedule_is_rescaled_to_T():
    s = NoiseSchedule.linear(1000)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    assert NoiseSchedule.linear(200).betas[-1].item() == pytest.approx(0.1)


def test_closed_form_matches_iterated_noising():
    torch.manual_seed(0)
    s = NoiseSchedule.linear(50)
    x0 = torch.tensor([-1.0, -0.3, 0.5, 1.0]).repeat(20_000, 1)   # 20,000 copies of 4 "pixels"
    for t in (0, 9, 30, 49):
        x = x0
        for step in range(t + 1):
            x = s.noise_once(x, step)
        closed = s.q_sample(x0, t)
        ab = s.alpha_bars[t].item()
        se = math.sqrt((1 - ab) / len(x0))
        for sample in (x, closed):  # both have the mean and spread the maths says
            assert torch.allclose(sample.mean(0), math.sqrt(ab) * x0[0], atol=5 * se)
            assert torch.allclose(sample.std(0), torch.full((4,), math.sqrt(1 - ab)), rtol=0.03)
        assert torch.allclose(x.mean(0), closed.mean(0), atol=7 * se)


def test_q_sample_uses_the_given_noise_and_per_example_steps():
    s = NoiseSchedule.cosine(100)
    x0, noise = torch.ones(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    t = torch.tensor([0, 50, 99])
    xt = s.q_sample(x0, t, noise)
    for i in range(3):
        ab = s.alpha_bars[t[i]].item()
        assert torch.allclose(xt[i], math.sqrt(ab) * x0[i] + math.sqrt(1 - ab) * noise[i], atol=1e-6)


# --------------------------------------------------------------------------- equal to diffusers
def _diffusers_betas(schedule):
    return schedule.betas.numpy().astype(np.float64)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_ddpm_step_equals_diffusers(kind):
    from diffusers import DDPMScheduler

    s = getattr(NoiseSchedule, kind)(100)
    ref = DDPMScheduler(num_train_timesteps=100, trained_betas=_diffusers_betas(s))
    ref.set_timesteps(100)
    assert torch.allclose(ref.alphas_cumprod.double(), s.alpha_bars, rtol=1e-5)
    torch.manual_seed(1)
    x = torch.randn(4, 1, 8, 8)
    for t in (99, 60, 10, 1, 0):
        eps = torch.randn(4, 1, 8, 8)
        ours = ddpm_step(s, eps, t, x, noise=torch.randn(x.shape, generator=torch.Generator().manual_seed(t)))
        theirs = ref.step(eps, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        assert torch.allclose(ours, theirs, atol=1e-5), t


def test_cosine_schedule_equals_diffusers_squaredcos():
    from diffusers import DDPMScheduler

    ref = DDPMScheduler(num_train_timesteps=200, beta_schedule="squaredcos_cap_v2")
    assert torch.allclose(ref.betas.double(), NoiseSchedule.cosine(200).betas, atol=1e-6)


@pytest.mark.parametrize("steps,clipped", [(10, True), (20, False), (50, True)])
def test_ddim_timesteps_and_steps_equal_diffusers(steps, clipped):
    from diffusers import DDIMScheduler

    s = NoiseSchedule.linear(200)
    ref = DDIMScheduler(num_train_timesteps=200, trained_betas=_diffusers_betas(s))
    ref.set_timesteps(steps)
    times = ddim_timesteps(200, steps)
    assert times == ref.timesteps.tolist()
    torch.manual_seed(2)
    x_ours = x_ref = torch.randn(3, 1, 8, 8)
    for i, t in enumerate(times):
        eps = torch.randn(3, 1, 8, 8) * 1.5 + 0.1 * x_ours   # any "network output" (large: clipping acts)
        t_prev = times[i + 1] if i + 1 < len(times) else -1
        x_ours = ddim_step(s, eps, t, t_prev, x_ours, clipped_eps=clipped)
        x_ref = ref.step(eps, t, x_ref, use_clipped_model_output=clipped).prev_sample
        assert torch.allclose(x_ours, x_ref, atol=1e-4), t


def test_stochastic_ddim_step_equals_diffusers():
    from diffusers import DDIMScheduler

    s = NoiseSchedule.cosine(100)
    ref = DDIMScheduler(num_train_timesteps=100, trained_betas=_diffusers_betas(s))
    ref.set_timesteps(10)
    x, eps, z = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    ours = ddim_step(s, eps, 50, 40, x, eta=0.7, noise=z)
    theirs = ref.step(eps, 50, x, eta=0.7, variance_noise=z, use_clipped_model_output=True).prev_sample
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert not torch.allclose(ours, ddim_step(s, eps, 50, 40, x, eta=0.0), atol=1e-3)


# --------------------------------------------------------------------------- model and samplers
def test_denoiser_shapes_and_null_label(tiny):
    x, t = torch.randn(5, 1, 8, 8), torch.randint(0, 100, (5,))
    y = torch.tensor([0, 3, 9, 10, 2])
    assert tiny(x, t, y).shape == (5, 1, 8, 8)
    assert tiny.null_label == 10
    assert torch.allclose(tiny(x, t), tiny(x, t, torch.full((5,), 10)))
    assert not torch.allclose(tiny(x, t, torch.zeros(5, dtype=torch.long)), tiny(x, t, torch.full((5,), 7)))


def test_guidance_formula(tiny):
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([1, 2, 3, 4])
    cond, uncond = tiny(x, torch.full((4,), 5), y), tiny(x, torch.full((4,), 5))
    assert torch.allclose(guided_noise(tiny, x, 5, y, 0.0), cond, atol=1e-6)
    assert torch.allclose(guided_noise(tiny, x, 5, y, 2.0), 3 * cond - 2 * uncond, atol=1e-5)


def test_samplers_shapes_ranges_and_reproducibility(tiny):
    s = NoiseSchedule.linear(20)
    labels = torch.tensor([0, 1, 2, 7])
    a = ddpm_sample(tiny, s, labels, guidance=1.5, generator=torch.Generator().manual_seed(0))
    b = ddpm_sample(tiny, s, labels, guidance=1.5, generator=torch.Generator().manual_seed(0))
    assert a.shape == (4, 1, 8, 8) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    images, path = ddpm_sample(tiny, s, n=3, return_path=True)
    assert images.shape == (3, 1, 8, 8) and len(path) == 10 and path[0].shape == (3, 1, 8, 8)
    c = ddim_sample(tiny, s, n=6, steps=5, generator=torch.Generator().manual_seed(0))
    assert c.shape == (6, 1, 8, 8) and c.min() >= 0 and c.max() <= 1
    x_T = torch.randn(2, 1, 8, 8)
    d1 = ddim_sample(tiny, s, torch.tensor([3, 3]), steps=4, x_T=x_T)
    d2 = ddim_sample(tiny, s, torch.tensor([3, 3]), steps=4, x_T=x_T)
    assert torch.equal(d1, d2)   # eta = 0: deterministic given the starting noise
    assert tiny.training is False


def test_ddim_with_all_steps_and_eta_one_is_a_ddpm_like_sampler(tiny):
    s = NoiseSchedule.linear(20)
    assert ddim_timesteps(20, 20) == list(range(19, -1, -1))
    out = ddim_sample(tiny, s, n=2, steps=20, eta=1.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 1, 8, 8)


def test_range_helpers_round_trip():
    x = torch.rand(2, 1, 8, 8)
    assert torch.allclose(to_image_range(to_model_range(x)), x)
    assert to_image_range(torch.tensor([-3.0, 3.0])).tolist() == [0.0, 1.0]


def test_training_step_learns_and_drops_labels():
    torch.manual_seed(0)
    s = NoiseSchedule.linear(50)
    digits = ac.data.load_digits()
    model = Denoiser(channels=16, blocks=1, emb_dim=16)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[2].clone()))
    history = ac.fit(model, digits.train, epochs=3, step=diffusion_step(s, p_uncond=0.5),
                     optimizer=torch.optim.Adam(model.parameters(), lr=3e-3), batch_size=128,
                     progress=False, device="cpu")
    losses = history["loss"]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:3])
    share_null = torch.cat(seen).eq(10).float().mean().item()
    assert 0.4 < share_null < 0.6


# --------------------------------------------------------------------------- bad input
def test_bad_schedules():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        NoiseSchedule([0.1, 1.0])
    with pytest.raises(ValueError, match="at least 2 steps"):
        NoiseSchedule([0.1])
    with pytest.raises(ValueError, match="T \\(number of diffusion steps\\)"):
        NoiseSchedule.linear(1)
    with pytest.raises(TypeError, match="T \\(number of diffusion steps\\)"):
        NoiseSchedule.cosine(10.0)
    with pytest.raises(ValueError, match="beta_start <= beta_end"):
        NoiseSchedule.linear(10, beta_start=0.2, beta_end=0.1)


def test_bad_time_steps_and_noise():
    s = NoiseSchedule.linear(10)
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match="time steps must be in 0 … 9"):
        s.q_sample(x, 10)
    with pytest.raises(TypeError, match="integer time steps"):
        s.q_sample(x, torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="t must be an int"):
        s.q_sample(x, 1.5)
    with pytest.raises(ValueError, match="t must be an int or have shape \\[2\\]"):
        s.q_sample(x, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="noise has shape"):
        s.q_sample(x, 1, noise=torch.zeros(2, 64))
    with pytest.raises(ValueError, match=r"steps \(at most T=10\) must be an int in \[1, 10\], got 11"):
        ddim_timesteps(10, 11)


def test_bad_model_and_sampler_inputs(tiny):
    s = NoiseSchedule.linear(10)
    with pytest.raises(ValueError, match="channels must be an int >= 1, got 0"):
        Denoiser(channels=0)
    with pytest.raises(ValueError, match="expected images of shape"):
        tiny(torch.zeros(2, 64), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be in 0 … 10"):
        tiny(torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), torch.tensor([0, 11]))
    with pytest.raises(ValueError, match="give labels, x_T or a positive number"):
        ddpm_sample(tiny, s)
    with pytest.raises(ValueError, match="n=3 but 2 labels"):
        ddim_sample(tiny, s, torch.tensor([1, 2]), n=3, steps=5)
    with pytest.raises(ValueError, match="labels must be in 0 … 9"):
        ddim_sample(tiny, s, torch.tensor([1, 12]), steps=5)
    with pytest.raises(ValueError, match="x_T must have shape"):
        ddim_sample(tiny, s, x_T=torch.zeros(2, 1, 4, 4), steps=5)
    with pytest.raises(ValueError, match=r"eta must be in \[0, inf\], got -1"):
        ddim_sample(tiny, s, n=2, eta=-1.0, steps=5)
    with pytest.raises(TypeError, match="schedule must be a NoiseSchedule"):
        ddpm_sample(tiny, "linear", n=2)
    with pytest.raises(TypeError, match="schedule must be a NoiseSchedule"):
        diffusion_step("linear")
    with pytest.raises(ValueError, match=r"p_uncond \(a probability\) must be in \[0, 1\], got 1.5"):
        diffusion_step(s, p_uncond=1.5)
