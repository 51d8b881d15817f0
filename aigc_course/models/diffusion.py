"""Denoising diffusion for the 8×8 digits: schedule, denoiser, training step, samplers.

The pieces, in the order the diffusion lab uses them:

* :class:`NoiseSchedule` — the variances :math:`\\beta_t` of the forward (noising) process,
  ``linear`` (Ho et al. 2020, rescaled to ``T`` steps) or ``cosine`` (Nichol & Dhariwal 2021),
  and the closed form :meth:`NoiseSchedule.q_sample` of :math:`q(x_t \\mid x_0)`.
* :class:`Denoiser` — a compact convolutional network
  :math:`\\varepsilon_\\theta(x_t, t, y)` that predicts the noise in ``x_t``, told the step
  ``t`` (sinusoidal embedding) and the class ``y`` (a learned embedding; the extra index
  ``num_classes`` means "no label", used for classifier-free guidance).
* :func:`diffusion_step` — a step function for :func:`aigc_course.train.fit`: the
  noise-prediction loss with label dropout.
* :func:`ddpm_sample` (ancestral, all ``T`` steps) and :func:`ddim_sample` (deterministic,
  few steps), both with a guidance weight ``w``; their single steps :func:`ddpm_step`
  and :func:`ddim_step` do what ``diffusers``' ``DDPMScheduler.step`` and
  ``DDIMScheduler.step`` do (``tests/test_diffusion.py`` checks it).

Conventions: time steps are ``0 … T-1`` (as in ``diffusers``), images enter the model
scaled to [-1, 1] (:func:`to_model_range`) and the samplers return them in [0, 1].
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..validation import check_int, check_number
from . import sampling

__all__ = [
    "Denoiser",
    "NoiseSchedule",
    "ddim_sample",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_sample",
    "ddpm_step",
    "diffusion_step",
    "guided_noise",
    "to_image_range",
    "to_model_range",
]


def to_model_range(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] → [-1, 1] (the range the denoiser works in)."""
    return x * 2.0 - 1.0


