"""The write-it-yourself checks of the maths chapters: 03 (divergences) and 04 (Gaussians).

For each check: the notebook's reference solution passes, the stub prints the reminder without
failing, and plausible wrong solutions fail with a message that names the mistake. The
references of ``aigc_course.exercises.divergences`` are cross-checked with scipy and by hand.
"""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import jensenshannon

from aigc_course import check
from aigc_course.check import CheckFailed
from aigc_course.exercises.divergences import (
    js_divergence_reference,
    optimal_discriminator_reference,
)


def stub(*args):
    raise NotImplementedError


# --- the references of notebook 03, against independent computations ------------------------

def test_js_reference_matches_scipy_and_hand_values():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(6, 5, generator=g, dtype=torch.float64)
    q = torch.rand(6, 5, generator=g, dtype=torch.float64)
    p, q = p / p.sum(-1, keepdim=True), q / q.sum(-1, keepdim=True)
    # scipy returns the Jensen–Shannon *distance*, the square root of the divergence (natural log)
    np.testing.assert_allclose(js_divergence_reference(p, q).numpy(),
                               jensenshannon(p.numpy(), q.numpy(), axis=-1) ** 2, rtol=1e-10)
    coins = js_divergence_reference(torch.tensor([0.5, 0.5], dtype=torch.float64),
                                    torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert coins.item() == pytest.approx(0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2)) + 0.5 * math.log(4 / 3))
    disjoint = js_divergence_reference(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]))
    assert disjoint.item() == pytest.approx(math.log(2))
    same = js_divergence_reference(torch.tensor([0.3, 0.7]), torch.tensor([0.3, 0.7]))
    assert same.item() == pytest.approx(0.0, abs=1e-12)


def test_optimal_discriminator_reference():
    d = optimal_discriminator_reference(torch.tensor([0.3, 0.0, 0.2]), torch.tensor([0.1, 0.5, 0.2]))
    torch.testing.assert_close(d, torch.tensor([0.75, 0.0, 0.5]))


@pytest.mark.parametrize("p, q, error", [
    ([0.5, 0.5], [1.0], ValueError),          # shapes differ
    ([0.5, 0.6], [0.5, 0.5], ValueError),     # does not sum to 1
    ([-0.5, 1.5], [0.5, 0.5], ValueError),    # negative
    ([1, 0], [0, 1], TypeError),              # integers
])
def test_js_reference_validates_its_inputs(p, q, error):
    with pytest.raises(error):
        js_divergence_reference(torch.tensor(p), torch.tensor(q))


def test_optimal_discriminator_reference_rejects_empty_points():
    with pytest.raises(ValueError, match="p \\+ q = 0"):
        optimal_discriminator_reference(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 1.0]))


# --- notebook 03: D* and JS -------------------------------------------------------------------

def optimal_discriminator_solution(p, q):
    return p / (p + q)


def js_divergence_solution(p, q):
    m = (p + q) / 2
    kl_p = torch.where(p > 0, p * torch.log(p / m), torch.zeros_like(p)).sum(-1)
    kl_q = torch.where(q > 0, q * torch.log(q / m), torch.zeros_like(q)).sum(-1)
    return 0.5 * kl_p + 0.5 * kl_q


def test_solutions_of_notebook_03_pass(capsys):
    check.optimal_discriminator(optimal_discriminator_solution)
    check.js_divergence(js_divergence_solution)
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and "❌" not in out


@pytest.mark.parametrize("name", ["optimal_discriminator", "js_divergence", "gaussian_kl", "reparameterize"])
def test_stubs_print_a_reminder(name, capsys):
    getattr(check, name)(stub)
    assert "not written yet" in capsys.readouterr().out


def js_in_bits(p, q):
    return js_divergence_solution(p, q) / math.log(2)


def js_without_half(p, q):
    return 2 * js_divergence_solution(p, q)


def js_naive_zeros(p, q):
    m = (p + q) / 2
    return 0.5 * (p * torch.log(p / m)).sum(-1) + 0.5 * (q * torch.log(q / m)).sum(-1)


def js_distance(p, q):
    return torch.as_tensor(jensenshannon(p.numpy(), q.numpy(), axis=-1), dtype=p.dtype)


def js_sum_over_rows(p, q):
    m = (p + q) / 2
    kl_p = torch.where(p > 0, p * torch.log(p / m), torch.zeros_like(p)).sum(0)
    kl_q = torch.where(q > 0, q * torch.log(q / m), torch.zeros_like(q)).sum(0)
    return 0.5 * kl_p + 0.5 * kl_q


@pytest.mark.parametrize("wrong, message", [
    (js_in_bits, "log base 2"),
    (js_without_half, "forgot the ½"),
    (js_naive_zeros, "NaN where p or q is 0"),
    (js_distance, "square root"),
    (js_sum_over_rows, "expected shape (4,), got shape (3,)"),
])
def test_wrong_js_divergence_fails_with_a_helpful_message(wrong, message):
    with pytest.raises(CheckFailed) as failure:
        check.js_divergence(wrong)
    assert message in str(failure.value)
    assert "values differ" in str(failure.value) or "shape" in str(failure.value)


@pytest.mark.parametrize("wrong, message", [
    (lambda p, q: q / (p + q), "swapped p and q"),
    (lambda p, q: p / q, "density ratio"),
])
def test_wrong_optimal_discriminator_fails_with_a_helpful_message(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.optimal_discriminator(wrong)


# --- notebook 04: the Gaussian KL and the reparameterised sample ---------------------------------

def gaussian_kl_solution(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=1)


def reparameterize_solution(mu, logvar):
    eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def test_solutions_of_notebook_04_pass(capsys):
    check.gaussian_kl(gaussian_kl_solution)
    check.reparameterize(reparameterize_solution)
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and "❌" not in out


@pytest.mark.parametrize("wrong, message", [
    (lambda mu, lv: 0.5 * (mu**2 + (0.5 * lv).exp() - lv - 1).sum(1), "standard deviation"),
    (lambda mu, lv: (mu**2 + lv.exp() - lv - 1).sum(1), "forgot the ½"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).mean(1), "averaged over the latent dimensions"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(0), "summed over the batch"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(), "summed over everything"),
    (lambda mu, lv: 0.5 * (mu**2 + (2 * lv).exp() - 2 * lv - 1).sum(1), "log σ instead of log σ²"),
])
def test_wrong_gaussian_kl_fails_with_a_helpful_message(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.gaussian_kl(wrong)


def test_gaussian_kl_over_the_batch_names_the_shape():
    with pytest.raises(CheckFailed, match=r"expected shape \(4,\), got shape \(3,\)"):
        check.gaussian_kl(lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(0))


@pytest.mark.parametrize("wrong, message", [
    (lambda mu, lv: mu + lv.exp() * torch.randn_like(mu), "exp\\(logvar\\), the variance"),
    (lambda mu, lv: mu + lv * torch.randn_like(mu), "logvar itself"),
    (lambda mu, lv: mu + (0.5 * lv).exp() * torch.rand_like(mu), "uniform noise"),
    (lambda mu, lv: (mu + (0.5 * lv).exp() * torch.randn_like(mu)).detach(), "no gradient reaches"),
    (lambda mu, lv: mu.detach() + (0.5 * lv).exp() * torch.randn_like(mu), "w.r.t. mu"),
])
def test_wrong_reparameterize_fails_with_a_helpful_message(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check.reparameterize(wrong)
