"""Device-correct code, tested on a CPU-only machine.

A learner on a CUDA GPU has the model on ``cuda`` while prompts, labels and
``torch.Generator``\\ s are made on the CPU. Here the model goes to the ``meta`` device (a
second device that every machine has) and each public sample / generate / evaluate / metric
function runs under :class:`DeviceCheck`, which fails an op that

* mixes tensors of two devices (a CPU scalar ``[]`` is allowed, as CUDA allows it), or
* draws random numbers on one device with a ``torch.Generator`` of another (CUDA refuses it).

Meta tensors hold no values; reading one back on the host (``.cpu()``, ``.item()``, ``int()``)
returns stand-in values, so the functions run to the end.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode

from aigc_course.models import gpt, rnn
from aigc_course.models.classifier import DigitsCNN

META = torch.device("meta")
CPU = torch.device("cpu")
_READS = {torch.Tensor.item, torch.Tensor.__int__, torch.Tensor.__float__, torch.Tensor.__bool__,
          torch.Tensor.__index__, torch.Tensor.tolist}
_MOVES = {torch.Tensor.to, torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.copy_}
_FREE = {torch._has_compatible_shallow_copy_type}  # what Module.to asks before moving a tensor


class DeviceMismatch(AssertionError):
    pass


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


def _stand_in(t: torch.Tensor, all_true: set) -> torch.Tensor:
    """A CPU tensor shaped like the meta tensor ``t``. Floats are ``1 / t.shape[-1]`` (so rows
    of probabilities sum to 1 and pixels lie in [0, 1]), ints are 1 (a valid id or label),
    booleans are False (no value check fires), except the result of ``.all()``, True."""
    if t.dtype == torch.bool:
        return torch.full(t.shape, id(t) in all_true)
    if t.is_floating_point():
        return torch.full(t.shape, 1.0 / (t.shape[-1] if t.dim() else 1), dtype=t.dtype)
    return torch.ones(t.shape, dtype=t.dtype)


class DeviceCheck(TorchFunctionMode):
    """Raise :class:`DeviceMismatch` where an op mixes devices (see the module docstring)."""

    def __init__(self):
        super().__init__()
        self.all_true: dict[int, torch.Tensor] = {}  # results of .all() on meta, kept alive

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = list(_tensors(args)) + list(_tensors(kwargs))
        on_meta = [t for t in tensors if t.device == META]
        if func in _READS and on_meta:
            return func(_stand_in(on_meta[0], self.all_true), *args[1:], **kwargs)
        if func in _FREE or func in _MOVES and not on_meta:
            return func(*args, **kwargs)
        if func in _MOVES:
            if func is torch.Tensor.copy_:
                return func(*args, **kwargs)
            moved = func(torch.empty_like(args[0], device=CPU), *args[1:], **kwargs)
            if isinstance(moved, torch.Tensor) and moved.device == CPU:
                return _stand_in(args[0], self.all_true)
            if not isinstance(moved, torch.Tensor):  # .numpy()
                return _stand_in(args[0], self.all_true).numpy()
            return func(*args, **kwargs)
        devices = {t.device for t in tensors if t.dim() > 0 or t.device != CPU}
        if len(devices) > 1:
            raise DeviceMismatch(f"{_name(func)} mixes tensors on {sorted(map(str, devices))}")
        generator = kwargs.get("generator")
        if isinstance(generator, torch.Generator):
            target = kwargs.get("device")
            target = torch.device(target) if target is not None else \
                (devices.pop() if devices else CPU)
            if generator.device != target:
                raise DeviceMismatch(f"{_name(func)} draws on {target} with a generator on "
                                     f"{generator.device}")
        out = func(*args, **kwargs)
        if func in (torch.all, torch.Tensor.all) and on_meta:
            self.all_true[id(out)] = out
        return out


def _name(func) -> str:
    return getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))


# --------------------------------------------------------------------------- the checker itself
def test_device_check_catches_mixed_devices_and_foreign_generators():
    w = torch.ones(3, 2, device=META)
    with DeviceCheck():
        with pytest.raises(DeviceMismatch, match="mixes tensors"):
            torch.ones(1, 3) @ w
        with pytest.raises(DeviceMismatch, match="generator on cpu"):
            torch.randn(2, device=META, generator=torch.Generator())
        with pytest.raises(DeviceMismatch, match="generator on cpu"):
            torch.multinomial(torch.ones(2, 3, device=META), 1, generator=torch.Generator())
        assert (torch.ones(2, 3, device=META) * torch.tensor(2.0)).device == META  # CPU scalar
        assert (torch.ones(1, 3).to(META) @ w).cpu().shape == (1, 2)
        assert int(torch.ones((), device=META)) == 1  # a stand-in value
        assert bool(torch.isfinite(w).all()) and not bool((w < 0).any())


# --------------------------------------------------------------------------- the public functions
class MetaGenerator(torch.Generator):
    """Stands for a generator on the model's device (CUDA's, on a GPU): ``DeviceCheck`` reads
    ``.device``; the draws themselves work, as meta ops ignore the generator."""

    @property
    def device(self):
        return META


def _generators():
    return {"cpu generator": lambda: torch.Generator().manual_seed(0),
            "model-device generator": lambda: MetaGenerator().manual_seed(0)}


def _tiny_gpt():
    return gpt.GPT(gpt.GPTConfig.preset("tiny", vocab_size=11)).to(META)


def _prompt():
    return torch.zeros(2, 3, dtype=torch.long)


CASES = {
    "GPT.generate": lambda: _tiny_gpt().generate(_prompt(), 4),
    "GPT.generate top_k/top_p": lambda: _tiny_gpt().generate(_prompt(), 4, top_k=3, top_p=0.9),
    "GPT.generate no cache": lambda: _tiny_gpt().generate(_prompt(), 3, use_cache=False),
    "rnn.sample": lambda: rnn.sample(rnn.CharLSTM(11, 8, 16).to(META), torch.tensor([1, 2]), 4,
                                     top_k=3, generator=torch.Generator().manual_seed(0)),
    "rnn.bits_per_char": lambda: rnn.bits_per_char(rnn.CharLSTM(11, 8, 16).to(META),
                                                   torch.arange(200) % 11, streams=2, seq_len=8),
}


def _gan(ema=None, num_classes=None):
    from aigc_course.models.gan import GAN, DCDiscriminator, DCGenerator

    return GAN(DCGenerator(8, 8, num_classes), DCDiscriminator(8, num_classes=num_classes),
               ema=ema).to(META)


def _vae():
    from aigc_course.models.vae import ConvVAE

    return ConvVAE(4, 8).to(META)


def _images(n=6):
    return torch.rand(n, 1, 8, 8)


def _vae_case(name):
    from aigc_course.models import vae

    calls = {
        "sample": lambda m: m.sample(3, seed=0),
        "reconstruct": lambda m: m.reconstruct(_images()),
        "evaluate_elbo": lambda m: vae.evaluate_elbo(m, _images()),
        "importance_weighted_nll": lambda m: vae.importance_weighted_nll(m, _images(), k=2),
        "kl_per_dimension": lambda m: vae.kl_per_dimension(m, _images()),
        "active_units": lambda m: vae.active_units(m, _images()),
    }
    return calls[name](_vae())


def _diffusion_case(sampler, **kwargs):
    from aigc_course.models import diffusion

    model = diffusion.Denoiser(channels=8, blocks=1, num_classes=10, emb_dim=8).to(META)
    schedule = diffusion.NoiseSchedule.linear(4)
    fn = getattr(diffusion, sampler)
    kwargs.setdefault("generator", torch.Generator().manual_seed(0))
    return fn(model, schedule, torch.tensor([1, 2]), **kwargs)


def _metric_case(name):
    from aigc_course import metrics

    clf = DigitsCNN().to(META).eval()
    a, b = _images(8), _images(8)
    calls = {
        "digits_features": lambda: metrics.digits_features(a, clf),
        "digits_probabilities": lambda: metrics.digits_probabilities(a, clf),
        "digits_frechet_distance": lambda: metrics.digits_frechet_distance(a, b, clf),
        "digits_report": lambda: metrics.digits_report(a, b, clf),
    }
    return calls[name]()


CASES.update({
    "GAN.sample": lambda: _gan().sample(4, seed=0),
    "GAN.sample conditional + EMA": lambda: _gan(ema=0.9, num_classes=10).sample(4, seed=0),
    **{f"vae.{name}": (lambda name=name: _vae_case(name))
       for name in ("sample", "reconstruct", "evaluate_elbo", "importance_weighted_nll",
                    "kl_per_dimension", "active_units")},
    "ddpm_sample": lambda: _diffusion_case("ddpm_sample", guidance=1.0),
    "ddim_sample": lambda: _diffusion_case("ddim_sample", steps=2, eta=1.0, guidance=1.0),
    **{f"metrics.{name}": (lambda name=name: _metric_case(name))
       for name in ("digits_features", "digits_probabilities", "digits_frechet_distance",
                    "digits_report")},
})


for _kind, _make in _generators().items():
    CASES.update({
        f"GPT.generate, {_kind}": lambda m=_make: _tiny_gpt().generate(_prompt(), 3, generator=m()),
        f"rnn.sample, {_kind}": lambda m=_make: rnn.sample(
            rnn.CharLSTM(11, 8, 16).to(META), torch.tensor([1, 2]), 3, generator=m()),
        f"GAN.noise, {_kind}": lambda m=_make: _gan().noise(3, m()),
        f"ddpm_sample, {_kind}": lambda m=_make: _diffusion_case("ddpm_sample", generator=m()),
        f"ddim_sample, {_kind}": lambda m=_make: _diffusion_case("ddim_sample", steps=2, eta=1.0,
                                                                 generator=m()),
    })


@pytest.mark.parametrize("case", sorted(CASES))
def test_public_function_keeps_to_the_model_device(case):
    with DeviceCheck():
        CASES[case]()


# --------------------------------------------------------------------------- notebook policy
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
_RANDOM_OPS = {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial",
               "rand_like", "randn_like"}


def _code_cells(path: Path):
    for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "code":
            src = "".join(cell["source"])
            lines = [ln[:len(ln) - len(ln.lstrip())] + "pass" if ln.lstrip().startswith(("%", "!"))
                     else ln for ln in src.splitlines()]  # IPython magics and shell lines
            yield i, ast.parse("\n".join(lines))


def _last_name(node) -> str:
    """``f`` for ``f(...)``, ``a.b.f(...)``, and the innermost call of ``f(...).to(...).eval()``."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Call):
        node = node.func.value
    func = node.func if isinstance(node, ast.Call) else node
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _model_names(trees) -> set[str]:
    """Variables bound to a model: made by a class of ``aigc_course.models`` or by
    ``digits_classifier``."""
    makers = {"digits_classifier"}
    for tree in trees:
        for node in ast.walk(tree):
            module = getattr(node, "module", None) or ""
            if isinstance(node, ast.ImportFrom) and module.startswith("aigc_course.models"):
                makers |= {a.asname or a.name for a in node.names if a.name[:1].isupper()}
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                    and _last_name(node.value) in makers:
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _is_cpu_call(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr == "cpu"


def _is_cuda(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) \
        and node.value.split(":")[0] == "cuda"


def device_problems(path: Path) -> list[str]:
    """Cells of one notebook that hard-code CUDA, feed ``.cpu()`` tensors to a model, or drive
    a random op on a device with a CPU generator."""
    cells = list(_code_cells(path))
    models = _model_names([tree for _, tree in cells])
    problems = []
    for i, tree in cells:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func, name = node.func, _last_name(node.func)
            kwargs = {k.arg: k.value for k in node.keywords}
            if name == "cuda" and isinstance(func, ast.Attribute) or \
                    any(map(_is_cuda, node.args)) and name in ("to", "device") or \
                    _is_cuda(kwargs.get("device")):
                problems.append(f"cell {i}: hard-coded CUDA device (use ac.get_device())")
            callee = func.value if isinstance(func, ast.Attribute) else func
            if isinstance(callee, ast.Name) and callee.id in models \
                    and any(map(_is_cpu_call, list(node.args) + list(kwargs.values()))):
                problems.append(f"cell {i}: a .cpu() tensor goes into model {callee.id!r}")
            gen, dev = kwargs.get("generator"), kwargs.get("device")
            if name in _RANDOM_OPS and isinstance(gen, ast.Call) and dev is not None \
                    and _last_name(gen) in ("Generator", "manual_seed") \
                    and not any(k.arg == "device" for c in ast.walk(gen) if isinstance(c, ast.Call)
                                for k in c.keywords) \
                    and not (isinstance(dev, ast.Constant) and dev.value == "cpu"):
                problems.append(f"cell {i}: {name} on a device with a CPU torch.Generator()")
    return problems


def test_device_policy_flags_the_patterns_that_crash_on_a_gpu(tmp_path):
    cells = ['x = torch.randn(2, 3).to("cuda")',
             ('from aigc_course.models.gpt import GPT\nmodel = GPT(cfg).to(device)\n'
              'out = model.generate(prompt.cpu(), 5)'),
             'z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0), device=device)',
             ('ok = torch.randn(4, generator=torch.Generator(device=device), device=device)\n'
              'if device.type == "cuda":\n    pass\nmodel(x.to(device))')]
    nb = {"cells": [{"cell_type": "code", "source": c} for c in cells]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert device_problems(path) == [
        "cell 0: hard-coded CUDA device (use ac.get_device())",
        "cell 1: a .cpu() tensor goes into model 'model'",
        "cell 2: randn on a device with a CPU torch.Generator()"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_keep_to_one_device(path):
    assert device_problems(path) == []
