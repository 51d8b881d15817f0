"""Claims the pages make, checked: the memorisation check of 08 and the errata's numbers."""

import re
from pathlib import Path

import pytest
import torch

import aigc_course as ac
from aigc_course.metrics import memorisation_check, nearest_neighbour_distances

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    d = ac.data.load_digits()
    return d.train.x, d.val.x, d.test.x


# --------------------------------------------------------------------------- 08: memorisation
def test_nearest_neighbour_distances_are_exact_on_a_small_example():
    reference = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    images = torch.tensor([[0.0, 1.0], [3.0, 4.0], [6.0, 8.0]])
    got = nearest_neighbour_distances(images, reference, batch_size=2)  # two batches
    assert torch.allclose(got, torch.tensor([1.0, 0.0, 5.0], dtype=torch.float64))


def test_a_generator_that_copies_training_images_is_caught(digits):
    train, _, test = digits
    gen = torch.Generator().manual_seed(0)
    copies = train[torch.randint(0, len(train), (500,), generator=gen)]
    near_copies = (copies + 0.03 * torch.randn(copies.shape, generator=gen)).clamp(0, 1)
    for fake in (copies, near_copies):
        report = memorisation_check(fake, train, test)
        assert report["ratio"] < 0.3, report        # 08 asserts a ratio far above this
        assert report["near_copies"] > 0.9, report  # ... and few near copies


def test_new_real_images_pass_the_memorisation_check(digits):
    train, val, test = digits  # val plays the generator: real digits it never saw
    report = memorisation_check(val, train, test)
    assert 0.85 < report["ratio"] < 1.15, report
    assert report["near_copies"] < 0.15, report
    assert report["held_out_median"] > 0.5  # in pixels of [0, 1]: no held-out copies


def test_memorisation_check_names_what_is_wrong(digits):
    train, val, test = digits
    with pytest.raises(ValueError, match="different sizes: 63 vs 64"):
        nearest_neighbour_distances(val.flatten(1)[:, :63], train)
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 1\), got 1"):
        memorisation_check(val, train, test, quantile=1.0)
    with pytest.raises(ValueError, match="held_out contains copies of training images"):
        memorisation_check(val, train, train)
    with pytest.raises(ValueError, match=r"images must be a batch of images \[N, \.\.\.\]"):
        nearest_neighbour_distances(torch.empty(0, 64), train)
    with pytest.raises(ValueError, match="images contains NaN"):
        nearest_neighbour_distances(torch.full((2, 64), float("nan")), train)
    with pytest.raises(TypeError, match="must be a tensor or a numpy array, got list"):
        memorisation_check([[0.0]], train, test)


# --------------------------------------------------------------------------- errata E9
def test_errata_e9_heading_states_the_number_its_body_describes():
    """The body: summed per-batch accuracies of a coin-flip model give ≈ 5 for 10 batches."""
    text = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    heading = re.search(r'^## E9 · An "accuracy" of ([\d.]+)', text, re.MULTILINE)
    body = re.search(r"the test gets ≈ ([\d.]+)\s+for (\d+) batches", text)
    assert heading and body, "E9 should state the wrong 'accuracy' in its heading and its body"
    torch.manual_seed(0)
    preds, labels = torch.randint(0, 2, (300,)), torch.randint(0, 2, (300,))
    batches = list(zip(preds.split(32), labels.split(32)))
    summed = sum((p == y).sum().item() / y.size(0) for p, y in batches)
    assert len(batches) == int(body.group(2))
    assert float(heading.group(1)) == pytest.approx(summed, abs=0.5)
    assert float(body.group(1)) == pytest.approx(summed, abs=0.5)
