"""Checks for the GAN exercises (notebook 08): write the GAN training step yourself.

:func:`gan_step` compares the learner's ``my_gan_step(model, batch, optimizers)`` with the
package's step, ``aigc_course.models.gan.gan_step()`` with its default options (the
non-saturating loss, one discriminator update per step, no R1 penalty), on a tiny MLP GAN and a
tiny batch: the logged numbers and the parameters of both networks after the step.
"""

from __future__ import annotations

import torch

from ..check import _fail, function

__all__ = ["gan_step"]

LATENT, HIDDEN, BATCH = 4, 8, 6   # tiny: the check runs in milliseconds

HINT = ("if d_loss, d_real or d_fake differ: D's loss is softplus(−D(real)).mean() + "
        "softplus(D(fake.detach())).mean(), the real batch with target 1 AND the generated one "
        "with target 0. If g_loss differs: G minimises the non-saturating −log D(G(z)) = "
        "softplus(−D(fake)).mean(), not log(1 − D(G(z))), with D after its update. If only "
        "the generator's parameters differ: D's loss reached G — detach the fakes in D's step "
        "and zero G's gradients right before G's backward(). If everything differs: draw the "
        "noise once, `model.noise(len(real))`, and reuse the same fakes in both steps")


def _tiny_gan():
    """A fresh tiny MLP GAN, a batch ``[real]`` of 6 images and SGD optimizers.

    SGD (not Adam) on purpose: Adam's first step moves every weight by about ±lr whatever the
    gradient's size, which would hide a wrong gradient; SGD's step is proportional to it.
    """
    from ..models.gan import GAN, MLPDiscriminator, MLPGenerator

    torch.manual_seed(1234)
    model = GAN(MLPGenerator(latent_dim=LATENT, hidden=HIDDEN), MLPDiscriminator(hidden=HIDDEN))
    real = torch.rand(BATCH, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    optimizers = {"g": torch.optim.SGD(model.generator.parameters(), lr=0.5),
                  "d": torch.optim.SGD(model.discriminator.parameters(), lr=0.5)}
    return model, [real], optimizers


def _parameters(args) -> dict:
    """The parameters of both networks after the step, by name (D's first)."""
    model = args[0]
    return {f"{net}.{name}": p.detach().clone()
            for net in ("discriminator", "generator")
            for name, p in getattr(model, net).named_parameters()}


def _as_numbers(logs):
    """The logged values as plain floats (so tensors and ``.item()`` numbers both compare)."""
    if not isinstance(logs, dict):
        return logs
    return {k: (v.item() if isinstance(v, torch.Tensor) and v.numel() == 1 else v)
            for k, v in logs.items()}


def gan_step(mine) -> None:
    """Compare ``mine(model, batch, optimizers) -> dict`` with the package's GAN step.

    The reference is ``aigc_course.models.gan.gan_step()`` (defaults: non-saturating loss,
    ``d_steps=1``, ``r1=0``) on a tiny ``GAN(MLPGenerator, MLPDiscriminator)``, a batch
    ``[real]`` of 6 images ``[6, 1, 8, 8]`` and ``{"g": SGD, "d": SGD}``. Compared: the
    returned dict (``d_loss``, ``g_loss``, ``d_real``, ``d_fake``: tensors or numbers) and
    every parameter of both networks after the call.
    """
    from ..models.gan import gan_step as package_step

    reference = package_step()

    def reference_numbers(*args):
        return _as_numbers(reference(*args))

    def learner(*args):
        try:
            return _as_numbers(mine(*args))
        except RuntimeError as error:
            if "backward through the graph a second time" not in str(error):
                raise
            _fail("gan_step: your function called backward() twice through the generator's "
                  "graph (RuntimeError: 'Trying to backward through the graph a second time')",
                  "D's step must use the detached fakes, `D(fake.detach())`: then D's "
                  "backward() stops at the fakes and G's graph is still there for G's step")

    function("gan_step", learner, reference_numbers, _tiny_gan, after=_parameters, hint=HINT)