def to_image_range(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → pixels in [0, 1] (clamped)."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


# --------------------------------------------------------------------------- schedule
class NoiseSchedule:
    """The forward process :math:`q(x_t \\mid x_{t-1}) = \\mathcal N(\\sqrt{1-\\beta_t}\\,x_{t-1}, \\beta_t I)`.

    Holds ``betas`` ``[T]`` (float64, in (0, 1)), ``alphas = 1 - betas`` and
    ``alpha_bars`` (:math:`\\bar\\alpha_t = \\prod_{s \\le t} \\alpha_s`), so that
    :math:`q(x_t \\mid x_0) = \\mathcal N(\\sqrt{\\bar\\alpha_t}\\,x_0, (1-\\bar\\alpha_t) I)`.
    Build one with :meth:`linear` or :meth:`cosine`, or from your own ``betas``.
    """

    def __init__(self, betas):
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if len(betas) < 2:
            raise ValueError(f"a schedule needs at least 2 steps, got {len(betas)}")
        if not torch.isfinite(betas).all() or (betas <= 0).any() or (betas >= 1).any():
            raise ValueError("every beta must be a finite number strictly between 0 and 1")
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alpha_bars = torch.cumprod(self.alphas, dim=0)

    @property
    def T(self) -> int:
        return len(self.betas)

    def __repr__(self) -> str:
        return f"NoiseSchedule(T={self.T}, alpha_bar[T-1]={self.alpha_bars[-1].item():.2e})"

    @classmethod
    def linear(cls, T: int = 200, beta_start: float | None = None, beta_end: float | None = None):
        """Betas spaced linearly. Defaults: Ho et al.'s 1e-4 … 0.02 for T = 1000, scaled by
        1000 / T so that a shorter chain still ends in (almost) pure noise (capped at 0.999)."""
        _check_T(T)
        scale = 1000.0 / T
        beta_start = 1e-4 * scale if beta_start is None else beta_start
        beta_end = min(0.02 * scale, 0.999) if beta_end is None else beta_end
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start} and {beta_end}")
        return cls(torch.linspace(beta_start, beta_end, T, dtype=torch.float64))

    @classmethod
    def cosine(cls, T: int = 200, s: float = 0.008, max_beta: float = 0.999):
        """Nichol & Dhariwal's schedule: :math:`\\bar\\alpha(t) = \\cos^2\\big(\\frac{t/T + s}{1 + s}\\frac{\\pi}{2}\\big)`,
        betas :math:`1 - \\bar\\alpha(t+1)/\\bar\\alpha(t)` capped at ``max_beta``
        (the same as ``diffusers``' ``"squaredcos_cap_v2"``)."""
        _check_T(T)

        def f(t):
            return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

        return cls([min(1 - f(i + 1) / f(i), max_beta) for i in range(T)])

    def q_sample(self, x0: torch.Tensor, t, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Draw :math:`x_t \\sim q(x_t \\mid x_0)` in one go: :math:`\\sqrt{\\bar\\alpha_t}x_0 + \\sqrt{1-\\bar\\alpha_t}\\,\\varepsilon`.

        ``x0``: ``[B, ...]``; ``t``: an int or a ``[B]`` tensor of steps in ``0 … T-1``;
        ``noise``: the :math:`\\varepsilon` to use (default: fresh standard normal).
        """
        t = self._steps(t, len(x0), x0.device)
        if noise is None:
            noise = torch.randn_like(x0)
        elif noise.shape != x0.shape:
            raise ValueError(f"noise has shape {tuple(noise.shape)} but x0 has {tuple(x0.shape)}")
        ab = self.alpha_bars.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def noise_once(self, x_prev: torch.Tensor, t: int) -> torch.Tensor:
        """One forward step :math:`x_t \\sim q(x_t \\mid x_{t-1})` (to check the closed form)."""
        t = int(self._steps(t, 1, x_prev.device)[0])
        beta = float(self.betas[t])
        return math.sqrt(1 - beta) * x_prev + math.sqrt(beta) * torch.randn_like(x_prev)

    def _steps(self, t, batch: int, device) -> torch.Tensor:
        if isinstance(t, bool) or not isinstance(t, (int, torch.Tensor)):
            raise TypeError(f"t must be an int or a tensor of ints, got {type(t).__name__}")
        t = torch.as_tensor(t, device=device)
        if t.is_floating_point():
            raise TypeError("t must hold integer time steps, got a floating-point tensor")
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t must be an int or have shape [{batch}], got {tuple(t.shape)}")
        if t.device.type == "cpu" and ((t < 0).any() or (t >= self.T).any()):  # free on the CPU
            raise ValueError(f"time steps must be in 0 … {self.T - 1}, got {t.min().item()} … {t.max().item()}")
        return t.long()


def _check_T(T) -> None:
    check_int("T (number of diffusion steps)", T, low=2)


# --------------------------------------------------------------------------- denoiser
def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[B, dim]`` of integer steps ``t`` ``[B]`` (as Transformer positions)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class _Block(nn.Module):
    """Residual block: norm → SiLU → conv, add the (time + class) embedding, norm → SiLU → conv."""

    def __init__(self, channels: int, emb_dim: int):
        super().__init__()
        groups = 8 if channels % 8 == 0 else 1
        self.norm1, self.conv1 = nn.GroupNorm(groups, channels), nn.Conv2d(channels, channels, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * channels)
        self.norm2, self.conv2 = nn.GroupNorm(groups, channels), nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return x + self.conv2(F.silu(h))


class Denoiser(nn.Module):
    """A compact conv denoiser :math:`\\varepsilon_\\theta(x_t, t, y)` for ``[B, 1, 8, 8]`` images.

    ``blocks`` residual blocks of ``channels`` channels at full resolution (8×8 is small
    enough that no down-sampling is needed: four blocks see 17×17 pixels). The step ``t``
    and the class ``y`` are embedded, summed and injected into every block as a per-channel
    scale and shift.

    ``forward(x, t, y=None)``: ``x`` ``[B, 1, 8, 8]`` (scaled to [-1, 1]), ``t`` ``[B]``
    integer steps, ``y`` ``[B]`` class indices in ``0 … num_classes`` where ``num_classes``
    means "no label" (``y=None``: no label for every image). Returns the predicted noise
    ``[B, 1, 8, 8]``. An int ``t`` must lie in ``0 … max_steps-1`` (the longest schedule it
    serves); a tensor ``t`` is checked by the schedule and samplers that make it (reading it here
    would make a GPU wait at every call).
    """

    def __init__(self, channels: int = 64, blocks: int = 4, num_classes: int = 10,
                 emb_dim: int = 128, max_steps: int = 1000):
        super().__init__()
        for name, v in (("channels", channels), ("blocks", blocks), ("emb_dim", emb_dim),
                        ("max_steps", max_steps)):
            check_int(name, v)
        check_int("num_classes (0: unconditional)", num_classes, low=0)
        self.num_classes, self.emb_dim, self.max_steps = num_classes, emb_dim, max_steps
        self.time_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim)   # last row: "no label"
        self.inp = nn.Conv2d(1, channels, 3, padding=1)
        self.blocks = nn.ModuleList(_Block(channels, emb_dim) for _ in range(blocks))
        self.out = nn.Sequential(nn.GroupNorm(8 if channels % 8 == 0 else 1, channels), nn.SiLU(),
                                 nn.Conv2d(channels, 1, 3, padding=1))

    @property
    def null_label(self) -> int:
        """The class index that means "no label" (for unconditional / guided sampling)."""
        return self.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected images of shape [B, 1, H, W], got {tuple(x.shape)}")
        b = len(x)
        if isinstance(t, (bool, int)):
            check_int("t (time step)", t, low=0, high=self.max_steps - 1)
        t = torch.as_tensor(t, device=x.device)
        if t.is_floating_point():
            raise TypeError(f"t must hold integer time steps, got {t.dtype}")
        if t.dim() == 0:
            t = t.expand(b)
        if y is None:
            y = torch.full((b,), self.null_label, dtype=torch.long, device=x.device)
        if t.shape != (b,) or y.shape != (b,):
            raise ValueError(f"t and y must have shape [{b}], got {tuple(t.shape)} and {tuple(y.shape)}")
        if y.device.type == "cpu" and ((y < 0).any() or (y > self.num_classes).any()):  # free here
            raise ValueError(f"labels must be in 0 … {self.num_classes} ({self.num_classes} = no label)")
        emb = self.time_mlp(timestep_embedding(t, self.emb_dim)) + self.label_emb(y)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)


# --------------------------------------------------------------------------- training
def diffusion_step(schedule: NoiseSchedule, p_uncond: float = 0.1, grad_clip: float | None = 1.0):
    """A step function for :func:`aigc_course.train.fit`: the noise-prediction objective.

    For a batch ``(x, y)`` of images in [0, 1] and labels: draw :math:`t \\sim U\\{0..T-1\\}`
    and :math:`\\varepsilon \\sim \\mathcal N(0, I)`, form :math:`x_t` in closed form and minimise
    :math:`\\lVert \\varepsilon - \\varepsilon_\\theta(x_t, t, y) \\rVert^2`. With probability
    ``p_uncond`` a label is replaced by "no label", so the same network also learns the
    unconditional model that classifier-free guidance needs. Logs ``loss``.
    """
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    check_number("p_uncond (a probability)", p_uncond, 0.0, 1.0)
    from ..train import clip_and_step

    def step(model, batch, optimizer):
        x, y = batch
        x0 = to_model_range(x)
        t = torch.randint(0, schedule.T, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        xt = schedule.q_sample(x0, t, noise)
        drop = torch.rand(len(y), device=y.device) < p_uncond
        y = torch.where(drop, torch.full_like(y, model.null_label), y)
        loss = F.mse_loss(model(xt, t, y), noise)
        clip_and_step(loss, optimizer, model.parameters(), grad_clip)
        return {"loss": loss.detach()}

    return step


# --------------------------------------------------------------------------- sampling
def guided_noise(model: nn.Module, x: torch.Tensor, t, labels: torch.Tensor | None,
                 guidance: float = 0.0) -> torch.Tensor:
    """The noise prediction, with classifier-free guidance of weight ``w = guidance``.

    :math:`\\tilde\\varepsilon = (1 + w)\\,\\varepsilon_\\theta(x_t, t, y) - w\\,\\varepsilon_\\theta(x_t, t, \\varnothing)`
    (Ho & Salimans 2022): ``w = 0`` is the plain conditional model, larger ``w`` pushes the
    sample towards what makes it look like class ``y``. ``labels=None`` is unconditional.
    """
    b = len(x)
    t = torch.as_tensor(t, device=x.device).long()
    t = t.expand(b) if t.dim() == 0 else t
    if labels is None or guidance == 0:
        return model(x, t, labels)
    null = torch.full_like(labels, model.null_label)
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null]))
    cond, uncond = both.chunk(2)
    return (1 + guidance) * cond - guidance * uncond


def _predict_x0(schedule, x, eps, t: int, clip: bool):
    ab = float(schedule.alpha_bars[t])
    x0 = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
    return x0.clamp(-1.0, 1.0) if clip else x0


def ddpm_step(schedule: NoiseSchedule, eps: torch.Tensor, t: int, x: torch.Tensor,
              noise: torch.Tensor | None = None, clip: bool = True) -> torch.Tensor:
    """One ancestral step :math:`x_{t-1} \\sim p_\\theta(x_{t-1} \\mid x_t)`.

    Estimate :math:`\\hat x_0` from the predicted noise (clipped to [-1, 1]), take the mean of
    the true posterior :math:`q(x_{t-1} \\mid x_t, \\hat x_0)` and add noise of variance
    :math:`\\tilde\\beta_t = \\frac{1-\\bar\\alpha_{t-1}}{1-\\bar\\alpha_t}\\beta_t` (none at ``t = 0``).
    Equals ``diffusers.DDPMScheduler.step`` (``variance_type="fixed_small"``).
    """
    ab = float(schedule.alpha_bars[t])
    ab_prev = float(schedule.alpha_bars[t - 1]) if t > 0 else 1.0
    beta = 1.0 - ab / ab_prev
    x0 = _predict_x0(schedule, x, eps, t, clip)
    mean = (math.sqrt(ab_prev) * beta / (1 - ab)) * x0 + (math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab)) * x
    if t == 0:
        return mean
    if noise is None:
        noise = torch.randn_like(x)
    var = max((1 - ab_prev) / (1 - ab) * beta, 1e-20)
    return mean + math.sqrt(var) * noise


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """The ``steps`` time steps DDIM visits, from noisy to clean: ``(steps-1)·k, …, k, 0`` with
    ``k = T // steps`` (``diffusers``' default ``"leading"`` spacing)."""
    _check_T(T)
    check_int(f"steps (at most T={T})", steps, low=1, high=T)
    k = T // steps
    return [i * k for i in reversed(range(steps))]


def ddim_step(schedule: NoiseSchedule, eps: torch.Tensor, t: int, t_prev: int, x: torch.Tensor,
              eta: float = 0.0, noise: torch.Tensor | None = None, clip: bool = True,
              clipped_eps: bool = True) -> torch.Tensor:
    """One DDIM step from ``t`` to ``t_prev`` (``t_prev < 0``: to the clean image).

    :math:`x_{t'} = \\sqrt{\\bar\\alpha_{t'}}\\,\\hat x_0 + \\sqrt{1-\\bar\\alpha_{t'}-\\sigma^2}\\,\\hat\\varepsilon + \\sigma z`
    with :math:`\\sigma = \\eta\\sqrt{\\tfrac{1-\\bar\\alpha_{t'}}{1-\\bar\\alpha_t}(1-\\tfrac{\\bar\\alpha_t}{\\bar\\alpha_{t'}})}`:
    ``eta = 0`` is deterministic, ``eta = 1`` matches DDPM's noise level.
    ``clipped_eps``: re-derive :math:`\\hat\\varepsilon` from the clipped :math:`\\hat x_0`, so
    that the step stays consistent when guidance makes the raw prediction overshoot.
    Equals ``diffusers.DDIMScheduler.step(..., use_clipped_model_output=clipped_eps)``.
    """
    ab = float(schedule.alpha_bars[t])
    ab_prev = float(schedule.alpha_bars[t_prev]) if t_prev >= 0 else 1.0
    x0 = _predict_x0(schedule, x, eps, t, clip)
    if clip and clipped_eps:
        eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
    sigma = eta * math.sqrt(max((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev), 0.0))
    out = math.sqrt(ab_prev) * x0 + math.sqrt(max(1 - ab_prev - sigma ** 2, 0.0)) * eps
    if sigma > 0:
        out = out + sigma * (torch.randn_like(x) if noise is None else noise)
    return out


def _start(model, schedule, labels, n, x_T, generator):
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    device = next(model.parameters()).device
    if labels is not None:
        labels = torch.as_tensor(labels).long()
        if labels.dim() != 1:
            raise ValueError(f"labels must be a 1-D tensor of class indices, got shape {tuple(labels.shape)}")
        if (labels < 0).any() or (labels > model.null_label).any():  # read once, before sampling
            raise ValueError(f"labels must be in 0 … {model.null_label - 1} (or {model.null_label} = no label)")
        labels = labels.to(device)
        n = len(labels) if n is None else n
        if n != len(labels):
            raise ValueError(f"n={n} but {len(labels)} labels were given")
    if x_T is not None:
        n = len(x_T) if n is None else n
        if x_T.shape != (n, 1, 8, 8):
            raise ValueError(f"x_T must have shape [{n}, 1, 8, 8], got {tuple(x_T.shape)}")
        return x_T.to(device).float(), labels
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"give labels, x_T or a positive number of samples n, got n={n!r}")
    return _noise((n, 1, 8, 8), device, generator), labels


