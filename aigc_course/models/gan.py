"""Generative adversarial networks for the 8×8 digits (chapter 08).

Models (plain ``nn.Module``\\ s):

* :class:`MLPGenerator` / :class:`MLPDiscriminator` — fully connected, the original GAN.
* :class:`DCGenerator` / :class:`DCDiscriminator` — convolutional (DCGAN) for ``[B, 1, 8, 8]``;
  both take ``num_classes`` to become a *class-conditional* GAN (the generator adds a label
  embedding to its noise, the discriminator uses a projection head).
* :class:`GAN` — a container holding ``generator`` and ``discriminator``, so the course's
  :func:`aigc_course.train.fit` can train it with ``optimizer={"g": ..., "d": ...}``.

Step functions for ``fit`` (``step(model, batch, optimizers) -> logs``):

* :func:`gan_step` — the standard GAN step: the discriminator is trained on a real batch
  **and** a fake batch, then the generator is trained to fool it (non-saturating loss by
  default; ``loss="saturating"`` gives the original minimax loss, for the failure demo;
  ``loss="hinge"`` the SNGAN/BigGAN loss; ``r1=γ`` adds the R1 penalty on real images).
* :func:`wgan_gp_step` — the Wasserstein GAN with gradient penalty.

Spectral normalisation of the discriminator is the ``spectral_norm=True`` flag of the
discriminators. ``GAN(..., ema=0.99)`` keeps a moving average of the generator's weights and
samples from it. Chapter 08's recipe for the digits: ``gan_step(r1=1.0)``, EMA 0.99, Adam
(lr 2e-3, betas (0, 0.9)), batch 128. Images are in [0, 1]: generators end with a sigmoid.
Discriminators return raw logits ``[B]`` (no sigmoid: the losses use the stable
``softplus`` / ``binary_cross_entropy_with_logits`` forms).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..data.digits import IMAGE_SHAPE
from ..data.digits import check_digit_images as _check_images
from ..validation import check_int as _check_int
from ..validation import check_tensor
from . import sampling


def _sn(layer: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer


class _Labelled(nn.Module):
    """Shared label handling for conditional models."""

    num_classes: int | None

    def _check_labels(self, labels, batch: int):
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("this model is unconditional (num_classes=None): do not pass labels")
            return None
        if labels is None:
            raise ValueError(f"this model is conditional on {self.num_classes} classes: pass labels [B]")
        check_tensor("labels", labels, floating=False)
        if labels.shape != (batch,):
            raise ValueError(f"labels must have shape [{batch}], got {tuple(labels.shape)}")
        if labels.device.type == "cpu" and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be in 0..{self.num_classes - 1}, got "
                             f"{int(labels.min())}..{int(labels.max())}")  # read on the CPU only
        return labels


# --------------------------------------------------------------------------- MLP GAN
class MLPGenerator(_Labelled):
    """Noise ``[B, latent_dim]`` → images ``[B, 1, 8, 8]`` in (0, 1), two hidden layers."""

    def __init__(self, latent_dim: int = 32, hidden: int = 256):
        super().__init__()
        _check_int("latent_dim", latent_dim)
        _check_int("hidden", hidden)
        self.latent_dim, self.num_classes = latent_dim, None
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 64), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected noise of shape [B, {self.latent_dim}], got {tuple(z.shape)}")
        self._check_labels(labels, len(z))
        return self.net(z).view(-1, *IMAGE_SHAPE)


class MLPDiscriminator(_Labelled):
    """Images ``[B, 1, 8, 8]`` → real/fake logits ``[B]``."""

    def __init__(self, hidden: int = 256, spectral_norm: bool = False):
        super().__init__()
        _check_int("hidden", hidden)
        self.num_classes = None
        self.net = nn.Sequential(
            nn.Flatten(),
            _sn(nn.Linear(64, hidden), spectral_norm), nn.LeakyReLU(0.2),
            _sn(nn.Linear(hidden, hidden), spectral_norm), nn.LeakyReLU(0.2),
            _sn(nn.Linear(hidden, 1), spectral_norm),
        )

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        x = _check_images(x)
        self._check_labels(labels, len(x))
        return self.net(x).squeeze(1)


# --------------------------------------------------------------------------- DCGAN
class DCGenerator(_Labelled):
    """DCGAN-style generator for 8×8 images: noise → ``[2C, 4, 4]`` → upsample → ``[C, 8, 8]`` → ``[1, 8, 8]``.

    A linear layer makes a 4×4 feature map; nearest-neighbour upsampling followed by a 3×3
    convolution doubles the resolution (no checkerboard artefacts, unlike a strided
    transposed convolution at this tiny size); batch norm + ReLU inside, a sigmoid at the
    end. With ``num_classes`` a label embedding is added to the noise (conditional GAN).
    """

    def __init__(self, latent_dim: int = 32, channels: int = 64, num_classes: int | None = None):
        super().__init__()
        _check_int("latent_dim", latent_dim)
        _check_int("channels", channels)
        if num_classes is not None:
            _check_int("num_classes", num_classes, 2)
        self.latent_dim, self.num_classes, c = latent_dim, num_classes, channels
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.project = nn.Sequential(nn.Linear(latent_dim, 2 * c * 16), nn.BatchNorm1d(2 * c * 16), nn.ReLU())
        self.net = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),                                   # 4 → 8
            nn.Conv2d(2 * c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, 1, 3, padding=1), nn.Sigmoid(),
        )
        self._c = c

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected noise of shape [B, {self.latent_dim}], got {tuple(z.shape)}")
        labels = self._check_labels(labels, len(z))
        if labels is not None:
            z = z + self.embed(labels)
        return self.net(self.project(z).view(-1, 2 * self._c, 4, 4))


class DCDiscriminator(_Labelled):
    """DCGAN discriminator: strided convolutions 8 → 4 → 2, LeakyReLU, a linear logit ``[B]``.

    ``spectral_norm=True`` normalises every layer's largest singular value to 1 (Miyato et
    al. 2018), which bounds how sharp D can become. With ``num_classes`` the logit gets a
    projection term ``<embed(y), h>`` (a projection discriminator).
    """

    def __init__(self, channels: int = 64, spectral_norm: bool = False, num_classes: int | None = None,
                 batch_norm: bool = False):
        super().__init__()
        _check_int("channels", channels)
        if num_classes is not None:
            _check_int("num_classes", num_classes, 2)
        c, sn = channels, spectral_norm
        self.num_classes = num_classes
        norm = (lambda n: nn.BatchNorm2d(n)) if batch_norm and not sn else (lambda n: nn.Identity())
        self.body = nn.Sequential(
            _sn(nn.Conv2d(1, c, 3, padding=1), sn), nn.LeakyReLU(0.2),
            _sn(nn.Conv2d(c, c, 4, stride=2, padding=1), sn), norm(c), nn.LeakyReLU(0.2),        # 8 → 4
            _sn(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), sn), norm(2 * c), nn.LeakyReLU(0.2),  # 4 → 2
            nn.Flatten(),
        )
        self.head = _sn(nn.Linear(2 * c * 4, 1), sn)
        self.embed = _sn(nn.Embedding(num_classes, 2 * c * 4), sn) if num_classes else None

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        x = _check_images(x)
        labels = self._check_labels(labels, len(x))
        h = self.body(x)
        logit = self.head(h).squeeze(1)
        if labels is not None:
            logit = logit + (self.embed(labels) * h).sum(1)
        return logit


# --------------------------------------------------------------------------- container
class GAN(nn.Module):
    """A generator and a discriminator in one module (what ``fit`` trains and checkpoints)."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, ema: float | None = None):
        super().__init__()
        if not hasattr(generator, "latent_dim"):
            raise TypeError("generator must have a latent_dim attribute (e.g. DCGenerator)")
        if getattr(generator, "num_classes", None) != getattr(discriminator, "num_classes", None):
            raise ValueError("generator and discriminator must agree on num_classes")
        if ema is not None and not 0 < ema < 1:
            raise ValueError(f"ema must be in (0, 1) (e.g. 0.999) or None, got {ema!r}")
        self.generator, self.discriminator = generator, discriminator
        # An exponential moving average of the generator's weights: a smoother generator to
        # sample from (the raw one jumps around the equilibrium). Updated by the step functions.
        self.ema = ema
        self.generator_ema = copy.deepcopy(generator).requires_grad_(False) if ema else None
        self._ema_updates, self._ema_refreshed_at = 0, None

    @torch.no_grad()
    def update_ema(self) -> None:
        """``θ_ema ← ema · θ_ema + (1 − ema) · θ`` (buffers such as batch-norm statistics are copied;
        :meth:`sample` re-estimates them for the averaged weights, see :meth:`refresh_ema_batch_norm`)."""
        if self.generator_ema is None:
            return
        for p_ema, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            p_ema.lerp_(p, 1.0 - self.ema)
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers()):
            b_ema.copy_(b)
        self._ema_updates += 1

    @torch.no_grad()
    def refresh_ema_batch_norm(self, n: int = 1024, seed: int = 0) -> None:
        """Re-estimate the batch-norm statistics of the EMA generator from ``n`` of its own samples.

        The running means/variances copied from the trained generator belong to *its* weights;
        the averaged weights produce slightly different activations, and normalising them with
        the wrong statistics visibly costs quality (chapter 08 measures it). The noise comes
        from its own seeded ``torch.Generator``: the global random state is not touched.
        """
        _check_int("n", n, 2)
        g = self.generator_ema
        norms = [m for m in g.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)] if g else []
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: after one batch, exactly its statistics
        if norms:
            device = next(self.parameters()).device
            labels = (torch.arange(n) % self.num_classes).to(device) if self.num_classes else None
            was = g.training
            g.train()(self.noise(n, torch.Generator().manual_seed(seed)), labels)
            g.train(was)
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self._ema_refreshed_at = self._ema_updates

    def load_state_dict(self, *args, **kwargs):
        self._ema_refreshed_at = None  # new weights: re-estimate the EMA statistics before sampling
        self._sampling_copy = None
        return super().load_state_dict(*args, **kwargs)

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim

    @property
    def num_classes(self):
        return self.generator.num_classes

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Noise ``[n, latent_dim]`` on the model's device (drawn on ``generator``'s device)."""
        return sampling.randn((n, self.latent_dim), next(self.parameters()).device, generator)

    @torch.no_grad()
    def sample(self, n: int, labels=None, seed: int | None = None) -> torch.Tensor:
        """``n`` images ``[n, 1, 8, 8]`` on the CPU, from the EMA generator when there is one
        (in eval mode; for a conditional GAN the labels cycle 0, 1, …, 9 by default).

        ``seed`` fixes the noise (the global random state is then left alone). Sampling leaves
        the model unchanged: an EMA generator with batch norm whose statistics are stale (not
        re-estimated since the last EMA update, see :meth:`refresh_ema_batch_norm`) samples
        through a refreshed *copy*, kept until the next update (about 1024 extra generator
        forward passes each time it is made)."""
        _check_int("n", n)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        device = next(self.parameters()).device
        if self.num_classes and labels is None:
            labels = torch.arange(n) % self.num_classes
        if labels is not None:
            labels = torch.as_tensor(labels).to(device)
        g = self._sampling_generator()
        was = g.training
        g.eval()
        out = g(self.noise(n, gen), labels).cpu()
        g.train(was)
        return out

    def _sampling_generator(self) -> nn.Module:
        """The generator :meth:`sample` uses: the EMA one (with fresh batch-norm statistics, on a
        copy when its own are stale) or, without EMA, the trained one."""
        g = self.generator_ema
        if g is None or self._ema_refreshed_at == self._ema_updates \
                or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in g.modules()):
            return self.generator if g is None else g
        key = (self._ema_updates, next(g.parameters()).device)
        cached = getattr(self, "_sampling_copy", None)
        if cached is None or cached[0] != key:
            self._sampling_copy = None  # (not copied into the twin)
            twin = copy.deepcopy(self)
            twin.refresh_ema_batch_norm()
            cached = self._sampling_copy = (key, twin.generator_ema)
        return cached[1]


# --------------------------------------------------------------------------- step functions
def _split_batch(model: GAN, batch):
    real = batch[0] if isinstance(batch, (list, tuple)) else batch
    labels = batch[1] if isinstance(batch, (list, tuple)) and len(batch) > 1 and model.num_classes else None
    return _check_images(real), labels


def _optimizers(optimizers):
    if not isinstance(optimizers, dict) or set(optimizers) != {"g", "d"}:
        raise ValueError('a GAN step needs optimizer={"g": opt_for_generator, "d": opt_for_discriminator}')
    return optimizers["g"], optimizers["d"]


LOSSES = ("nonsaturating", "saturating", "hinge")


def _d_loss(loss: str, logit_real: torch.Tensor, logit_fake: torch.Tensor) -> torch.Tensor:
    if loss == "hinge":  # max(0, 1 − D(x)) + max(0, 1 + D(G(z))): no reward beyond a margin
        return F.relu(1 - logit_real).mean() + F.relu(1 + logit_fake).mean()
    # BCE(real, 1) + BCE(fake, 0), written with softplus: −log σ(l) = softplus(−l)
    return F.softplus(-logit_real).mean() + F.softplus(logit_fake).mean()


def _g_loss(loss: str, logit_fake: torch.Tensor) -> torch.Tensor:
    if loss == "nonsaturating":  # minimise −log D(G(z))
        return F.softplus(-logit_fake).mean()
    if loss == "saturating":     # minimise log(1 − D(G(z))) = −softplus(l): flat when D wins
        return -F.softplus(logit_fake).mean()
    return -logit_fake.mean()    # hinge: raise D's score of the fakes


def r1_penalty(discriminator: nn.Module, real: torch.Tensor, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
    """R1 penalty ``E‖∇ₓ ℓ(x)‖²`` on real images, ℓ being D's logit (before the sigmoid)
    (Mescheder et al. 2018); returns ``(penalty, logits [B])``.

    The logits are returned so that the discriminator's real-data loss reuses the same forward pass.
    """
    real = real.detach().requires_grad_(True)
    logit = discriminator(real, labels)
    grad, = torch.autograd.grad(logit.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean(), logit


def gan_step(loss: str = "nonsaturating", d_steps: int = 1, r1: float = 0.0):
    """The standard GAN step for :func:`aigc_course.train.fit`.

    For each batch of real images: ``d_steps`` discriminator updates on the real batch
    (target "real") **and** a freshly generated batch (target "fake"), then one generator
    update, which reuses the last generated batch (as the PyTorch DCGAN example does: one
    generator forward pass per step instead of two).

    Args:
        loss: ``"nonsaturating"`` (generator maximises log D(G(z)); the default, what works),
            ``"saturating"`` (generator minimises log(1 − D(G(z))), the minimax loss whose
            gradient vanishes when D wins), or ``"hinge"`` (SNGAN/BigGAN's margin loss).
        d_steps: discriminator updates per generator update (more = a stronger D).
        r1: weight γ of the R1 penalty ``γ/2 · E‖∇ₓ ℓ(x)‖²`` on real images (0 = off): it stops
            the discriminator from becoming arbitrarily steep around the (few) training images.

    Logs ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (mean σ(logit) D gives to real and
    fake images: probabilities for the cross-entropy losses, a monotone score for hinge), and
    ``r1`` when the penalty is on.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    _check_int("d_steps", d_steps)
    if isinstance(r1, bool) or not isinstance(r1, (int, float)) or not r1 >= 0:
        raise ValueError(f"r1 must be a number ≥ 0, got {r1!r}")

    def step(model: GAN, batch, optimizers):
        opt_g, opt_d = _optimizers(optimizers)
        real, labels = _split_batch(model, batch)
        n, G, D = len(real), model.generator, model.discriminator
        logs = {}
        for i in range(d_steps):
            last = i == d_steps - 1
            with torch.set_grad_enabled(last):  # keep the graph of the last fakes for G's update
                fake = G(model.noise(n), labels)
            if r1 > 0:
                penalty, logit_real = r1_penalty(D, real, labels)
            else:
                logit_real = D(real, labels)
            logit_fake = D(fake.detach(), labels)
            d_loss = _d_loss(loss, logit_real, logit_fake)
            if r1 > 0:
                d_loss = d_loss + r1 / 2 * penalty
                logs["r1"] = penalty.detach()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        g_loss = _g_loss(loss, D(fake, labels))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        model.update_ema()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": torch.sigmoid(logit_real).mean().detach(),
                "d_fake": torch.sigmoid(logit_fake).mean().detach(), **logs}

    return step


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, labels=None) -> torch.Tensor:
    """WGAN-GP penalty ``E[(‖∇ critic(x̂)‖ − 1)²]`` at random points x̂ between real and fake."""
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} must have the same shape")
    eps = torch.rand(len(real), 1, 1, 1, device=real.device)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed, labels).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def wgan_gp_step(n_critic: int = 5, gp_weight: float = 10.0):
    """WGAN-GP step (Gulrajani et al. 2017): the critic is updated on every batch, the
    generator on every ``n_critic``-th batch. Logs ``d_loss`` (critic loss), ``g_loss``,
    ``wasserstein`` (the critic's estimate of the distance) and ``gp``.

    The discriminator must not use batch norm (the penalty is per example). The call count
    is the step's state: its ``state_dict()`` / ``load_state_dict()`` let a ``fit``
    checkpoint save and restore it.
    """
    _check_int("n_critic", n_critic)
    if not gp_weight >= 0:
        raise ValueError(f"gp_weight must be ≥ 0, got {gp_weight!r}")
    calls = {"n": 0}

    def step(model: GAN, batch, optimizers):
        opt_g, opt_d = _optimizers(optimizers)
        real, labels = _split_batch(model, batch)
        n, G, D = len(real), model.generator, model.discriminator
        with torch.no_grad():
            fake = G(model.noise(n), labels)
        w = D(real, labels).mean() - D(fake, labels).mean()
        gp = gradient_penalty(D, real, fake, labels)
        d_loss = -w + gp_weight * gp
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        logs = {"d_loss": d_loss.detach(), "wasserstein": w.detach(), "gp": gp.detach()}
        calls["n"] += 1
        if calls["n"] % n_critic == 0:
            g_loss = -D(G(model.noise(n), labels), labels).mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            model.update_ema()
            logs["g_loss"] = g_loss.detach()
        return logs

    def state_dict():
        return {"calls": calls["n"]}

    def load_state_dict(state):
        calls["n"] = state["calls"]

    step.state_dict, step.load_state_dict = state_dict, load_state_dict  # what fit checkpoints
    return step


def make_optimizers(model: GAN, lr_g: float = 2e-4, lr_d: float = 2e-4, betas=(0.5, 0.999)) -> dict:
    """Adam for each player: ``{"g": ..., "d": ...}`` (defaults: DCGAN's settings, β₁ = 0.5).

    Chapter 08 uses ``lr = 2e-3`` and ``betas=(0.0, 0.9)`` with the R1 penalty and an EMA generator.
    """
    if not isinstance(model, GAN):
        raise TypeError(f"model must be a GAN, got {type(model).__name__}")
    try:
        betas = tuple(float(b) for b in betas)
    except (TypeError, ValueError):
        betas = ()
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), e.g. (0.5, 0.999); got {betas!r}")
    for name, lr in (("lr_g", lr_g), ("lr_d", lr_d)):
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"{name} must be a positive number, got {lr!r}")
    return {"g": torch.optim.Adam(model.generator.parameters(), lr=lr_g, betas=betas),
            "d": torch.optim.Adam(model.discriminator.parameters(), lr=lr_d, betas=betas)}
