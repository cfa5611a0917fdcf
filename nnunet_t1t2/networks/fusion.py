"""Fusion of the adapted (T1) and dedicated (T2) encoder features at one resolution level.

One small module per operation, chosen by name (:data:`FUSIONS`). Multiplication, average and
maximum keep the channel count. Concatenation doubles it; a 1x1 convolution brings it back, so that
the decoder keeps the source network's shape (it can then start from the source decoder's
weights), and the extra memory is one doubled map per level instead of a twice-as-wide decoder,
which is what forced the paper to batch size 1 on a 16 GB GPU.
"""
from __future__ import annotations

from typing import Type

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd


class ConcatFusion(nn.Module):
    def __init__(self, channels: int, conv_op: Type[_ConvNd]):
        super().__init__()
        self.reduce = conv_op(2 * channels, channels, kernel_size=1)

    def forward(self, adapted: torch.Tensor, dedicated: torch.Tensor) -> torch.Tensor:
        return self.reduce(torch.cat((adapted, dedicated), dim=1))


class MulFusion(nn.Module):
    def forward(self, adapted: torch.Tensor, dedicated: torch.Tensor) -> torch.Tensor:
        return adapted * dedicated


class AvgFusion(nn.Module):
    def forward(self, adapted: torch.Tensor, dedicated: torch.Tensor) -> torch.Tensor:
        return (adapted + dedicated) / 2


class MaxFusion(nn.Module):
    def forward(self, adapted: torch.Tensor, dedicated: torch.Tensor) -> torch.Tensor:
        return torch.maximum(adapted, dedicated)


FUSIONS = {"concat": ConcatFusion, "mul": MulFusion, "avg": AvgFusion, "max": MaxFusion}


def make_fusion(name: str, channels: int, conv_op: Type[_ConvNd]) -> nn.Module:
    if name not in FUSIONS:
        raise ValueError(f"unknown fusion {name!r}; choose one of {sorted(FUSIONS)}")
    return ConcatFusion(channels, conv_op) if name == "concat" else FUSIONS[name]()
