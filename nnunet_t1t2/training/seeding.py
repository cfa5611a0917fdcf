"""Seeding every random number generator an nnU-Net training draws from.

nnU-Net (2.8) seeds nothing for training. Its randomness comes from four generators:

* torch's global generator: weight initialisation, and the batchgeneratorsv2 transforms that draw
  with ``torch.rand``/``torch.normal`` (noise, blur, contrast, ...);
* numpy's global generator: the patch location and foreground oversampling in
  ``nnUNetDataLoader`` and the transforms that draw with ``np.random``;
* each data loader's own ``RandomState`` (``DataLoader.rs``, which picks the cases of a batch),
  created from operating-system entropy because nnU-Net passes no ``seed_for_shuffle``;
* Python's ``random`` (seeded too, so that no third-party transform escapes).

The trainer seeds the global generators before the network is built and again, together with new
data-loader generators, once the data loaders exist (nnU-Net draws one warm-up batch from them
before training). The data seed mixes in the epoch training starts from, so ``--c`` does not
replay the batches of epoch 0, and the DDP rank, so that GPUs do not train on identical batches.
"""
from __future__ import annotations

import random
from typing import Iterable

import numpy as np
import torch


def seed_global_generators(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def seed_data_loaders(augmenters: Iterable, seed: int, start_epoch: int, rank: int = 0) -> None:
    """Reseed the global generators and give the data loader inside each of nnU-Net's in-process
    ``augmenters`` (``SingleThreadedAugmenter.data_loader``) its own stream. Worker processes of a
    multi-process augmenter have been started already and draw from their own, unseeded state."""
    augmenters = list(augmenters)
    streams = np.random.SeedSequence([seed, start_epoch, rank]).generate_state(len(augmenters) + 1)
    seed_global_generators(int(streams[0]))
    for augmenter, stream in zip(augmenters, streams[1:]):
        loader = getattr(augmenter, "data_loader", None)
        if hasattr(loader, "rs"):
            loader.rs = np.random.RandomState(int(stream))


def deterministic_cudnn() -> None:
    """Deterministic cuDNN convolutions instead of the per-shape fastest ones nnU-Net asks for
    (``nnUNetv2_train`` sets ``cudnn.benchmark = True`` just before training starts)."""
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
