"""Sample a head on an image grid, with partial volume.

Each voxel is split into ``supersample`` sub-voxels (a regular lattice of sub-voxel centres); the
anatomy is evaluated at each, in head coordinates reached through the image's pose, and the voxel
gets the mean HU and the mean MR signal of its sub-voxels. The tissue map takes the tissue at the
voxel centre.

Sub-voxels are only evaluated where the 3x3x3 neighbourhood of voxel centres holds more than one
tissue; elsewhere the voxel is uniform. That is exact as long as no structure thinner than a voxel
has the same tissue on both sides (the anatomy keeps bone plates and septa thicker than the
voxels), and it saves most of the work. Only the part of the grid that the head's bounding box can
reach is evaluated, a few slices at a time so that memory stays bounded on 512x512 CT grids.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from nnunet_t1t2.phantom.anatomy import HeadAnatomy
from nnunet_t1t2.phantom.geometry import Grid, apply
from nnunet_t1t2.phantom.shapes import take
from nnunet_t1t2.phantom.tissues import Tissue

POINTS_PER_CHUNK = 1 << 18


@dataclass(frozen=True)
class Rendering:
    """Noise-free images on one grid, numpy (z, y, x) order."""

    tissue: np.ndarray  # uint8 tissue id at each voxel centre
    hu: np.ndarray  # float32 mean HU over each voxel (the patient only, outside = air)
    signal: np.ndarray  # float32 mean of the requested per-tissue signal over each voxel


def render(
    anatomy: HeadAnatomy,
    hu_table: np.ndarray,
    signal_table: np.ndarray,
    grid: Grid,
    head_from_physical: np.ndarray,
    supersample: tuple[int, int, int],
) -> Rendering:
    """Render ``anatomy`` on ``grid``. ``head_from_physical`` maps this image's physical space to
    head coordinates; ``hu_table`` and ``signal_table`` give each tissue's HU and signal."""
    head_from_index = (head_from_physical @ grid.physical_from_index()).astype(np.float32)
    tissue = np.full(grid.shape_zyx, Tissue.OUTSIDE_AIR, dtype=np.uint8)
    hu = np.full(grid.shape_zyx, hu_table[Tissue.OUTSIDE_AIR], dtype=np.float32)
    signal = np.full(grid.shape_zyx, signal_table[Tissue.OUTSIDE_AIR], dtype=np.float32)
    region = _head_region(anatomy, grid, head_from_index)
    if any(r.stop <= r.start for r in region):
        return Rendering(tissue, hu, signal)

    k_index, j_index, i_index = (np.arange(r.start, r.stop, dtype=np.float32) for r in region)
    slab = max(1, POINTS_PER_CHUNK // (len(j_index) * len(i_index)))
    centre_ids = np.concatenate([
        anatomy.tissue_at(_points(head_from_index, k_index[k0:k0 + slab, None, None], j_index[None, :, None], i_index[None, None, :]))
        for k0 in range(0, len(k_index), slab)
    ]).reshape(len(k_index), len(j_index), len(i_index))
    tissue[region] = centre_ids

    # Uniform voxels: the centre's tissue (bone density varies over centimetres, not within a voxel).
    mixed = ndimage.maximum_filter(centre_ids, size=3) != ndimage.minimum_filter(centre_ids, size=3)
    uniform_hu = hu_table[centre_ids]
    bone = np.nonzero((centre_ids == Tissue.CORTICAL_BONE) & ~mixed)
    uniform_hu[bone] *= anatomy.cortical_hu_scale(_points(head_from_index, k_index[bone[0]], j_index[bone[1]], i_index[bone[2]]))
    hu[region] = uniform_hu
    signal[region] = signal_table[centre_ids]

    # Mixed voxels: the mean over sub-voxels.
    offsets = (head_from_index[:3, :3] @ _subvoxel_offsets(supersample)).astype(np.float32)
    n_sub = offsets.shape[1]
    mixed_voxels = np.nonzero(mixed)
    step = max(1, POINTS_PER_CHUNK // n_sub)
    for start in range(0, len(mixed_voxels[0]), step):
        k, j, i = (v[start:start + step] for v in mixed_voxels)
        points = (_points(head_from_index, k_index[k], j_index[j], i_index[i])[:, :, None] + offsets[:, None, :]).reshape(3, -1)
        ids = anatomy.tissue_at(points)
        target = (k + region[0].start, j + region[1].start, i + region[2].start)
        hu[target] = _hu(anatomy, hu_table, ids, points).reshape(-1, n_sub).mean(axis=1)
        signal[target] = signal_table[ids].reshape(-1, n_sub).mean(axis=1)
    return Rendering(tissue, hu, signal)


def _points(head_from_index: np.ndarray, k, j, i) -> np.ndarray:
    """Head coordinates (3, N) of voxel indices given as broadcastable arrays of k, j, i."""
    m = head_from_index
    coords = [m[c, 3] + m[c, 0] * i + m[c, 1] * j + m[c, 2] * k for c in range(3)]
    return np.stack([c.ravel() for c in np.broadcast_arrays(*coords)])


def _hu(anatomy: HeadAnatomy, hu_table: np.ndarray, ids: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Noise-free HU at points: the tissue's HU, times the regional density factor for bone."""
    hu = hu_table[ids]
    bone = np.flatnonzero(ids == Tissue.CORTICAL_BONE)
    hu[bone] *= anatomy.cortical_hu_scale(take(points, bone))
    return hu


def _subvoxel_offsets(supersample: tuple[int, int, int]) -> np.ndarray:
    """Sub-voxel centres relative to the voxel centre, (3, S) in (x, y, z) index units."""
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in supersample]
    return np.stack(np.meshgrid(*axes, indexing="ij")).reshape(3, -1)


def _head_region(anatomy: HeadAnatomy, grid: Grid, head_from_index: np.ndarray) -> tuple[slice, slice, slice]:
    """The (z, y, x) slices of the grid whose voxels can touch the head's bounding box."""
    box_lo, box_hi = anatomy.bounds_mm
    corners = np.array(list(itertools.product(*zip(box_lo, box_hi))))
    index = apply(np.linalg.inv(head_from_index.astype(np.float64)), corners)
    size = np.array(grid.size)
    lo = np.clip(np.floor(index.min(axis=0)).astype(int) - 1, 0, size)
    hi = np.clip(np.ceil(index.max(axis=0)).astype(int) + 2, 0, size)
    return tuple(slice(a, b) for a, b in zip(lo[::-1], hi[::-1]))
