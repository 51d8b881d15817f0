"""Equal-budget comparison of a lab's recipe with the tutorial recipe it replaces.

A :class:`Recipe` is three functions: ``setup(data, seed) -> state`` (models, optimizers,
batch iterators), ``train_step(state)`` (one optimisation step) and ``evaluate(state, data)
-> float`` (the lab's metric; eval mode, no gradient). :func:`run_recipe` trains a recipe for a
wall-clock budget — only the training steps count, evaluations pause the clock — and records
the steps it reached, the final metric and, if asked, the metric along the way. A recipe may
add ``extras(state, data) -> {name: number}``: further measures taken once, at the end (the GAN
lab's class match, for example), outside the budget like every evaluation.

Evaluations run with their own random numbers (the generators are seeded with the run's seed
for each evaluation and restored afterwards), so that evaluating along the way neither changes
the training that follows nor gives two recipes different sampling noise.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class Recipe:
    name: str                                   # "ours" or the tutorial's name
    source: str                                 # where the published hyper-parameters come from
    setup: Callable[[Any, int], Any]            # (data, seed) -> state
    train_step: Callable[[Any], None]           # one optimisation step on the state
    evaluate: Callable[[Any, Any], float]       # (state, data) -> the lab's metric
    notes: str = ""                             # the hyper-parameters, in one line
    extras: Callable[[Any, Any], dict] | None = None   # (state, data) -> {name: number}, at the end


@dataclass
class Lab:
    key: str                                    # "gan", "vae", "lstm", "gpt", "diffusion"
    notebook: str                               # the lab it belongs to, e.g. "08_gan_lab"
    metric: str                                 # e.g. "digits FD (1,000 samples)"
    lower_is_better: bool
    budget_s: float                             # training wall-clock budget at budget scale 1
    load_data: Callable[[int], Any]             # seed -> data (the same for every recipe)
    recipes: list[Recipe] = field(default_factory=list)   # [ours, theirs, ...]


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def _evaluation_rng(seed: int):
    """Seed Python's, NumPy's and torch's generators for an evaluation; restore them after."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())
                               if torch.cuda.is_initialized() else []):
        _seed_all(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def run_recipe(lab: Lab, recipe: Recipe, seed: int, budget_s: float, *, data=None,
               curve_points: int = 0, max_steps: int | None = None) -> dict:
    """Train ``recipe`` for ``budget_s`` seconds of training time; return what it reached.

    Returns ``{"recipe", "seed", "steps", "train_s", "eval_s", "wall_s", "metric", "curve",
    "extras"}``:
    ``train_s`` is the time spent in ``train_step`` (at least ``budget_s``, less than
    ``budget_s`` plus one step), ``eval_s`` the time spent evaluating, ``wall_s`` the whole run
    with setup (and loading the data if ``data`` is not given). ``curve`` lists ``(train
    seconds, metric)`` after the first step past each of ``curve_points`` evenly spaced moments
    of the budget, then at the end (evaluations are not counted in the budget). ``extras`` is
    ``recipe.extras(state, data)`` at the end (``{}`` without one). ``max_steps`` stops earlier
    (for tests).
    """
    if budget_s <= 0:
        raise ValueError(f"budget_s must be positive, got {budget_s}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    wall_start = time.perf_counter()
    data = lab.load_data(seed) if data is None else data
    _seed_all(seed)
    state = recipe.setup(data, seed)
    marks = [budget_s * (k + 1) / (curve_points + 1) for k in range(curve_points)]
    steps, trained, evaluating, curve = 0, 0.0, 0.0, []

    def evaluate(measure=lambda: float(recipe.evaluate(state, data))):
        nonlocal evaluating
        start = time.perf_counter()
        with _evaluation_rng(seed):
            value = measure()
        evaluating += time.perf_counter() - start
        return value

    while trained < budget_s and (max_steps is None or steps < max_steps):
        start = time.perf_counter()
        recipe.train_step(state)
        trained += time.perf_counter() - start
        steps += 1
        if marks and trained >= marks[0]:
            while marks and trained >= marks[0]:  # a long step may pass several marks: one point
                marks.pop(0)
            curve.append((round(trained, 3), evaluate()))
    if curve and curve[-1][0] == round(trained, 3):  # the last step's point is the final one
        metric = curve[-1][1]
    else:
        metric = evaluate()
        curve.append((round(trained, 3), metric))
    extras = {}
    if recipe.extras is not None:
        extras = {k: float(v) for k, v in evaluate(lambda: recipe.extras(state, data)).items()}
    return {"recipe": recipe.name, "seed": seed, "steps": steps, "train_s": round(trained, 3),
            "eval_s": round(evaluating, 3), "wall_s": round(time.perf_counter() - wall_start, 3),
            "metric": metric, "curve": curve, "extras": extras}


def digits_extras(images: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor,
                  classifier) -> dict:
    """The image labs' extras for samples ``images [N, 1, 8, 8]`` asked for digits ``labels [N]``:
    class match (share the classifier reads as the asked digit), Inception-style score, and the
    k-NN precision (quality) and recall (diversity) against ``reference`` in the classifier's
    features. A generator that draws a few good digits per class has a high class match and
    score but a low recall."""
    from ..metrics import (
        accuracy,
        digits_features,
        digits_probabilities,
        inception_score,
        precision_recall,
    )

    probs = digits_probabilities(images, classifier)
    precision, recall = precision_recall(digits_features(reference, classifier),
                                         digits_features(images, classifier))
    return {"class_match": accuracy(probs, labels), "IS": inception_score(probs),
            "precision": precision, "recall": recall}
