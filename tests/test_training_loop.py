"""``fit`` is the training loop that chapter 01 writes by hand.

The hand-written loop of notebook 01 (``TensorDataset`` + ``DataLoader`` with a seeded generator,
forward, loss, ``zero_grad``, ``backward``, ``step``; ``eval`` + ``no_grad`` for validation) and
``aigc_course.train.fit`` give the same loss at every step and the same validation losses, from
the same initial weights. A loop that forgets ``zero_grad`` gives different losses, so the
comparison can fail.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from aigc_course.train import fit

SEED, EPOCHS, BATCH = 3, 2, 16


def data():
    """70 examples (the last batch of each epoch has 6), 8 features, 3 classes; and 30 to validate."""
    g = torch.Generator().manual_seed(123)
    x, y = torch.randn(100, 8, generator=g), torch.randint(0, 3, (100,), generator=g)
    return (x[:70], y[:70]), (x[70:], y[70:])


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def train_step(model, x, y, optimizer):
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def forgetful_step(model, x, y, optimizer):
    """The same step without ``zero_grad``: gradients pile up from step to step."""
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def validate(model, loader):
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            total += F.cross_entropy(model(x), y).item() * len(x)
            n += len(x)
    model.train()
    return total / n


def by_hand(step=train_step):
    """Notebook 01's loop: per-step training losses and per-epoch validation losses."""
    (x, y), (vx, vy) = data()
    gen = torch.Generator()
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, generator=gen)
    val_loader = DataLoader(TensorDataset(vx, vy), batch_size=256)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    losses, val_losses = [], []
    model.train()
    for epoch in range(1, EPOCHS + 1):
        gen.manual_seed(SEED * 100_003 + epoch - 1)  # how fit seeds each epoch's shuffle
        for xb, yb in loader:
            losses.append(step(model, xb, yb, optimizer))
        val_losses.append(validate(model, val_loader))
    return losses, val_losses


def with_fit(seed=SEED, **kwargs):
    train, val = data()
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    return fit(model, train, val_data=val, epochs=EPOCHS, batch_size=BATCH, seed=seed,
               optimizer=optimizer, device="cpu", progress=False, **kwargs)


def test_fit_gives_the_losses_of_the_loop_written_by_hand():
    losses, val_losses = by_hand()
    history = with_fit()
    assert len(losses) == EPOCHS * 5  # ceil(70 / 16) = 5 batches per epoch, the last one kept
    assert history["loss"] == pytest.approx(losses, abs=1e-6)
    assert history["val_loss"] == pytest.approx(val_losses, abs=1e-6)
    assert len(set(losses)) == len(losses)  # the losses really move: the test compares something


def test_fit_with_the_hand_written_step_gives_the_same_losses():
    losses, _ = by_hand()

    def step(model, batch, optimizer):
        x, y = batch
        return {"loss": train_step(model, x, y, optimizer)}

    assert with_fit(step=step)["loss"] == pytest.approx(losses, abs=1e-6)


def test_a_loop_that_forgets_zero_grad_gives_different_losses():
    right, _ = by_hand()
    forgot, _ = by_hand(forgetful_step)
    # the first update uses a fresh gradient, so the first two losses agree; later ones differ
    assert forgot[:2] == pytest.approx(right[:2], abs=1e-6)
    assert max(abs(a - b) for a, b in zip(forgot[2:], right[2:])) > 1e-3
    assert with_fit()["loss"] != pytest.approx(forgot, abs=1e-6)


def test_another_shuffle_order_gives_different_losses():
    """The equality needs the same batches: with another seed, fit's first epoch differs."""
    losses, _ = by_hand()
    other = with_fit(seed=SEED + 1)["loss"]
    assert other[0] != pytest.approx(losses[0], abs=1e-6)
