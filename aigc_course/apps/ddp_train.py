"""A real DistributedDataParallel run on CPU (chapter 14), launched with ``torchrun``::

    torchrun --standalone --nproc_per_node=2 -m aigc_course.apps.ddp_train --steps 30 --out w.safetensors

Every process (a *rank*) builds the same model from the same seed, reads its own shard of each
global batch (``DistributedSampler``: rank r takes samples r, r + world, ...), and DDP averages
the gradients over the ranks with an all-reduce (the ``gloo`` backend on CPU, ``nccl`` on GPUs)
before each optimizer step. So ``world`` ranks with local batch ``b`` take exactly the steps of
one process with batch ``world · b``: :func:`train_single` is that one process, and the notebook
checks that both end with the same weights. Rank 0 writes the final weights (safetensors).
"""

from __future__ import annotations

import argparse
import os

import torch
from torch import nn


def make_model(seed: int = 0) -> nn.Module:
    """A small MLP for the flattened 8×8 digits (64 → 64 → 10), initialised from ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def dataset() -> torch.utils.data.TensorDataset:
    """The training digits in a fixed order (the permutation is part of the experiment)."""
    from aigc_course.data import load_digits

    train = load_digits(flat=True).train
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    return torch.utils.data.TensorDataset(train.x[order], train.y[order])


def _batches(loader, steps: int):
    while True:  # cycle over epochs until `steps` batches are served
        for batch in loader:
            yield batch
            steps -= 1
            if steps == 0:
                return


def train_single(steps: int, global_batch: int, lr: float = 0.1, seed: int = 0) -> dict[str, torch.Tensor]:
    """The reference: one process, batch ``global_batch``, plain SGD. Returns the state dict."""
    data = dataset()
    n = len(data) - len(data) % global_batch  # the distributed sampler drops the same tail
    data = torch.utils.data.Subset(data, range(n))
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loader = torch.utils.data.DataLoader(data, batch_size=global_batch, shuffle=False)
    for x, y in _batches(loader, steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_ddp(steps: int, global_batch: int, lr: float = 0.1, seed: int = 0) -> dict[str, torch.Tensor] | None:
    """Run inside ``torchrun``: same training, split over the ranks. Rank 0 returns the state dict."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    from torch.utils.data.distributed import DistributedSampler

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if global_batch % world:
        raise ValueError(f"global_batch ({global_batch}) must be divisible by the world size ({world})")
    data = dataset()
    n = len(data) - len(data) % global_batch
    data = torch.utils.data.Subset(data, range(n))
    model = DDP(make_model(seed))  # broadcasts rank 0's weights; here they are equal anyway
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=False)
    loader = torch.utils.data.DataLoader(data, batch_size=global_batch // world, sampler=sampler)
    for x, y in _batches(loader, steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()  # DDP all-reduces (averages) the gradients here
        opt.step()
    state = {k: v.detach().clone() for k, v in model.module.state_dict().items()} if rank == 0 else None
    dist.destroy_process_group()
    return state


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--global-batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--out", required=True, help="where rank 0 writes the weights (.safetensors)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # each rank gets one core
    state = train_ddp(args.steps, args.global_batch, args.lr)
    if state is not None:
        from safetensors.torch import save_file

        save_file(state, args.out)
        print(f"rank 0 of {os.environ.get('WORLD_SIZE')}: saved {len(state)} tensors to {args.out}")


if __name__ == "__main__":
    main()
