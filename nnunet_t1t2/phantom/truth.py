"""Ground-truth labels: what a perfect CT would give on an MR voxel.

A voxel's label comes from its noise-free, partial-volume HU (the mean over its sub-voxels, with
nothing but the patient in the scene): bone above 600 HU, air below -500 HU, soft tissue between.
The head is the tissue (>= -500 HU) with its enclosed holes filled; air outside it, including
air that reaches the edge of the field of view, is background. This is exactly the rule a
CT-based conversion applies, minus the CT's noise, blur, resolution and misregistration, so the
remaining differences are what the conversion itself costs.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from nnunet_t1t2.phantom.tissues import AIR, BACKGROUND, BONE, SOFT_TISSUE

BONE_ABOVE_HU = 600.0
AIR_BELOW_HU = -500.0


def labels_from_hu(hu: np.ndarray) -> np.ndarray:
    """uint8 labels (background, soft tissue, bone, air inside the head) of an HU volume."""
    tissue = hu >= AIR_BELOW_HU
    head = ndimage.binary_fill_holes(tissue)
    labels = np.full(hu.shape, BACKGROUND, dtype=np.uint8)
    labels[head] = SOFT_TISSUE
    labels[head & (hu > BONE_ABOVE_HU)] = BONE
    labels[head & ~tissue] = AIR
    return labels
