"""The write-it-yourself checks of notebooks 10 (DDPM sampling) and 12 (length regulator,
Griffin-Lim): the reference solutions pass, plausible mistakes fail with a message that says
what differs, and the untouched stub only prints a reminder."""

import math

import pytest
import torch

from aigc_course import audio, check
from aigc_course.exercises import diffusion, speech
from aigc_course.exercises.speech import griffin_lim_step_reference

CheckFailed = check.CheckFailed


# --------------------------------------------------------------------------- notebook 10
def _ddpm_loop(model, schedule, shape, generator, *, alpha_bar=None, sign=1.0, clip=True,
               variance="posterior", noise_at_zero=False, rng="generator"):
    """The ancestral loop of the notebook's solution, with switches for the usual mistakes."""
    x = torch.randn(shape, generator=generator)
    for t in reversed(range(schedule.T)):
        with torch.no_grad():
            eps = model(x, torch.full((shape[0],), t))
        ab = (alpha_bar or (lambda s: schedule.alpha_bars[s].item()))(t)
        ab_prev = schedule.alpha_bars[t - 1].item() if t > 0 else 1.0
        beta = schedule.betas[t].item()
        x0 = (x - sign * math.sqrt(1 - ab) * eps) / math.sqrt(ab)
        if clip:
            x0 = x0.clamp(-1, 1)
        mean = (math.sqrt(ab_prev) * beta / (1 - ab)) * x0 + \
            (math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab)) * x
        if t > 0 or noise_at_zero:
            var = (1 - ab_prev) / (1 - ab) * beta if variance == "posterior" else beta
            z = torch.randn(shape, generator=generator) if rng == "generator" else torch.randn(shape)
            x = mean + math.sqrt(var) * z
        else:
            x = mean
    return x


def ddpm_sample_solution(model, schedule, shape, generator):
    """The notebook's solution (the same code)."""
    x = torch.randn(shape, generator=generator)                  # x_{T-1} ~ N(0, I)
    for t in reversed(range(schedule.T)):                        # t = T-1, ..., 0
        with torch.no_grad():
            eps = model(x, torch.full((shape[0],), t))           # the predicted noise
        ab = schedule.alpha_bars[t].item()
        ab_prev = schedule.alpha_bars[t - 1].item() if t > 0 else 1.0
        beta = schedule.betas[t].item()
        x0 = ((x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)).clamp(-1, 1)
        mean = (math.sqrt(ab_prev) * beta / (1 - ab)) * x0 + \
            (math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab)) * x
        if t > 0:
            var = (1 - ab_prev) / (1 - ab) * beta
            x = mean + math.sqrt(var) * torch.randn(shape, generator=generator)
        else:
            x = mean                                             # no noise at the last step
    return x


def test_ddpm_solution_passes(capsys):
    diffusion.ddpm_sample(ddpm_sample_solution)
    diffusion.ddpm_sample(_ddpm_loop)
    assert capsys.readouterr().out.count("✅ ddpm_sample") == 2


@pytest.mark.parametrize("mistake", [
    {"variance": "beta", "noise_at_zero": True},       # sigma_t^2 = beta_t, noise added at t = 0 too
    {"alpha_bar": "alphas"},                        # alpha_t (= 1 - beta_t) where alpha-bar belongs
    {"alpha_bar": "betas"},                         # beta_t where alpha-bar belongs
    {"sign": -1.0},                                 # x0 = (x + sqrt(1 - ab) eps) / sqrt(ab)
    {"clip": False},                                # the package clips x0-hat to [-1, 1]
    {"rng": "global"},                              # noise from the global generator
])
def test_ddpm_mistakes_fail_with_a_message(mistake):
    def wrong(model, schedule, shape, generator):
        options = dict(mistake)
        if options.get("alpha_bar") == "alphas":
            options["alpha_bar"] = lambda t: schedule.alphas[t].item()
        elif options.get("alpha_bar") == "betas":
            options["alpha_bar"] = lambda t: 1 - schedule.betas[t].item()
        return _ddpm_loop(model, schedule, shape, generator, **options)

    with pytest.raises(CheckFailed, match="ddpm_sample: the result: .* values differ") as info:
        diffusion.ddpm_sample(wrong)
    assert "no noise at t = 0" in str(info.value) and "generator" in str(info.value)


def test_ddpm_wrong_shape_is_named():
    with pytest.raises(CheckFailed, match=r"expected shape \(4, 1, 8, 8\), got shape \(4, 64\)"):
        diffusion.ddpm_sample(lambda model, schedule, shape, generator:
                          ddpm_sample_solution(model, schedule, shape, generator).flatten(1))


def test_ddpm_stub_only_reminds(capsys):
    def my_ddpm_sample(model, schedule, shape, generator):
        raise NotImplementedError

    diffusion.ddpm_sample(my_ddpm_sample)
    assert "✏️ ddpm_sample: not written yet" in capsys.readouterr().out


# --------------------------------------------------------------------------- notebook 12
def length_regulator_solution(encodings, durations):
    """The notebook's solution (the same code)."""
    items = [torch.repeat_interleave(h, d, dim=0) for h, d in zip(encodings, durations)]
    return torch.nn.utils.rnn.pad_sequence(items, batch_first=True)   # zero frames at the end


