"""Numbers that say how good a model is.

* :func:`accuracy` — share of correct class predictions.
* :func:`frechet_distance` — distance between two sets of feature vectors, each
  summarised by a Gaussian (mean and covariance). With Inception-v3 features this
  is FID; the course uses the features of its own digits classifier
  (:func:`digits_frechet_distance`), the same recipe on a network trained here.
"""

from __future__ import annotations

import numpy as np
import torch


def _to_numpy(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a tensor or a numpy array, got {type(x).__name__}")
    return x


def accuracy(predictions, targets) -> float:
    """Share of ``predictions`` equal to ``targets``.

    ``predictions`` are class indices ``[N]`` or logits/probabilities ``[N, C]``
    (then the arg-max is taken); ``targets`` are class indices ``[N]``.
    """
    p = _to_numpy(predictions, "predictions")
    t = _to_numpy(targets, "targets")
    if p.ndim == 2:
        p = p.argmax(axis=1)
    if p.ndim != 1 or t.ndim != 1:
        raise ValueError(f"expected predictions [N] or [N, C] and targets [N]; got {p.shape} and {t.shape}")
    if len(p) != len(t):
        raise ValueError(f"predictions ({len(p)}) and targets ({len(t)}) have different lengths")
    if len(t) == 0:
        raise ValueError("accuracy of zero examples is undefined")
    return float((p == t).mean())


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` of features ``[N, D]`` (float64)."""
    f = _to_numpy(features, "features").astype(np.float64)
    if f.ndim != 2:
        raise ValueError(f"features must have shape [N, D], got {f.shape}")
    if len(f) < 2:
        raise ValueError(f"need at least 2 feature vectors to estimate a covariance, got {len(f)}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, D]``, ``[M, D]``.

    .. math:: d^2 = \\lVert \\mu_a - \\mu_b \\rVert^2
              + \\operatorname{tr}\\left(\\Sigma_a + \\Sigma_b - 2 (\\Sigma_a \\Sigma_b)^{1/2}\\right)
    """
    from scipy import linalg

    mu_a, cov_a = gaussian_stats(features_a)
    mu_b, cov_b = gaussian_stats(features_b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"feature sizes differ: {mu_a.shape[0]} vs {mu_b.shape[0]}")
    import warnings

    with warnings.catch_warnings():  # singular covariances (e.g. dead ReLU features) are expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(covmean).all():  # nearly singular: regularise slightly
            eps = 1e-6 * np.eye(len(mu_a))
            covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = covmean.real
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


@torch.no_grad()
def digits_features(images, classifier=None, batch_size: int = 512) -> torch.Tensor:
    """Penultimate features ``[N, 128]`` of the course's digits classifier.

    ``images``: ``[N, 1, 8, 8]`` (or ``[N, 64]``) with pixel values in [0, 1].
    """
    from .models.classifier import digits_classifier

    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    classifier = classifier or digits_classifier()
    device = next(classifier.parameters()).device
    classifier.eval()
    out = [classifier.features(images[i:i + batch_size].float().to(device)).cpu()
           for i in range(0, len(images), batch_size)]
    if not out:
        raise ValueError("no images given")
    return torch.cat(out)


def digits_frechet_distance(images_a, images_b, classifier=None) -> float:
    """Fréchet distance between two sets of 8×8 digit images, on the classifier's features."""
    return frechet_distance(digits_features(images_a, classifier), digits_features(images_b, classifier))
