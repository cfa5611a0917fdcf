"""CT acquisition: the patient's partial-volume HU plus the positioning hardware, blurred, noisy and
stored the way CT scanners store it.

The patient lies supine, so the back of the head points to +y (posterior) in the CT's physical
space. Under it lies a low-density foam head rest that cradles the back of the head and touches it,
and, below an air gap, the denser couch plate. Neither is part of the patient nor visible on MR;
a conversion has to remove them. A planning CT may also show devices moulded to the skin
(:mod:`.devices`), which take the head rest's place where they lie in it. Both are axis-aligned slabs in the scanner's frame (the CT grid is
axis-aligned too, as without gantry tilt), so their partial volume along y is computed exactly.

Storage: ``int16`` holds HU directly; ``uint16`` holds HU + 1024 with the NIfTI rescale intercept
set to -1024 (see :mod:`nnunet_t1t2.phantom.writer`), which readers such as SimpleITK apply.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import ndimage

from nnunet_t1t2.hounsfield import HU_RANGE
from nnunet_t1t2.phantom.geometry import Grid
from nnunet_t1t2.phantom.tissues import NOMINAL, N_TISSUES, Tissue

UINT16_OFFSET = 1024
CT_DTYPES = ("int16", "uint16")


@dataclass(frozen=True)
class CtAcquisition:
    noise_hu: float
    psf_sigma_mm: tuple[float, float, float]  # x, y, z; the slice profile comes from the voxel averaging
    head_rest_hu: float
    head_rest_cradle_mm: float  # how far up the back of the head the foam reaches
    head_rest_under_mm: float  # foam thickness below the lowest point of the head
    head_rest_half_width_mm: float
    couch_gap_mm: float
    couch_thickness_mm: float
    couch_hu: float

    def to_json(self) -> dict:
        return asdict(self)


def draw_ct_acquisition(rng: np.random.Generator) -> CtAcquisition:
    return CtAcquisition(
        noise_hu=float(rng.uniform(10.0, 20.0)),
        psf_sigma_mm=(float(rng.uniform(0.4, 0.7)),) * 2 + (float(rng.uniform(0.4, 0.8)),),
        head_rest_hu=float(NOMINAL[Tissue.HEAD_REST].hu + rng.uniform(-40, 40)),
        head_rest_cradle_mm=float(rng.uniform(25.0, 40.0)),
        head_rest_under_mm=float(rng.uniform(15.0, 25.0)),
        head_rest_half_width_mm=float(rng.uniform(80.0, 100.0)),
        couch_gap_mm=float(rng.uniform(10.0, 20.0)),
        couch_thickness_mm=float(rng.uniform(10.0, 16.0)),
        couch_hu=float(NOMINAL[Tissue.COUCH].hu + rng.uniform(-100, 100)),
    )


def body_table() -> np.ndarray:
    """Per-tissue indicator of the patient's body; its partial-volume mean is the body fraction."""
    table = np.ones(N_TISSUES, dtype=np.float32)
    table[Tissue.OUTSIDE_AIR] = 0.0
    return table


def acquire_ct(
    patient_hu: np.ndarray,
    body_fraction: np.ndarray,
    grid: Grid,
    acquisition: CtAcquisition,
    rng: np.random.Generator,
    devices: Sequence[tuple[float, np.ndarray]] = (),
) -> np.ndarray:
    """The scanner's HU image (int16, z, y, x) of a patient whose partial-volume HU and body
    fraction per voxel are given, with the head rest, the couch and ``devices`` (HU and fraction per
    voxel, :func:`~nnunet_t1t2.phantom.devices.device_fractions`), which displace the head rest's foam."""
    if not np.allclose(grid.direction, np.eye(3).ravel()):
        raise ValueError("CT grids are axis-aligned in the scanner's frame")
    a = acquisition
    air = NOMINAL[Tissue.OUTSIDE_AIR].hu
    x, y = (grid.origin[i] + grid.spacing[i] * np.arange(grid.size[i]) for i in (0, 1))
    body = body_fraction > 0.5
    back = body_extent_y(body, y, grid.spacing[1])[1]
    head_x = x[np.flatnonzero(body.any(axis=(0, 1)))].mean()

    foam_y = slab_fraction(y, grid.spacing[1], back - a.head_rest_cradle_mm, back + a.head_rest_under_mm)
    foam_x = np.abs(x - head_x) < a.head_rest_half_width_mm
    couch_top = back + a.head_rest_under_mm + a.couch_gap_mm
    couch_y = slab_fraction(y, grid.spacing[1], couch_top, couch_top + a.couch_thickness_mm)
    outside = 1.0 - body_fraction
    for _, fraction in devices:
        outside = outside - fraction
    foam = foam_y[None, :, None] * foam_x[None, None, :] * outside
    hu = patient_hu + (a.head_rest_hu - air) * foam + (a.couch_hu - air) * couch_y[None, :, None]
    for device_hu, fraction in devices:
        hu = hu + (device_hu - air) * fraction

    sigma_voxels = np.divide(a.psf_sigma_mm, grid.spacing)[::-1]
    hu = ndimage.gaussian_filter(hu.astype(np.float32), sigma_voxels, mode="nearest")
    hu += a.noise_hu * rng.standard_normal(hu.shape, dtype=np.float32)
    return np.clip(np.rint(hu), *HU_RANGE).astype(np.int16)


def encode_ct(hu: np.ndarray, dtype: str) -> tuple[np.ndarray, float]:
    """Stored CT values and the NIfTI rescale intercept that turns them back into HU."""
    if dtype == "int16":
        return hu, 0.0
    if dtype == "uint16":
        return (hu.astype(np.int32) + UINT16_OFFSET).astype(np.uint16), -float(UINT16_OFFSET)
    raise ValueError(f"unknown CT dtype {dtype!r}; expected one of {CT_DTYPES}")


def body_extent_y(body: np.ndarray, y: np.ndarray, spacing_y: float) -> tuple[float, float]:
    """The front and the back (lowest and highest y, mm) of the voxels of ``body`` (z, y, x) whose
    centres lie at ``y``, to the voxels' outer faces."""
    rows = np.flatnonzero(body.any(axis=(0, 2)))
    return y[rows[0]] - spacing_y / 2, y[rows[-1]] + spacing_y / 2


def slab_fraction(centres: np.ndarray, spacing: float, start: float, stop: float) -> np.ndarray:
    """Fraction of each voxel (centres along one axis) that lies in [start, stop]."""
    overlap = np.minimum(centres + spacing / 2, stop) - np.maximum(centres - spacing / 2, start)
    return np.clip(overlap / spacing, 0.0, 1.0).astype(np.float32)
