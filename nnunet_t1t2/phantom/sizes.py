"""Image grids of the two phantom sizes.

``paper`` copies the paper's acquisitions: MR 256x256x250 at 0.86x0.86x1 mm, CT 512x512x150 at
0.97x0.97x1.5 mm, so its cortical tables (1.2-2.4 mm) and thin temporal bone and skull base
(2.5-4.5 mm) are resolved. ``small`` keeps 3D nnU-Net training on CPU cheap: MR voxels of
3x3x3.5 mm on a 72x76x70 grid that the head fills, and a CT that is coarser still (3.9x3.9x5 mm)
and on a differently shaped grid. At that size every bone plate is floored at 8 mm (2.7 MR voxels)
and sinus mucosa at 3.2 mm, so that CT-derived labels linearly resampled onto the MR grid still
match the truth (with the true transform: bone Dice ~0.94, soft tissue ~0.98, air ~0.85).

Fields of view are centred in each scanner's physical space, where the head sits near the origin
(MR isocentre); the CT's is shifted backwards to take in the head rest and the couch. The paper's CT
covers only 225 mm in z, less than the 230 mm from vertex to chin, so at ``paper`` size it is
centred on the cranium and the lowest ~15 mm of the MR field of view (chin, neck) has no CT.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nnunet_t1t2.phantom.geometry import Grid
from nnunet_t1t2.phantom.variation import PhantomVariation

#: Sub-voxel spacing aimed at when averaging over an MR voxel, and the most sub-voxels per axis.
SUBVOXEL_MM = 1.5
MAX_SUPERSAMPLE = 4


@dataclass(frozen=True)
class PhantomSize:
    name: str
    mr: Grid
    ct: Grid
    min_bone_mm: float
    mr_supersample: tuple[int, int, int]
    ct_supersample: tuple[int, int, int]


SIZES: dict[str, PhantomSize] = {
    "small": PhantomSize(
        name="small",
        mr=Grid.centred_on((0.0, 3.0, -17.5), (72, 76, 70), (3.0, 3.0, 3.5)),
        ct=Grid.centred_on((0.0, 25.0, -20.0), (72, 72, 56), (3.9, 3.9, 5.0)),
        min_bone_mm=8.0,
        mr_supersample=(2, 2, 2),
        ct_supersample=(2, 2, 3),
    ),
    "paper": PhantomSize(
        name="paper",
        mr=Grid.centred_on((0.0, 3.0, -20.0), (256, 256, 250), (0.86, 0.86, 1.0)),
        ct=Grid.centred_on((0.0, 25.0, -17.5), (512, 512, 150), (0.97, 0.97, 1.5)),
        min_bone_mm=1.5,
        mr_supersample=(2, 2, 2),
        ct_supersample=(2, 2, 2),
    ),
}


def varied_size(size: PhantomSize, variation: PhantomVariation) -> PhantomSize:
    """``size`` as ``variation`` acquires it: MR grids of its in-plane voxels and axial slices (each
    defaulting to the size's own), as other scanners and protocols acquire them, and MR and CT fields
    of view grown or shrunk with its head size, so that heads fill them as at the default. Sub-voxel
    sampling follows the voxel size, so that a thick slice averages what it holds (partial volume) as
    a real slice profile does."""
    if variation.mr_voxel_mm is None and variation.slice_mm is None and variation.head_scale == 1.0:
        return size
    spacing = np.array(size.mr.spacing, dtype=float)
    if variation.mr_voxel_mm is not None:
        spacing[:2] = variation.mr_voxel_mm
    if variation.slice_mm is not None:
        spacing[2] = variation.slice_mm
    mr = _scaled_grid(size.mr, variation.head_scale, spacing)
    ct = size.ct if variation.head_scale == 1.0 else _scaled_grid(size.ct, variation.head_scale, np.array(size.ct.spacing))
    supersample = tuple(int(np.clip(np.ceil(s / SUBVOXEL_MM), 2, MAX_SUPERSAMPLE)) for s in spacing)
    name = f"{size.name}-mr{spacing[0]:g}x{spacing[1]:g}x{spacing[2]:g}"
    if variation.head_scale != 1.0:
        name += f"-head{variation.head_scale:g}"
    return replace(size, name=name, mr=mr, ct=ct, mr_supersample=supersample)


def _scaled_grid(grid: Grid, scale: float, spacing: np.ndarray) -> Grid:
    """A grid of ``spacing`` whose field of view is ``grid``'s scaled by ``scale`` about the head's centre."""
    field_of_view = np.multiply(grid.size, grid.spacing) * scale
    centre = np.add(grid.origin, (np.array(grid.size) - 1) / 2 * np.array(grid.spacing)) * scale
    return Grid.centred_on(centre, np.maximum(np.rint(field_of_view / spacing), 2).astype(int), spacing)
