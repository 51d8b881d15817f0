"""Plots used across the course: image grids and training curves.

Functions draw into a matplotlib ``Axes`` (a new figure when none is given)
and return it, so a notebook can add titles or combine plots.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .validation import check_int


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def image_grid(images, nrow: int | None = None, *, title: str | None = None, labels=None,
               ax=None, cmap: str = "gray_r", pad: int = 1):
    """Show images ``[N, H, W]`` or ``[N, C, H, W]`` (C = 1 or 3, values in [0, 1]) as a grid.

    ``labels`` (optional, length N) are written above each image.
    """
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        x = np.moveaxis(x, 1, -1)
    elif x.ndim == 3:
        x = x[..., None]
    else:
        raise ValueError(f"expected images of shape [N, H, W] or [N, C, H, W], got {x.shape}")
    n, h, w, c = x.shape
    if n == 0:
        raise ValueError("no images to show")
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    grid = np.ones(((h + pad) * ncol + pad, (w + pad) * nrow + pad, c), dtype=np.float32)
    grid *= 0.0 if cmap == "gray_r" else 1.0
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = x[i]
    ax = _axes(ax, (min(1.0 * nrow, 10), min(1.0 * ncol, 10)))
    ax.imshow(grid.squeeze(-1) if c == 1 else grid.clip(0, 1), cmap=cmap if c == 1 else None,
              vmin=0, vmax=1, interpolation="nearest")
    if labels is not None:
        for i, lab in enumerate(list(labels)[:n]):
            r, col = divmod(i, nrow)
            ax.text(pad + col * (w + pad) + w / 2, pad + r * (h + pad) - 0.3, str(lab),
                    ha="center", va="bottom", fontsize=7, color="tab:blue")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def loss_curves(history, keys=("loss",), *, smooth: int = 1, ax=None, title: str | None = None):
    """Plot per-step values (e.g. ``loss``) and per-epoch ``val_*`` values of a ``History``.

    ``smooth``: moving-average window (in steps) for the per-step curves.
    """
    if isinstance(keys, str):
        keys = (keys,)
    check_int("smooth", smooth)
    ax = _axes(ax, (6, 3.5))
    steps_per_epoch = max(1, len(history.steps) // max(1, len(history.epochs)))
    for key in keys:
        values = np.asarray(history[key], dtype=float)
        if key.startswith("val_"):
            ax.plot(np.arange(1, len(values) + 1) * steps_per_epoch, values, "o-", label=key)
        else:
            if smooth > 1 and len(values) >= smooth:
                values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
            ax.plot(np.arange(len(values)) + smooth, values, label=key, alpha=0.9)
    ax.set_xlabel("step")
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax
