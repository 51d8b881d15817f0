"""Chapter 08 (GAN lab): our class-conditional DCGAN recipe against the PyTorch DCGAN tutorial's.

The lab's asserted Fréchet distance (``FD ≤ 15``, the mean of 3 draws of 1,000 samples against
the 1,257 training digits) is on its **class-conditional** DCGAN, so "ours" is that model,
trained as in the notebook: ``GAN(DCGenerator(32, 64, 10), DCDiscriminator(64, num_classes=10),
ema=0.99)``, ``gan_step(r1=1.0)``, Adam lr 2e-3, betas (0, 0.9), batches of 128.

"theirs" is the recipe of the PyTorch DCGAN tutorial (Radford et al. 2016): Adam lr 2e-4,
β = (0.5, 0.999), batches of 128, binary cross-entropy (the generator trained with "real"
targets: the non-saturating loss), batch norm in both networks except the discriminator's input
layer and the generator's output, ReLU in G, LeakyReLU 0.2 in D, a tanh output (images scaled
to [-1, 1] for it, back to [0, 1] for the metric), bias-free convolutions initialised from
N(0, 0.02) (batch-norm weights N(1, 0.02), biases 0), 100-d noise. Its depth is scaled to the
8×8 digits: G is ``100 → ConvT(4, 1, 0) → 4×4×128 → ConvT(4, 2, 1) → 8×8×1``, D mirrors it
``8×8×1 → Conv(4, 2, 1) → 4×4×64 → Conv(4, 2, 1) → 2×2×128 → Conv(2) → logit`` (ngf = ndf =
64, the tutorial's widths). The tutorial's GAN is unconditional; comparing it with our
conditional model would credit the *recipe* with what the *labels* buy (the lab measures FD
≈ 16 unconditional against ≈ 6.5 conditional), so it gets the labels in exactly our way: a
learned label embedding added to the noise, ``G(z + e_y)``, and a projection term
``<v_y, h(x)>`` on the discriminator's last features (Miyato & Koyama 2018). Everything else is
the tutorial's. Like the tutorial, it samples with the generator in training mode (batch
statistics of the 1,000 samples; its running statistics are left untouched), the counterpart
of our EMA generator's re-estimated batch-norm statistics.

Both see the same batches (the package's ``TensorBatches``, reshuffled every epoch exactly as
``fit`` does) and are measured the same way (:func:`_fd`). Their ``extras`` add the share of
samples classified as the asked digit (class match), the Inception-style score, and precision
and recall (quality and diversity). A third recipe, an ablation, is the tutorial with our
optimiser settings (Adam lr 2e-3, β = (0, 0.9)): it tells whether the tutorial's gap is its
learning rate or the rest of the recipe.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from .. import data as _data
from ..metrics import digits_frechet_distance
from ..models.classifier import digits_classifier
from ..models.gan import GAN, DCDiscriminator, DCGenerator, gan_step, make_optimizers
from ..train import TensorBatches, _seed_loader_for_epoch
from .base import Lab, Recipe, digits_extras

BATCH_SIZE = 128          # both recipes (the lab's and the tutorial's batch size)
NUM_CLASSES = 10
EVAL_SAMPLES = 1000       # per draw, as in the notebook
EVAL_DRAWS = 3            # the notebook asserts on the mean FD of 3 draws (noise seeds s, s+1, s+2)

# ours: the notebook's section 7
OURS = {"latent_dim": 32, "channels": 64, "ema": 0.99, "r1": 1.0, "lr": 2e-3, "betas": (0.0, 0.9)}
# theirs: the PyTorch DCGAN tutorial, depth scaled to 8×8
THEIRS = {"latent_dim": 100, "ngf": 64, "ndf": 64, "lr": 2e-4, "betas": (0.5, 0.999),
          "init_std": 0.02, "leaky_slope": 0.2}


# --------------------------------------------------------------------------- data
def load_data(seed: int) -> SimpleNamespace:
    """The lab's training digits (1,257, with labels) and the course's digits classifier.

    The split is fixed (it does not depend on ``seed``); the classifier is the cached one the
    notebook measures with.
    """
    digits = _data.load_digits()
    return SimpleNamespace(train=digits.train, train_x=digits.train.x, train_y=digits.train.y,
                           classifier=digits_classifier(device="cpu"))


def _batches(data, seed: int):
    """Endless batches ``[x, y]`` of 128, reshuffled every epoch the way ``fit(seed=seed)`` does."""
    loader = TensorBatches((data.train_x, data.train_y), batch_size=BATCH_SIZE, shuffle=True)
    epoch = 1
    while True:
        _seed_loader_for_epoch(loader, seed, epoch)   # fit's per-epoch seeding
        yield from loader
        epoch += 1


def _labels(n: int) -> torch.Tensor:
    return torch.arange(n) % NUM_CLASSES          # 100 of each digit, as the notebook asks


def _fd(sample, data, seed: int) -> float:
    """The notebook's number: mean digits FD of 3 × 1,000 samples vs the training digits."""
    fds = [digits_frechet_distance(sample(EVAL_SAMPLES, seed + k), data.train_x, data.classifier)
           for k in range(EVAL_DRAWS)]
    return sum(fds) / len(fds)


# --------------------------------------------------------------------------- ours
def ours_setup(data, seed: int) -> dict:
    torch.manual_seed(seed)
    o = OURS
    gan = GAN(DCGenerator(latent_dim=o["latent_dim"], channels=o["channels"], num_classes=NUM_CLASSES),
              DCDiscriminator(channels=o["channels"], num_classes=NUM_CLASSES), ema=o["ema"])
    gan.train()
    return {"model": gan, "optimizers": make_optimizers(gan, o["lr"], o["lr"], betas=o["betas"]),
            "step": gan_step(r1=o["r1"]), "batches": _batches(data, seed), "seed": seed}


def ours_train_step(state: dict) -> None:
    state["step"](state["model"], next(state["batches"]), state["optimizers"])


def _ours_sample(state: dict):
    gan = state["model"]
    return lambda n, seed: gan.sample(n, labels=_labels(n), seed=seed)   # EMA generator, eval mode


def ours_evaluate(state: dict, data) -> float:
    return _fd(_ours_sample(state), data, state["seed"])


# --------------------------------------------------------------------------- theirs
class TutorialGenerator(nn.Module):
    """The DCGAN tutorial's generator at 8×8: noise ``[B, 100]`` → ``[B, 1, 8, 8]`` in (-1, 1).

    ``ConvTranspose(100 → 2·ngf, 4, 1, 0)`` makes the 4×4 map, ``ConvTranspose(2·ngf → 1, 4, 2, 1)``
    the 8×8 image; batch norm + ReLU between, tanh at the end, no biases. With ``num_classes``
    a label embedding is added to the noise (as in the course's ``DCGenerator``).
    """

    def __init__(self, latent_dim: int = 100, ngf: int = 64, num_classes: int | None = None):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.embed = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, ngf * 2, 4, 1, 0, bias=False),   # 1 → 4
            nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, 1, 4, 2, 1, bias=False),            # 4 → 8
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        if self.embed is not None:
            z = z + self.embed(labels)
        return self.net(z[:, :, None, None])


class TutorialDiscriminator(nn.Module):
    """The DCGAN tutorial's discriminator at 8×8: ``[B, 1, 8, 8]`` in [-1, 1] → logits ``[B]``.

    ``Conv(1 → ndf, 4, 2, 1)`` (no batch norm on the input layer), ``Conv(ndf → 2·ndf, 4, 2, 1)``
    + batch norm, LeakyReLU 0.2 after each, and a ``Conv(2·ndf → 1, 2)`` logit (the tutorial's
    sigmoid is folded into the loss). With ``num_classes`` a projection term ``<v_y, h>`` on the
    flattened 2×2 features is added to the logit (as in the course's ``DCDiscriminator``).
    """

    def __init__(self, ndf: int = 64, num_classes: int | None = None, slope: float = 0.2):
        super().__init__()
        self.num_classes = num_classes
        self.body = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(slope, inplace=True),      # 8 → 4
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(slope, inplace=True),                                               # 4 → 2
        )
        self.head = nn.Conv2d(ndf * 2, 1, 2, 1, 0, bias=False)                              # 2 → 1
        self.embed = nn.Embedding(num_classes, ndf * 2 * 4) if num_classes else None

    def forward(self, x: torch.Tensor, labels=None) -> torch.Tensor:
        h = self.body(x)
        logit = self.head(h).flatten()
        if self.embed is not None:
            logit = logit + (self.embed(labels) * h.flatten(1)).sum(1)
        return logit


def tutorial_init(module: nn.Module, std: float = 0.02) -> None:
    """The tutorial's ``weights_init``: convolutions N(0, std); batch norm weight N(1, std), bias 0."""
    name = type(module).__name__
    if "Conv" in name:
        nn.init.normal_(module.weight, 0.0, std)
    elif "BatchNorm" in name:
        nn.init.normal_(module.weight, 1.0, std)
        nn.init.zeros_(module.bias)


def theirs_setup(data, seed: int, hp: dict = THEIRS) -> dict:
    torch.manual_seed(seed)
    t = hp
    G = TutorialGenerator(t["latent_dim"], t["ngf"], num_classes=NUM_CLASSES)
    D = TutorialDiscriminator(t["ndf"], num_classes=NUM_CLASSES, slope=t["leaky_slope"])
    for net in (G, D):
        net.apply(lambda m: tutorial_init(m, t["init_std"]))
        net.train()
    return {"G": G, "D": D,
            "opt_g": torch.optim.Adam(G.parameters(), lr=t["lr"], betas=t["betas"]),
            "opt_d": torch.optim.Adam(D.parameters(), lr=t["lr"], betas=t["betas"]),
            "batches": _batches(data, seed), "seed": seed}


def theirs_train_step(state: dict) -> None:
    """One step of the tutorial's loop: D on a real batch (target 1), then on the detached fakes
    (target 0), in two forward passes as the tutorial does (batch norm sees each batch alone);
    then G with target 1 on the same fakes, scored by the updated D."""
    G, D, opt_g, opt_d = state["G"], state["D"], state["opt_g"], state["opt_d"]
    x, y = next(state["batches"])
    real = x * 2 - 1                                        # [0, 1] → [-1, 1] for the tanh generator
    fake = G(torch.randn(len(real), G.latent_dim), y)
    logit_real = D(real, y)
    logit_fake = D(fake.detach(), y)
    d_loss = (F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
              + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    logit = D(fake, y)
    g_loss = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()


def _theirs_sample(state: dict):
    G = state["G"]

    @torch.no_grad()
    def sample(n: int, seed: int) -> torch.Tensor:
        z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(seed))
        norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
                 for m in norms]
        was = G.training
        G.train()                                            # the tutorial samples in train mode
        out = G(z, _labels(n))
        G.train(was)
        for m, (mean, var, count) in zip(norms, saved):      # leave the training state as it was
            m.running_mean.copy_(mean), m.running_var.copy_(var), m.num_batches_tracked.copy_(count)
        return ((out + 1) / 2).clamp(0, 1)                   # back to [0, 1] for the metric

    return sample


def theirs_evaluate(state: dict, data) -> float:
    return _fd(_theirs_sample(state), data, state["seed"])


# --------------------------------------------------------------------------- extras
def _extras(sample_of):
    def extras(state: dict, data) -> dict:
        """Class match, Inception-style score, precision and recall of the first draw."""
        images = sample_of(state)(EVAL_SAMPLES, state["seed"])
        return digits_extras(images, _labels(EVAL_SAMPLES), data.train_x, data.classifier)
    return extras


OURS_RECIPE = Recipe(
    name="ours",
    source="notebooks/08_gan_lab.ipynb, section 7 (class-conditional DCGAN + R1 + EMA)",
    setup=ours_setup, train_step=ours_train_step, evaluate=ours_evaluate,
    extras=_extras(_ours_sample),
    notes="conditional DCGAN (DCGenerator latent 32, channels 64; projection DCDiscriminator "
          "channels 64), non-saturating loss + R1 γ=1, EMA 0.99 (BN re-estimated), Adam lr 2e-3 "
          "betas (0, 0.9) for G and D, batch 128, images in [0, 1] (sigmoid)",
)

THEIRS_RECIPE = Recipe(
    name="PyTorch DCGAN tutorial",
    source="PyTorch tutorial 'DCGAN Tutorial' (pytorch.org/tutorials/beginner/dcgan_faces_tutorial) "
           "after Radford et al. 2016, arXiv:1511.06434",
    setup=theirs_setup, train_step=theirs_train_step, evaluate=theirs_evaluate,
    extras=_extras(_theirs_sample),
    notes="DCGAN at 8×8 (G: 100 → ConvT 4×4×128 → ConvT 8×8×1, tanh; D: Conv 4×4×64 → Conv+BN "
          "2×2×128 → Conv logit), BN in G and D (not D's input, not G's output), ReLU in G, "
          "LeakyReLU 0.2 in D, N(0, 0.02) init (BN N(1, 0.02), bias 0), no conv biases, BCE with "
          "real targets for G, Adam lr 2e-4 betas (0.5, 0.999), batch 128, images in [-1, 1]; "
          "labels as ours (embedding added to z, projection D); samples in train-mode BN; "
          "no EMA, no R1",
)

ABLATION_RECIPE = Recipe(
    name="DCGAN tutorial, our Adam",
    source="ablation: the tutorial's recipe with our optimiser settings",
    setup=functools.partial(theirs_setup, hp={**THEIRS, "lr": OURS["lr"], "betas": OURS["betas"]}),
    train_step=theirs_train_step, evaluate=theirs_evaluate, extras=_extras(_theirs_sample),
    notes="the PyTorch DCGAN tutorial's recipe above, except Adam lr 2e-3, betas (0, 0.9) (ours)",
)

LAB = Lab(
    key="gan",
    notebook="08_gan_lab",
    metric="digits FD (mean of 3 × 1,000 samples vs the training digits)",
    lower_is_better=True,
    budget_s=45.0,
    load_data=load_data,
    recipes=[OURS_RECIPE, THEIRS_RECIPE, ABLATION_RECIPE],
)
