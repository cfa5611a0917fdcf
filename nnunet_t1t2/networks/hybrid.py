"""The paper's hybrid transfer network: a frozen T1 encoder beside a T2 encoder, one decoder.

* ``adapted_encoder``: the source model's encoder (loaded from the source checkpoint by the
  trainer). Its parameters are frozen here, at construction, and it runs without an autograd
  graph, so it costs one forward pass and no activation memory. nnunet-t1t2's trainers also hold
  it in eval mode (batch-norm statistics stay the source's).
* ``encoder``: the dedicated encoder, same topology, trained from scratch on the target images.
* ``fusions``: one fusion module per resolution level (every skip and the bottleneck).
* ``decoder``: one decoder with deep supervision, fed the fused features.

``encoder`` and ``decoder`` keep the names nnU-Net expects (its deep-supervision switch sets
``network.decoder.deep_supervision``). The network is built from two instances of the source
network class, so it works for SEUNet, PlainConvUNet and ResidualEncoderUNet alike.
"""
from __future__ import annotations

import torch
from torch import nn

from nnunet_t1t2.networks.fusion import make_fusion


class HybridUNet(nn.Module):
    def __init__(self, adapted: nn.Module, dedicated: nn.Module, fusion: str):
        super().__init__()
        self.adapted_encoder = adapted.encoder.requires_grad_(False)
        self.encoder = dedicated.encoder
        self.decoder = dedicated.decoder
        self.fusions = nn.ModuleList(make_fusion(fusion, channels, dedicated.encoder.conv_op)
                                     for channels in dedicated.encoder.output_channels)

    def forward(self, x: torch.Tensor):
        with torch.no_grad():
            adapted = self.adapted_encoder(x)
        dedicated = self.encoder(x)
        return self.decoder([fuse(a, d) for fuse, a, d in zip(self.fusions, adapted, dedicated)])