def test_length_regulator_solution_passes(capsys):
    speech.length_regulator(length_regulator_solution)
    assert "✅ length_regulator" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, message", [
    (lambda e, d: torch.nn.utils.rnn.pad_sequence(           # repeated along the features
        [torch.repeat_interleave(h, k, dim=1) for h, k in zip(e, d)], batch_first=True),
     "your function raised RuntimeError"),
    (lambda e, d: torch.nn.utils.rnn.pad_sequence(           # off by one: d + 1 copies
        [torch.repeat_interleave(h, k + 1, dim=0) for h, k in zip(e, d)], batch_first=True),
     r"expected shape \(3, 9, 4\), got shape \(3, 14, 4\)"),
    (lambda e, d: torch.nn.utils.rnn.pad_sequence(           # the first item's durations for all
        [torch.repeat_interleave(h, d[0], dim=0) for h in e], batch_first=True),
     r"expected shape \(3, 9, 4\), got shape \(3, 7, 4\)"),
    (lambda e, d: torch.gather(e, 1, torch.searchsorted(     # padded with the last phoneme, not 0
        d.cumsum(1), torch.arange(int(d.sum(1).max())).expand(len(d), -1).contiguous(),
        right=True).clamp(max=d.shape[1] - 1)[..., None].expand(-1, -1, e.shape[2])),
     r"values differ; the largest difference is at index \[[01], [5-8], \d\]"),
])
def test_length_regulator_mistakes_fail_with_a_message(wrong, message):
    with pytest.raises(CheckFailed, match=message) as info:
        speech.length_regulator(wrong)
    assert "repeat_interleave" in str(info.value)   # the hint


def test_length_regulator_stub_only_reminds(capsys):
    def my_length_regulator(encodings, durations):
        raise NotImplementedError

    speech.length_regulator(my_length_regulator)
    assert "✏️ length_regulator: not written yet" in capsys.readouterr().out


def griffin_lim_step_solution(magnitude, phase, length):
    """The notebook's solution (the same code)."""
    wave = audio.istft(magnitude * phase, length)     # the target magnitude, the current phase
    spec = audio.stft(wave)                           # what that waveform really contains
    return spec / spec.abs().clamp(min=1e-8)          # keep its phase, modulus 1


def test_griffin_lim_solution_passes(capsys):
    speech.griffin_lim_step(griffin_lim_step_solution)
    speech.griffin_lim_step(lambda m, p, n: torch.polar(torch.ones_like(m), audio.stft(
        audio.istft(m * p, n)).angle()))           # via the angles: the same phase
    assert capsys.readouterr().out.count("✅ griffin_lim_step") == 2


@pytest.mark.parametrize("n_iter", [1, 3])
def test_griffin_lim_reference_is_the_package_loop(n_iter):
    """Iterating the reference step from griffin_lim's random start gives griffin_lim itself
    (without momentum): the check compares with the package's algorithm, not a copy of its own."""
    t = torch.arange(4096) / audio.SAMPLE_RATE
    magnitude = audio.stft(0.4 * torch.sin(2 * torch.pi * 330.0 * t)).abs()
    length = (magnitude.shape[1] - 1) * audio.HOP_LENGTH
    gen = torch.Generator().manual_seed(3)
    phase = torch.exp(2j * torch.pi * torch.rand(magnitude.shape, generator=gen))
    for _ in range(n_iter):
        phase = griffin_lim_step_reference(magnitude, phase, length)
    ours = audio.istft(magnitude * phase, length)
    package = audio.griffin_lim(magnitude, n_iter=n_iter, momentum=0.0, seed=3)
    torch.testing.assert_close(ours, package, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("wrong, message", [
    (lambda m, p, n: p,                                              # keeps the old phase
     "griffin_lim_step: the result: .* values differ"),
    (lambda m, p, n: audio.stft(audio.istft(m * p, n)),              # not normalised to modulus 1
     "griffin_lim_step: the result: .* values differ"),
    (lambda m, p, n: audio.stft(audio.istft(m * p, n)).angle(),      # angles, not e^(i angle)
     "expected the new phase as a complex tensor"),
    (lambda m, p, n: audio.stft(audio.istft(m * p.conj(), n)) / 1.0,  # wrong sign of the phase
     "griffin_lim_step: the result: .* values differ"),
])
def test_griffin_lim_mistakes_fail_with_a_message(wrong, message):
    with pytest.raises(CheckFailed, match=message) as info:
        speech.griffin_lim_step(wrong)
    assert "NEW phase" in str(info.value) or "torch.polar" in str(info.value)


def test_griffin_lim_stub_only_reminds(capsys):
    def my_griffin_lim_step(magnitude, phase, length):
        raise NotImplementedError

    speech.griffin_lim_step(my_griffin_lim_step)
    assert "✏️ griffin_lim_step: not written yet" in capsys.readouterr().out


def test_the_checks_are_reached_as_ac_check():
    """The notebooks call them as ``ac.check.<name>`` (found through each module's __all__)."""
    assert check.ddpm_sample is diffusion.ddpm_sample
    assert check.length_regulator is speech.length_regulator
    assert check.griffin_lim_step is speech.griffin_lim_step
