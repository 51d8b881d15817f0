"""Bad inputs to the models and metrics fail at once, with a message that names the argument,
what it got and what it expects (issue 13, item 7)."""

import numpy as np
import pytest
import torch

from aigc_course import metrics
from aigc_course.data.digits import check_digit_images
from aigc_course.models import digits_classifier
from aigc_course.models import gan as G
from aigc_course.models import vae as V
from aigc_course.models.diffusion import Denoiser


def test_digits_classifier_rejects_an_unknown_device_by_name():
    with pytest.raises(ValueError, match=r"'tpu' is not a device name; expected one of \('cpu'"):
        digits_classifier(device="tpu")
    with pytest.raises(TypeError, match="retrain must be True or False, got str 'yes'"):
        digits_classifier(retrain="yes")


def test_frechet_distance_rejects_nan_features():
    a = np.random.default_rng(0).normal(size=(20, 4))
    b = a.copy()
    b[3, 1] = np.nan
    with pytest.raises(ValueError, match="features_b contains NaN or infinite values"):
        metrics.frechet_distance(a, b)
    with pytest.raises(ValueError, match="features_a contains NaN"):
        metrics.frechet_distance(torch.full((5, 4), float("inf")), a)


def test_float_gan_labels_are_a_dtype_problem_not_a_shape_problem():
    d = G.DCDiscriminator(8, num_classes=10)
    with pytest.raises(TypeError, match="labels must be an integer tensor .*, got torch.float32"):
        d(torch.rand(2, 1, 8, 8), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels must have shape \[2\], got \(3,\)"):
        d(torch.rand(2, 1, 8, 8), torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"labels must be in 0..9, got 0..12"):
        d(torch.rand(2, 1, 8, 8), torch.tensor([0, 12]))


def test_nan_images_stop_at_the_vae_loss():
    m = V.MLPVAE(latent_dim=2, hidden=8)
    x = torch.rand(4, 1, 8, 8)
    x[1, 0, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="images contain NaN or infinite pixels"):
        V.elbo_terms(m, x)
    with pytest.raises(ValueError, match="images contain NaN"):
        V.evaluate_elbo(m, x)
    with pytest.raises(ValueError, match=r"pixel values must be in \[0, 1\], got \[3, 3\]"):
        V.elbo_terms(m, torch.full((2, 1, 8, 8), 3.0))
    m(x)  # forward itself reads no values (no device sync in the hot path)


def test_check_digit_images():
    assert check_digit_images(torch.rand(3, 64)).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError, match=r"of shape \[B, 1, 8, 8\].*got \(3, 1, 28, 28\)"):
        check_digit_images(torch.rand(3, 1, 28, 28))
    with pytest.raises(TypeError, match="images must be floating point .*, got torch.int64"):
        check_digit_images(torch.ones(3, 1, 8, 8, dtype=torch.long))
    with pytest.raises(TypeError, match="images must be a tensor, got list"):
        check_digit_images([[0.0] * 64])


@pytest.mark.parametrize("t", [5000, -3])
def test_denoiser_rejects_a_time_step_outside_its_range(t):
    with pytest.raises(ValueError, match=rf"t \(time step\) must be an int in \[0, 999\], got {t}"):
        Denoiser(channels=8, blocks=1, emb_dim=8)(torch.zeros(2, 1, 8, 8), t)
    with pytest.raises(TypeError, match="t must hold integer time steps, got torch.float32"):
        Denoiser(channels=8, blocks=1, emb_dim=8)(torch.zeros(2, 1, 8, 8), torch.tensor([1.0, 2.0]))
