"""Head masks and the tissue labels derived from CT Hounsfield units.

Labels are thresholds of the CT after it has been resampled onto the MR grid: interpolating HU and
thresholding afterwards keeps partial-volume voxels honest, where interpolating a label map would
not. Everything outside the head mask is background, so the air around the head, the foam head
rest and the couch never become "air" or "soft tissue".
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.errors import UserError

LABELS = {"background": 0, "soft_tissue": 1, "bone": 2, "air": 3}


@dataclass(frozen=True)
class Thresholds:
    """HU thresholds: bone above ``bone_hu``, air below ``air_hu``, soft tissue in between; the head
    is what lies above ``head_hu`` (below the foam of a head rest, about -800 HU, and above fat,
    about -100 HU) once the couch and the holes are dealt with (:func:`ct_head_mask`)."""

    bone_hu: float = 600.0
    air_hu: float = -500.0
    head_hu: float = -400.0

    def __post_init__(self) -> None:
        if not self.air_hu < self.bone_hu:
            raise UserError(f"the air threshold ({self.air_hu:g} HU) must lie below the bone threshold "
                            f"({self.bone_hu:g} HU)")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def ct_head_mask(ct_hu: sitk.Image, head_hu: float) -> sitk.Image:
    """The head in a CT: voxels above ``head_hu``, reduced to the largest connected piece (the couch
    is separated from the head by the air gap of the head rest) with its enclosed holes (sinuses,
    airways inside the field of view) filled."""
    return _largest_component_filled(ct_hu > head_hu)


def mr_head_mask(mr: sitk.Image) -> sitk.Image:
    """The head in an MR image, found without the CT (Otsu threshold, largest connected piece, holes
    filled): the reference that a registered CT's head mask must agree with."""
    return _largest_component_filled(sitk.OtsuThreshold(mr, 0, 1))


def tissue_labels(ct_hu: sitk.Image, head_mask: sitk.Image, thresholds: Thresholds) -> sitk.Image:
    """Labels (:data:`LABELS`) on the grid of ``ct_hu`` and ``head_mask``, which must be the same."""
    hu = sitk.GetArrayViewFromImage(ct_hu)
    labels = np.full(hu.shape, LABELS["soft_tissue"], dtype=np.uint8)
    labels[hu > thresholds.bone_hu] = LABELS["bone"]
    labels[hu < thresholds.air_hu] = LABELS["air"]
    labels[sitk.GetArrayViewFromImage(head_mask) == 0] = LABELS["background"]
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(head_mask)
    return image


def dice(mask_a: sitk.Image, mask_b: sitk.Image) -> float:
    """Dice overlap of two binary masks on the same grid; 0 when both are empty."""
    a = sitk.GetArrayViewFromImage(mask_a) != 0
    b = sitk.GetArrayViewFromImage(mask_b) != 0
    total = np.count_nonzero(a) + np.count_nonzero(b)
    return 2.0 * np.count_nonzero(a & b) / total if total else 0.0


def label_volumes_ml(labels: sitk.Image) -> dict[str, float]:
    """Volume of each foreground label in millilitres, a plausibility figure for the manifest."""
    voxel_ml = float(np.prod(labels.GetSpacing())) / 1000.0
    counts = np.bincount(sitk.GetArrayViewFromImage(labels).ravel(), minlength=len(LABELS))
    return {name: round(float(counts[value]) * voxel_ml, 3) for name, value in LABELS.items() if value}


def _largest_component_filled(binary: sitk.Image) -> sitk.Image:
    """Holes are filled before the largest piece is chosen: a head whose dark skull separates scalp
    from brain (as on MR) then is one piece, not the brain alone."""
    filled = sitk.BinaryFillhole(binary)
    return sitk.RelabelComponent(sitk.ConnectedComponent(filled), sortByObjectSize=True) == 1
