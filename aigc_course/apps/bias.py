"""A counterfactual bias probe: change only who a sentence is about, measure how the model moves.

Fill the same templates with terms from different groups (names, nationalities, ...). If the
model were indifferent to the group, every group would get the same scores, template by
template. The probe reports each group's mean score and the *counterfactual shift*: for each
template, the largest difference between two groups' scores on otherwise identical sentences::

    templates = ["{name} said the service was slow.", "{name} loved the new phone."]
    groups = {"group A": ["Emma", "Jack"], "group B": ["Wei", "Priya"]}
    report = counterfactual_probe(lambda texts: model.predict_proba(texts)[:, 1], templates, groups)
    report.max_gap, report.mean_abs_shift

Any function ``score(texts: list[str]) -> array [N]`` can be probed (a sentiment probability,
a toxicity score, a retrieval confidence...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BiasReport:
    """What :func:`counterfactual_probe` measured.

    Attributes:
        group_means: mean score per group over all templates and terms.
        per_template: ``[n_templates, n_groups]`` mean score of each group on each template.
        max_gap: largest difference between two groups' overall means.
        mean_abs_shift: mean over templates of (max − min group score): how far, on average,
            swapping the group moves the model's score on the same sentence.
        worst_template: the template with the largest shift, and that shift.
    """

    group_means: dict[str, float]
    per_template: np.ndarray
    max_gap: float
    mean_abs_shift: float
    worst_template: tuple[str, float]


def counterfactual_probe(score: Callable[[list[str]], Sequence[float]], templates: Sequence[str],
                         groups: Mapping[str, Sequence[str]], slot: str = "name") -> BiasReport:
    """Score every template filled with every term of every group; see :class:`BiasReport`.

    Args:
        score: maps a list of texts to one number per text.
        templates: sentences with a ``{slot}`` placeholder, e.g. ``"{name} was late again."``.
        groups: at least two groups, each a non-empty list of terms to put in the slot.
        slot: the placeholder's name.
    """
    if isinstance(templates, str):
        raise TypeError("templates must be a list of strings, not one string")
    templates = list(templates)
    placeholder = "{" + slot + "}"
    if not templates:
        raise ValueError("templates is empty")
    for t in templates:
        if not isinstance(t, str) or placeholder not in t:
            raise ValueError(f"every template must be a string containing {placeholder}, got {t!r}")
    if not isinstance(groups, Mapping) or len(groups) < 2:
        raise ValueError("groups must map at least two group names to lists of terms")
    for name, terms in groups.items():
        if isinstance(terms, str) or len(terms) == 0:
            raise ValueError(f"group {name!r} must be a non-empty list of terms, got {terms!r}")
    names = list(groups)
    texts, index = [], []
    for i, t in enumerate(templates):
        for g, name in enumerate(names):
            for term in groups[name]:
                texts.append(t.replace(placeholder, term))
                index.append((i, g))
    values = np.asarray(score(texts), dtype=np.float64).reshape(-1)
    if len(values) != len(texts):
        raise ValueError(f"score returned {len(values)} values for {len(texts)} texts")
    sums = np.zeros((len(templates), len(names)))
    counts = np.zeros_like(sums)
    for (i, g), v in zip(index, values):
        sums[i, g] += v
        counts[i, g] += 1
    per_template = sums / counts
    means = per_template.mean(axis=0)
    shifts = per_template.max(axis=1) - per_template.min(axis=1)
    worst = int(shifts.argmax())
    return BiasReport(
        group_means={name: float(m) for name, m in zip(names, means)},
        per_template=per_template,
        max_gap=float(means.max() - means.min()),
        mean_abs_shift=float(shifts.mean()),
        worst_template=(templates[worst], float(shifts[worst])),
    )
