"""A small CNN for the 8×8 digits, and the course's shared, cached copy of it.

The trained classifier is the course's *measuring instrument* for generated
images: its penultimate features give the Fréchet distance and its softmax the
Inception-style score (the FID / IS recipe, on a network trained in the course
instead of Inception-v3). So that every chapter measures with the same
instrument, :func:`digits_classifier` always trains it with seed 0 and caches
the weights in ``<data dir>/models``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.digits import check_digit_images

WEIGHTS_FILE = "digits_cnn_v1.safetensors"


class DigitsCNN(nn.Module):
    """Two conv layers, a 128-unit feature layer and a 10-way linear head.

    Input ``[B, 1, 8, 8]`` in [0, 1] → logits ``[B, 10]``.
    ``features(x)`` returns the 128-d penultimate activations ``[B, 128]``.
    """

    feature_dim = 128

    def __init__(self, channels: int = 32, dropout: float = 0.25):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),                                  # 8×8 → 4×4
            nn.Flatten(),
            nn.Linear(2 * channels * 16, self.feature_dim), nn.ReLU(),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(check_digit_images(x))  # shape and dtype only: no device sync

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


def train_digits_classifier(epochs: int = 30, seed: int = 0, device=None, progress: bool = False):
    """Train a fresh :class:`DigitsCNN` on the digits' train split (≈ 5 s on 2 CPU cores).

    Returns ``(model, history)``; the model is in eval mode.
    """
    from ..data import load_digits
    from ..train import fit

    digits = load_digits()
    with torch.random.fork_rng(devices=[]):  # do not disturb the caller's random state
        torch.manual_seed(seed)
        model = DigitsCNN()
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        history = fit(model, digits.train, optimizer=opt, epochs=epochs, batch_size=64,
                      val_data=digits.val, device=device, seed=seed, progress=progress)
    return model.eval(), history


def digits_classifier(device=None, retrain: bool = False) -> DigitsCNN:
    """The course's trained digits classifier (trained once, then loaded from the cache).

    Args:
        device: where to put it (default: the course's device).
        retrain: ignore the cached weights and train again.

    Returns:
        a :class:`DigitsCNN` in eval mode (≈ 98 % test accuracy).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save_file

    from ..config import data_dir, get_device, private_tmp
    from ..validation import check_bool

    check_bool("retrain", retrain)
    # a torch.device is used as it is; a name goes through get_device, which checks it
    device = device if isinstance(device, torch.device) else get_device(device)
    path = data_dir() / "models" / WEIGHTS_FILE
    model = DigitsCNN()
    if path.exists() and not retrain:
        try:
            model.load_state_dict(load_file(str(path)))
            return model.to(device).eval()
        except (SafetensorError, RuntimeError, OSError) as err:  # corrupt or another version
            print(f"cached classifier at {path} could not be loaded ({err}); retraining")
    model, _ = train_digits_classifier(device="cpu")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = private_tmp(path)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(path)
    return model.to(device).eval()
