"""Freezing under DistributedDataParallel, the wrapping nnU-Net applies for ``-num_gpus N``.

Two processes on the CPU (gloo) train a small SEUNet with batch norm, frozen as a conservative
fine-tuning freezes it, and the hybrid network (its adapted encoder frozen at construction), in
the order nnU-Net's trainer uses: freeze and build the optimizer over the trainable parameters
(``configure_optimizers``), wrap in DDP, then every iteration ``train()`` followed by our
``hold_frozen_modules_in_eval``. Each rank sees other data. Frozen tensors and batch-norm
statistics must stay bitwise as they were, trainable ones must move and be bitwise equal on both
ranks (DDP averages their gradients). nnU-Net also converts batch norm to SyncBatchNorm, which
trains on GPUs only; that it keeps the frozen part frozen is checked without a process group.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from nnunet_t1t2.networks.conv_layers import last_conv_layers
from nnunet_t1t2.networks.hybrid import HybridUNet
from nnunet_t1t2.networks.se_unet import SEUNet
from nnunet_t1t2.training.freezing import freeze_all_but, frozen_modules, hold_frozen_modules_in_eval, unwrap
from test_networks import TOPOLOGY

WORLD_SIZE, ITERATIONS = 2, 3


def conservative() -> nn.Module:
    network = SEUNet(**TOPOLOGY)
    freeze_all_but(network, last_conv_layers(network, 3))
    return network


def hybrid() -> nn.Module:
    return HybridUNet(adapted=SEUNet(**TOPOLOGY), dedicated=SEUNet(**TOPOLOGY), fusion="mul")


NETWORKS = {"conservative": conservative, "hybrid": hybrid}


def frozen_state(network: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of the frozen modules (batch-norm statistics included)."""
    prefixes = frozen_modules(network)
    return {name: tensor.detach().clone() for name, tensor in network.state_dict().items()
            if any(name.startswith(prefix + ".") for prefix in prefixes)}


def train_rank(rank: int, kind: str, folder: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=WORLD_SIZE)
    torch.manual_seed(0)  # the same initial network on both ranks, as loaded from one checkpoint
    network = NETWORKS[kind]()
    torch.save({"frozen": frozen_state(network), "initial": {k: v.clone() for k, v in network.state_dict().items()}},
               f"{folder}/initial_{rank}.pt")
    optimizer = torch.optim.SGD([p for p in network.parameters() if p.requires_grad], 0.01, momentum=0.99,
                                nesterov=True, weight_decay=3e-5)
    ddp = DistributedDataParallel(network)
    torch.manual_seed(1 + rank)  # each rank its own batches
    for _ in range(ITERATIONS):
        ddp.train()
        hold_frozen_modules_in_eval(ddp)
        optimizer.zero_grad()
        outputs = ddp(torch.randn(2, 1, 16, 16, 16))
        sum(o.square().mean() for o in outputs).backward()
        optimizer.step()
    torch.save(unwrap(ddp).state_dict(), f"{folder}/final_{rank}.pt")
    dist.destroy_process_group()


@pytest.mark.parametrize("kind", list(NETWORKS))
def test_frozen_part_stays_bitwise_and_trainable_part_agrees_across_ranks(tmp_path: Path, kind: str):
    mp.spawn(train_rank, args=(kind, str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    initial = torch.load(tmp_path / "initial_0.pt")
    finals = [torch.load(tmp_path / f"final_{rank}.pt") for rank in range(WORLD_SIZE)]
    frozen = initial["frozen"]
    assert any("running_mean" in name for name in frozen) and any("weight" in name for name in frozen)
    for final in finals:
        for name, tensor in frozen.items():
            assert torch.equal(final[name], tensor), f"frozen {name} changed"

    trainable = [name for name, p in NETWORKS[kind]().named_parameters() if p.requires_grad]
    assert trainable
    moved = [name for name in trainable if not torch.equal(finals[0][name], initial["initial"][name])]
    assert moved, "no trainable tensor moved"
    for name in trainable:
        assert torch.equal(finals[0][name], finals[1][name]), f"trainable {name} differs between the ranks"


@pytest.mark.parametrize("kind", list(NETWORKS))
def test_sync_batchnorm_conversion_keeps_the_frozen_part_frozen_and_in_eval(kind: str):
    network = NETWORKS[kind]()
    before = frozen_modules(network)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(network)
    assert frozen_modules(converted) == before
    converted.train()
    hold_frozen_modules_in_eval(converted)
    norms = [(name, m) for name, m in converted.named_modules() if isinstance(m, nn.SyncBatchNorm)]
    frozen_norms = [m for name, m in norms if any(name.startswith(prefix + ".") for prefix in before)]
    assert frozen_norms and not any(m.training for m in frozen_norms)
    assert any(m.training for name, m in norms if m not in frozen_norms)
