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

from .validation import check_finite


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


def gaussian_stats(features, name: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` of finite features ``[N, D]`` (float64)."""
    f = _to_numpy(features, name).astype(np.float64)
    if f.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D], got {f.shape}")
    if len(f) < 2:
        raise ValueError(f"{name}: need at least 2 feature vectors to estimate a covariance, "
                         f"got {len(f)}")
    check_finite(name, f)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``[N, D]``, ``[M, D]``.

    .. math:: d^2 = \\lVert \\mu_a - \\mu_b \\rVert^2
              + \\operatorname{tr}\\left(\\Sigma_a + \\Sigma_b - 2 (\\Sigma_a \\Sigma_b)^{1/2}\\right)
    """
    from scipy import linalg

    mu_a, cov_a = gaussian_stats(features_a, "features_a")
    mu_b, cov_b = gaussian_stats(features_b, "features_b")
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


# --------------------------------------------------------------------------- generative images
@torch.no_grad()
def digits_probabilities(images, classifier=None, batch_size: int = 512) -> torch.Tensor:
    """Softmax ``[N, 10]`` of the course's digits classifier for images ``[N, 1, 8, 8]`` in [0, 1]."""
    from .models.classifier import digits_classifier

    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if len(images) == 0:
        raise ValueError("no images given")
    classifier = classifier or digits_classifier()
    device = next(classifier.parameters()).device
    classifier.eval()
    out = [torch.softmax(classifier(images[i:i + batch_size].float().to(device)), dim=1).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out)


def inception_score(probabilities) -> float:
    """Inception-style score ``exp(E_x KL(p(y|x) || p(y)))`` of class probabilities ``[N, C]``.

    It is 1 when every image gets the same prediction and ``C`` when predictions are
    confident (one-hot) and spread evenly over the ``C`` classes. It never looks at real
    data: ten perfect class prototypes score ``C`` too, so always report it beside a
    distance to real data (:func:`frechet_distance`).
    """
    p = _to_numpy(probabilities, "probabilities").astype(np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probabilities must have shape [N, C] with N ≥ 1, got {p.shape}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("each row of probabilities must be non-negative and sum to 1 (apply softmax first)")
    marginal = p.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0).sum(axis=1)
    return float(np.exp(kl.mean()))


def class_coverage(labels, num_classes: int = 10, min_share: float = 0.02) -> float:
    """Share of the ``num_classes`` classes that get at least ``min_share`` of ``labels``.

    ``labels``: predicted classes ``[N]`` or probabilities ``[N, C]`` (arg-max is taken).
    1.0 means every class is generated; a mode-collapsed generator scores low.
    """
    y = _to_numpy(labels, "labels")
    if y.ndim == 2:
        y = y.argmax(axis=1)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"labels must have shape [N] or [N, C] with N ≥ 1, got {y.shape}")
    if not 0 <= min_share < 1:
        raise ValueError(f"min_share must be in [0, 1), got {min_share!r}")
    counts = np.bincount(y.astype(np.int64), minlength=num_classes)[:num_classes]
    return float((counts / len(y) >= max(min_share, 1e-12)).mean())


def precision_recall(real_features, fake_features, k: int = 3) -> tuple[float, float]:
    """k-nearest-neighbour precision and recall of generated vs real features (Kynkäänniemi et al. 2019).

    *Precision*: share of generated points inside the real data's k-NN balls (quality).
    *Recall*: share of real points inside the generated data's k-NN balls (diversity).
    Identical sets give (1, 1); a generator stuck on one mode gives high precision, low recall.
    """
    real = torch.as_tensor(_to_numpy(real_features, "real_features"), dtype=torch.float64)
    fake = torch.as_tensor(_to_numpy(fake_features, "fake_features"), dtype=torch.float64)
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected features [N, D] and [M, D], got {tuple(real.shape)} and {tuple(fake.shape)}")
    if not isinstance(k, int) or k < 1 or k >= min(len(real), len(fake)):
        raise ValueError(f"k must be an int in [1, {min(len(real), len(fake)) - 1}], got {k!r}")

    def radii(x):  # distance to the k-th nearest other point
        return torch.cdist(x, x).kthvalue(k + 1, dim=1).values

    def inside(points, centres, r):
        return (torch.cdist(points, centres) <= r[None, :]).any(dim=1).double().mean().item()

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def digits_report(images, reference, classifier=None) -> dict:
    """FD (to ``reference`` images), Inception-style score, class coverage, precision and recall."""
    from .models.classifier import digits_classifier

    classifier = classifier or digits_classifier()
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    feats, ref = digits_features(images, classifier), digits_features(reference, classifier)
    probs = digits_probabilities(images, classifier)
    precision, recall = precision_recall(ref, feats)
    return {"fd": frechet_distance(ref, feats), "is": inception_score(probs),
            "coverage": class_coverage(probs), "precision": precision, "recall": recall}


def digits_reference_points(reference, held_out, labels=None, n: int | None = None,
                            seed: int = 0, classifier=None) -> dict:
    """The numbers a generated set must be read against, as ``{name: digits_report(...)}``.

    * ``noise``: uniform noise in [0, 1];
    * ``per-pixel Gaussian``: each pixel drawn independently with the reference's mean and
      standard deviation (right marginals, no strokes);
    * ``class means``: the ten mean digits (of ``reference``, needs ``labels``), repeated —
      blurry prototypes with a high Inception-style score: why IS alone can be gamed;
    * ``real vs real``: ``held_out`` real images (the best a generator can hope for).

    Every set has ``n`` images (default ``len(held_out)``) so FDs are comparable.
    """
    ref = reference if isinstance(reference, torch.Tensor) else torch.as_tensor(np.asarray(reference))
    held = held_out if isinstance(held_out, torch.Tensor) else torch.as_tensor(np.asarray(held_out))
    if ref.dim() != 4 or tuple(ref.shape[1:]) != (1, 8, 8) or tuple(held.shape[1:]) != (1, 8, 8):
        raise ValueError(f"expected images [N, 1, 8, 8]; got {tuple(ref.shape)} and {tuple(held.shape)}")
    n = n or len(held)
    if n < 2 or n > len(held):
        raise ValueError(f"n must be between 2 and len(held_out) = {len(held)}, got {n}")
    gen = torch.Generator().manual_seed(seed)
    ref = ref.float().cpu()
    sets = {
        "noise": torch.rand((n, 1, 8, 8), generator=gen),
        "per-pixel Gaussian": (ref.mean(0) + ref.std(0) * torch.randn((n, 1, 8, 8), generator=gen)).clamp(0, 1),
    }
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels))
        means = torch.stack([ref[labels == c].mean(0) for c in range(10)])
        sets["class means"] = means[torch.arange(n) % 10]
    sets["real vs real"] = held[torch.randperm(len(held), generator=gen)[:n]].float().cpu()
    return {name: digits_report(x, ref, classifier) for name, x in sets.items()}


def format_report(results: dict) -> str:
    """A small text table of ``{name: digits_report(...)}`` (the notebooks print it)."""
    lines = [f"{'':24s} {'FD ↓':>8s} {'IS ↑':>6s} {'classes':>8s} {'precision':>10s} {'recall':>7s}"]
    for name, r in results.items():
        lines.append(f"{name:24s} {r['fd']:8.2f} {r['is']:6.2f} {r['coverage']:8.0%} "
                     f"{r['precision']:10.2f} {r['recall']:7.2f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- text overlap (ch. 13)
def _check_text_pairs(hypotheses, references) -> tuple[list[str], list[str]]:
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references must be lists of strings, not single strings")
    hyps, refs = list(hypotheses), list(references)
    if len(hyps) != len(refs):
        raise ValueError(f"hypotheses ({len(hyps)}) and references ({len(refs)}) have different lengths")
    if not hyps:
        raise ValueError("need at least one hypothesis/reference pair")
    if not all(isinstance(t, str) for t in hyps + refs):
        raise TypeError("every hypothesis and reference must be a string")
    return hyps, refs


def bleu(hypotheses, references) -> float:
    """Corpus BLEU (0–100) of ``hypotheses`` against one reference each, with ``sacrebleu``.

    BLEU is the geometric mean of 1- to 4-gram precisions times a brevity penalty
    (Papineni et al., 2002); sacrebleu fixes the tokenisation so scores compare across papers.
    """
    import sacrebleu

    hyps, refs = _check_text_pairs(hypotheses, references)
    return float(sacrebleu.corpus_bleu(hyps, [refs]).score)


def rouge(hypotheses, references, kinds=("rouge1", "rouge2", "rougeL")) -> dict[str, float]:
    """Mean ROUGE F1 (0–1) per kind, with Google's ``rouge-score`` (stemming on).

    ROUGE-N counts overlapping N-grams, ROUGE-L the longest common subsequence (Lin, 2004).
    """
    from rouge_score import rouge_scorer

    hyps, refs = _check_text_pairs(hypotheses, references)
    if isinstance(kinds, str) or not kinds:
        raise ValueError(f"kinds must be a non-empty list such as ('rouge1', 'rougeL'), got {kinds!r}")
    scorer = rouge_scorer.RougeScorer(list(kinds), use_stemmer=True)
    totals = dict.fromkeys(kinds, 0.0)
    for h, r in zip(hyps, refs):
        for kind, score in scorer.score(r, h).items():
            totals[kind] += score.fmeasure
    return {kind: total / len(hyps) for kind, total in totals.items()}


# --------------------------------------------------------------------------- memorisation (ch. 08)
def _flat_images(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(_to_numpy(x, name), dtype=torch.float64)
    if t.dim() < 2 or len(t) == 0:
        raise ValueError(f"{name} must be a batch of images [N, ...] with N ≥ 1, "
                         f"got shape {tuple(t.shape)}")
    check_finite(name, t)
    return t.flatten(1)


def nearest_neighbour_distances(images, reference, batch_size: int = 1024) -> torch.Tensor:
    """Euclidean pixel distance ``[N]`` from each of ``images [N, ...]`` to its nearest image in
    ``reference [M, ...]`` (same image shape, e.g. ``[1, 8, 8]``)."""
    from .validation import check_int

    check_int("batch_size", batch_size)
    x, ref = _flat_images(images, "images"), _flat_images(reference, "reference")
    if x.shape[1] != ref.shape[1]:
        raise ValueError(f"images and reference have different sizes: {x.shape[1]} vs "
                         f"{ref.shape[1]} pixels per image")
    return torch.cat([torch.cdist(x[i:i + batch_size], ref).min(dim=1).values
                      for i in range(0, len(x), batch_size)])


def memorisation_check(generated, train, held_out, quantile: float = 0.05) -> dict:
    """Does a generator copy its training images? Compare distances to the nearest training image.

    For every generated image and every held-out real image (never trained on), take the pixel
    distance to its nearest training image. New real images show how close an image that was
    *not* copied typically comes; a generator that copies (or nearly copies) training images comes
    much closer. Returns

    * ``generated_median``, ``held_out_median``: the median of each set's distances;
    * ``ratio``: ``generated_median / held_out_median`` — about 1 without copying, 0 for copies;
    * ``near_copies``: share of generated images closer to a training image than the held-out
      images' ``quantile`` of distances — about ``quantile`` without copying, 1 for copies.
    """
    from .validation import check_number

    check_number("quantile", quantile, 0, 1, low_open=True, high_open=True)
    d_gen = nearest_neighbour_distances(generated, train)
    d_held = nearest_neighbour_distances(held_out, train)
    if d_held.median() <= 0:
        raise ValueError("held_out contains copies of training images: its median distance is 0")
    threshold = torch.quantile(d_held, quantile)
    return {"generated_median": d_gen.median().item(), "held_out_median": d_held.median().item(),
            "ratio": (d_gen.median() / d_held.median()).item(),
            "near_copies": (d_gen < threshold).double().mean().item()}
