"""Freeze part of a network: no gradient, not in the optimizer, and held in eval mode.

Three things make a part of a network really frozen during nnU-Net training:

1. its parameters have ``requires_grad=False``, so autograd neither computes nor stores anything
   for them and backpropagation stops at the first trainable layer;
2. the optimizer never sees them (weight decay and momentum would otherwise still move them);
3. its modules stay in eval mode, although nnU-Net calls ``network.train()`` every epoch: batch
   norm would otherwise keep updating its running statistics (and dropout would stay on).

The frozen part is always derived from ``requires_grad`` (a module whose parameters are all
frozen is frozen), never stored separately, so it survives ``torch.compile``, DDP and
``SyncBatchNorm`` conversion, which keep the parameter objects but may replace modules.
"""
from __future__ import annotations

from typing import Iterable

from torch import nn
from torch._dynamo import OptimizedModule
from torch.nn.parallel import DistributedDataParallel


def unwrap(network: nn.Module) -> nn.Module:
    """The plain module inside nnU-Net's DDP and ``torch.compile`` wrappers."""
    if isinstance(network, DistributedDataParallel):
        network = network.module
    if isinstance(network, OptimizedModule):
        network = network._orig_mod
    return network


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def freeze_all_but(network: nn.Module, trainable: Iterable[str]) -> None:
    """Train only the parameters under the module names in ``trainable``; freeze the rest.

    Names are matched against ``named_parameters()``, whose names are canonical: a module
    registered twice (dynamic_network_architectures' decoder keeps a reference to the encoder)
    is listed once, under its first name.
    """
    network = unwrap(network)
    trainable = list(trainable)
    names = [name for name, _ in network.named_parameters()]
    unmatched = [p for p in trainable if not any(_under(n, p) for n in names)]
    if unmatched:
        raise ValueError(f"no parameters under {unmatched} in {type(network).__name__}")
    for name, parameter in network.named_parameters():
        parameter.requires_grad_(any(_under(name, p) for p in trainable))


def frozen_modules(network: nn.Module) -> list[str]:
    """The outermost modules that have parameters, all of them frozen."""
    frozen: list[str] = []
    for name, module in unwrap(network).named_modules():
        if any(_under(name, f) for f in frozen):
            continue
        parameters = list(module.parameters())
        if parameters and not any(p.requires_grad for p in parameters):
            frozen.append(name)
    return frozen


def hold_frozen_modules_in_eval(network: nn.Module) -> None:
    """Put every frozen module back into eval mode (call after ``network.train()``)."""
    plain = unwrap(network)
    for name in frozen_modules(plain):
        plain.get_submodule(name).eval()


def count_parameters(network: nn.Module) -> tuple[int, int]:
    """(trainable, total) number of parameter values."""
    parameters = list(unwrap(network).parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)
