"""Squeeze-and-excitation blocks for 2D and 3D feature maps.

Three recalibrations, each a small module that multiplies its input by a learned gate:

* :class:`ChannelSE` (cSE, Hu et al. 2018): global average pooling squeezes space, a bottleneck
  of two 1x1 convolutions excites channels.
* :class:`SpatialSE` (sSE, Roy et al. 2018): a 1x1 convolution squeezes channels, a sigmoid
  excites every voxel.
* :class:`SqueezeExcitation` combines them by name (``SE_MODES``):

  - ``"cse_sse"`` (default): cSE then sSE in sequence, the recalibration of the authors' earlier
    network (Mecheter et al., Neurocomputing 2022) that the T1-to-T2 paper builds on;
  - ``"scse"``: concurrent spatial and channel SE of Roy et al. (MICCAI 2018), ``cSE(x) + sSE(x)``;
  - ``"cse"`` or ``"sse"`` alone.

Each block reports the size of the feature maps it creates, so that nnU-Net's VRAM estimate
(``compute_conv_feature_map_size``) stays right when the block sits inside a conv stack.
"""
from __future__ import annotations

from typing import Type

import numpy as np
import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

SE_MODES = ("cse_sse", "scse", "cse", "sse")


class ChannelSE(nn.Module):
    """Spatial squeeze, channel excitation: ``x * sigmoid(W2 relu(W1 mean_space(x)))``."""

    def __init__(self, channels: int, conv_op: Type[_ConvNd], reduction: int = 2):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = conv_op(channels, hidden, kernel_size=1)
        self.fc2 = conv_op(hidden, channels, kernel_size=1)
        self.nonlin = nn.ReLU(inplace=True)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=tuple(range(2, x.ndim)), keepdim=True)
        return torch.sigmoid(self.fc2(self.nonlin(self.fc1(pooled))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class SpatialSE(nn.Module):
    """Channel squeeze, spatial excitation: ``x * sigmoid(conv1x1(x))``, one gate per voxel."""

    def __init__(self, channels: int, conv_op: Type[_ConvNd]):
        super().__init__()
        self.conv = conv_op(channels, 1, kernel_size=1)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class SqueezeExcitation(nn.Module):
    """cSE and/or sSE combined as ``mode`` says (see the module docstring)."""

    def __init__(self, channels: int, conv_op: Type[_ConvNd], mode: str = "cse_sse", reduction: int = 2):
        super().__init__()
        if mode not in SE_MODES:
            raise ValueError(f"unknown squeeze-and-excitation mode {mode!r}; choose one of {SE_MODES}")
        self.mode = mode
        self.channels = channels
        self.cse = ChannelSE(channels, conv_op, reduction) if mode != "sse" else None
        self.sse = SpatialSE(channels, conv_op) if mode != "cse" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "scse":
            return self.cse(x) + self.sse(x)
        if self.cse is not None:
            x = self.cse(x)
        if self.sse is not None:
            x = self.sse(x)
        return x

    def compute_conv_feature_map_size(self, input_size: list[int]) -> np.int64:
        """Voxels of the maps this block creates: one recalibrated map per stage, plus the
        intermediate map in the sequential and concurrent modes and the one-channel spatial gate."""
        maps_full = 2 if self.mode in ("cse_sse", "scse") else 1
        spatial_gate = 1 if self.sse is not None else 0
        return np.prod([maps_full * self.channels + spatial_gate, *input_size], dtype=np.int64)
