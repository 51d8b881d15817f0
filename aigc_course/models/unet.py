"""A ``diffusers`` U-Net as a drop-in denoiser for the diffusion lab (full profile).

:class:`UNetDenoiser` wraps ``diffusers.UNet2DModel`` behind the interface of
:class:`aigc_course.models.diffusion.Denoiser`: ``forward(x, t, y=None)`` returns the predicted
noise and ``null_label`` is the class index that means "no label". So everything written for
the compact denoiser works unchanged: ``fit(unet, ..., step=diffusion_step(schedule))`` trains
it, and ``ddpm_sample`` / ``ddim_sample`` (with classifier-free guidance) sample from it.

``diffusers`` is imported only when a U-Net is built.
"""

from __future__ import annotations

import torch
from torch import nn

from ..validation import check_int, check_tensor

__all__ = ["UNetDenoiser", "unet_for_digits"]


class UNetDenoiser(nn.Module):
    """:math:`\\varepsilon_\\theta(x_t, t, y)` computed by a class-conditional ``UNet2DModel``.

    ``unet`` must have ``num_class_embeds = num_classes + 1`` (the last class is "no label").
    ``forward(x, t, y=None)``: ``x`` ``[B, C, H, W]`` in [-1, 1], ``t`` ``[B]`` (or one int)
    integer steps, ``y`` ``[B]`` labels in ``0 … num_classes`` (``None``: no label).
    Returns the predicted noise, same shape as ``x``.
    """

    def __init__(self, unet: nn.Module, num_classes: int = 10):
        super().__init__()
        check_int("num_classes", num_classes, low=1)
        embeds = getattr(getattr(unet, "config", None), "num_class_embeds", None)
        if embeds != num_classes + 1:
            raise ValueError(f"unet must have num_class_embeds = num_classes + 1 = "
                             f"{num_classes + 1} (the last class means 'no label'), got {embeds!r}")
        self.unet, self.num_classes = unet, num_classes

    @property
    def null_label(self) -> int:
        """The class index that means "no label" (for unconditional / guided sampling)."""
        return self.num_classes

    def forward(self, x: torch.Tensor, t, y: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor("x", x, dim=4, floating=True)
        b = len(x)
        t = torch.as_tensor(t, device=x.device).long()
        t = t.expand(b) if t.dim() == 0 else t
        if y is None:
            y = torch.full((b,), self.null_label, dtype=torch.long, device=x.device)
        if t.shape != (b,) or y.shape != (b,):
            raise ValueError(f"t and y must have shape [{b}], got {tuple(t.shape)} and "
                             f"{tuple(y.shape)}")
        return self.unet(x, t, class_labels=y).sample


def unet_for_digits(channels: tuple[int, int] = (32, 64), num_classes: int = 10) -> UNetDenoiser:
    """A small class-conditional U-Net for the ``[B, 1, 8, 8]`` digits.

    Two levels: a residual block at 8×8 with ``channels[0]`` channels, then one with
    self-attention at 4×4 with ``channels[1]`` channels, and back up. About 0.9 M parameters
    with the default ``(32, 64)``; ``channels=(8, 16)`` gives a tiny one for tests.
    """
    if len(channels) != 2:
        raise ValueError(f"channels must be two ints (8×8 level, 4×4 level), got {channels!r}")
    for c in channels:
        check_int("channels", c, low=8)
        if c % 8:
            raise ValueError(f"channels must be multiples of 8 (group norm), got {channels!r}")
    from diffusers import UNet2DModel

    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                       block_out_channels=tuple(channels), norm_num_groups=8,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"),
                       num_class_embeds=num_classes + 1)
    return UNetDenoiser(unet, num_classes)