def _noise(shape, device, generator):
    """Noise on ``device``, drawn on the generator's device; without one, from the global CPU
    generator (what ``torch.manual_seed`` seeds), so a seeded run samples alike on every device."""
    return sampling.randn(shape, device,
                          generator if generator is not None else torch.default_generator)


@torch.no_grad()
def ddpm_sample(model: nn.Module, schedule: NoiseSchedule, labels=None, *, n: int | None = None,
                guidance: float = 0.0, x_T: torch.Tensor | None = None, generator=None,
                return_path: bool = False):
    """Ancestral sampling: start from noise :math:`x_{T-1} \\sim \\mathcal N(0, I)` and apply
    :func:`ddpm_step` ``T`` times.

    ``labels`` ``[N]`` (class per sample) or ``None`` with ``n`` for unconditional samples;
    ``guidance``: classifier-free guidance weight (see :func:`guided_noise`);
    ``generator``: a ``torch.Generator`` for reproducible noise (a CPU one gives the same
    samples on every device: the noise is drawn on the generator's device, then moved).
    Returns images ``[N, 1, 8, 8]`` in [0, 1] (and, with ``return_path``, the list of
    intermediate ``x_t`` in [-1, 1], every ``T // 10`` steps).
    """
    x, labels = _start(model, schedule, labels, n, x_T, generator)
    was_training = model.training
    model.eval()
    path = []
    for t in reversed(range(schedule.T)):
        if return_path and t % max(schedule.T // 10, 1) == 0:
            path.append(x.cpu())
        eps = guided_noise(model, x, t, labels, guidance)
        z = _noise(x.shape, x.device, generator) if t > 0 else None
        x = ddpm_step(schedule, eps, t, x, noise=z)
    model.train(was_training)
    images = to_image_range(x)
    return (images, path) if return_path else images


@torch.no_grad()
def ddim_sample(model: nn.Module, schedule: NoiseSchedule, labels=None, *, steps: int = 20,
                n: int | None = None, guidance: float = 0.0, eta: float = 0.0,
                x_T: torch.Tensor | None = None, generator=None) -> torch.Tensor:
    """DDIM sampling (Song et al. 2021) with ``steps`` network calls instead of ``T``.

    Same arguments as :func:`ddpm_sample`, plus ``steps`` and ``eta`` (0: deterministic).
    Returns images ``[N, 1, 8, 8]`` in [0, 1].
    """
    check_number("eta", eta, low=0.0)
    times = ddim_timesteps(schedule.T, steps)
    x, labels = _start(model, schedule, labels, n, x_T, generator)
    was_training = model.training
    model.eval()
    for i, t in enumerate(times):
        t_prev = times[i + 1] if i + 1 < len(times) else -1
        eps = guided_noise(model, x, t, labels, guidance)
        z = _noise(x.shape, x.device, generator) if eta > 0 else None
        x = ddim_step(schedule, eps, t, t_prev, x, eta=eta, noise=z)
    model.train(was_training)
    return to_image_range(x)
