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


def with_mr_voxels(size: PhantomSize, voxel_mm: float | None = None, slice_mm: float | None = None) -> PhantomSize:
    """``size`` with MR grids of ``voxel_mm`` in-plane and ``slice_mm`` thick axial slices (each
    defaulting to the size's own) covering the same field of view, as other scanners and protocols
    acquire it. Sub-voxel sampling follows the voxel size, so that a thick slice averages what it
    holds (partial volume) as a real slice profile does."""
    spacing = np.array(size.mr.spacing, dtype=float)
    if voxel_mm is not None:
        spacing[:2] = voxel_mm
    if slice_mm is not None:
        spacing[2] = slice_mm
    if np.any(spacing <= 0):
        raise ValueError(f"MR voxel sizes must be positive, not {spacing.tolist()}")
    field_of_view = np.multiply(size.mr.size, size.mr.spacing)
    centre = np.add(size.mr.origin, (np.array(size.mr.size) - 1) / 2 * np.array(size.mr.spacing))
    grid = Grid.centred_on(centre, np.maximum(np.rint(field_of_view / spacing), 2).astype(int), spacing)
    supersample = tuple(int(np.clip(np.ceil(s / SUBVOXEL_MM), 2, MAX_SUPERSAMPLE)) for s in spacing)
    name = f"{size.name}-mr{spacing[0]:g}x{spacing[1]:g}x{spacing[2]:g}"
    return replace(size, name=name, mr=grid, mr_supersample=supersample)
