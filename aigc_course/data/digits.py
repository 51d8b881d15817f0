"""The handwritten digits that ship with scikit-learn, as ready torch tensors.

1,797 greyscale images of 8×8 pixels (values 0..16 in the original, scaled here
to [0, 1]) with labels 0..9. The split is fixed (stratified, seed 0) so every
chapter sees the same train / validation / test images:

=======  ======
split    images
=======  ======
train    1,257
val        270
test       270
=======  ======

No download is needed: the data is part of the scikit-learn package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..validation import check_bool

IMAGE_SHAPE = (1, 8, 8)
NUM_CLASSES = 10


def check_digit_images(x, name: str = "images", *, values: bool = False) -> torch.Tensor:
    """``x`` must be digit images ``[B, 1, 8, 8]`` (or flat ``[B, 64]``, reshaped); returns them.

    Shape and dtype checks are free. ``values=True`` also reads the pixels (finite, in [0, 1]),
    which makes a GPU wait: ask for it where data comes in (a loss, a metric), not in ``forward``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    if x.dim() == 2 and x.shape[1] == 64:
        x = x.view(-1, *IMAGE_SHAPE)
    if x.dim() != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"expected {name} of shape [B, 1, 8, 8] (or [B, 64]), "
                         f"got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point (pixels in [0, 1]), got {x.dtype}")
    if values and x.numel():
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contain NaN or infinite pixels; expected values in [0, 1]")
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"{name}: pixel values must be in [0, 1], got "
                             f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
    return x


@dataclass
class TensorSplit:
    """Inputs ``x`` and labels ``y`` of one split (shapes ``[N, ...]`` and ``[N]``)."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} rows but y has {len(self.y)}")

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device) -> TensorSplit:
        return TensorSplit(self.x.to(device), self.y.to(device))

    def dataset(self) -> TensorDataset:
        return TensorDataset(self.x, self.y)

    def loader(self, batch_size: int = 64, shuffle: bool = False, seed: int = 0) -> DataLoader:
        """A ``DataLoader`` over ``(x, y)`` batches; shuffling is seeded (reproducible)."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(self.dataset(), batch_size=batch_size, shuffle=shuffle, generator=generator)


@dataclass
class Splits:
    """The fixed train / val / test splits of a dataset."""

    train: TensorSplit
    val: TensorSplit
    test: TensorSplit

    def to(self, device) -> Splits:
        return Splits(self.train.to(device), self.val.to(device), self.test.to(device))


def load_digits(flat: bool = False, device=None) -> Splits:
    """Load the digits as float32 images in [0, 1] and int64 labels.

    Args:
        flat: return ``x`` as ``[N, 64]`` vectors instead of ``[N, 1, 8, 8]`` images.
        device: move the tensors there (default: keep them on the CPU).

    Returns:
        :class:`Splits` with ``train`` (1,257), ``val`` (270) and ``test`` (270).
    """
    check_bool("flat", flat)
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    idx = np.arange(len(x))
    idx_train, idx_rest = train_test_split(idx, test_size=540, stratify=y, random_state=0)
    idx_val, idx_test = train_test_split(idx_rest, test_size=270, stratify=y[idx_rest], random_state=0)

    def make(ids) -> TensorSplit:
        xs = torch.from_numpy(x[ids])
        xs = xs.reshape(len(ids), 64) if flat else xs.unsqueeze(1)
        return TensorSplit(xs, torch.from_numpy(y[ids]))

    splits = Splits(make(idx_train), make(idx_val), make(idx_test))
    return splits.to(device) if device is not None else splits
