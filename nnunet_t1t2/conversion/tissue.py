"""Head masks and the tissue labels derived from CT Hounsfield units.

Labels are thresholds of the CT after it has been resampled onto the MR grid: interpolating HU and
thresholding afterwards keeps partial-volume voxels honest, where interpolating a label map would
not. Everything outside the head mask is background, so the air around the head, the foam head
rest, the couch and the devices moulded to a planning CT's patient never become "air" or "soft
tissue" (:func:`patient_head_mask`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.labels import LABELS
from nnunet_t1t2.options import setting


@dataclass(frozen=True)
class Thresholds:
    """HU thresholds: bone above ``bone_hu``, air below ``air_hu``, soft tissue in between. The head
    is what lies above ``head_hu`` (by default the air threshold: everything that is not air) once
    the couch and the enclosed air are dealt with (:func:`ct_head_mask`); the foam of a head rest
    (about -800 HU) stays below it."""

    bone_hu: float = setting(600.0, "--bone-hu", "bone above this HU")
    air_hu: float = setting(-500.0, "--air-hu", "air below this HU")
    head_hu: float = setting(-500.0, "--head-hu", "head mask threshold on CT")

    def __post_init__(self) -> None:
        if not self.air_hu < self.bone_hu:
            raise UserError(f"the air threshold ({self.air_hu:g} HU) must lie below the bone threshold "
                            f"({self.bone_hu:g} HU)")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def ct_head_mask(ct_hu: sitk.Image, head_hu: float) -> sitk.Image:
    """The head in a CT: voxels above ``head_hu`` with the air they enclose (:func:`fill_holes`),
    reduced to the largest connected piece (the couch is separated from the head by the air gap
    under the head rest)."""
    return _largest_component(fill_holes(ct_hu > head_hu))


def patient_head_mask(ct_head: sitk.Image, mr_head: sitk.Image, tolerance_mm: float) -> sitk.Image:
    """The patient's head on the MR grid: the registered CT's head (:func:`ct_head_mask`) inside the
    outline of the MR's own head mask (:func:`mr_head_mask`), its largest piece.

    A planning CT shows what holds the head still (head rests, moulded cushions, thermoplastic masks,
    bite blocks) against the skin, with HU from foam's to above water's, so no threshold tells them
    from skin and they join the CT's head. The MR shows none of them. Each image bounds the head
    where the other cannot: the MR, which needs no HU, at the skin; the CT, which needs no MR signal,
    inside and at the partial-volume edge, where the MR mask, taken just above the background noise,
    is the more generous of the two. Inside, the MR mask has gaps where tissue without MR signal
    (cortical bone, mastoid air cells) reaches the skin and opens a dark region to the outside air;
    the outline closes gaps narrower than ``tolerance_mm`` (the registration's, 1.5 MR voxels, so it
    scales with each image) and fills what they enclosed. The rule uses no device's HU and no size
    of any device; the outline is not grown by the tolerance, because a thermoplastic sheet is
    thinner than that, and CT tissue beyond the MR's skin is not in the MR image, whatever put it there."""
    radius = [max(1, round(tolerance_mm / spacing)) for spacing in mr_head.GetSpacing()]
    outline = fill_holes(sitk.BinaryMorphologicalClosing(mr_head, radius, sitk.sitkBall))
    return _largest_component(ct_head & outline)


def within_mm(mask: sitk.Image, distance_mm: float) -> sitk.Image:
    """``mask`` grown by ``distance_mm`` (physical distance, whatever the voxel shape)."""
    distance = sitk.SignedMaurerDistanceMap(mask, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    return distance <= distance_mm


def mr_head_mask(mr: sitk.Image) -> sitk.Image:
    """The head in an MR image, found without the CT: the reference that a registered CT's head mask
    must agree with. The triangle threshold sits just above the background noise peak of the
    histogram (Otsu would split the tissues instead and cut through muscle on T1); every second voxel
    along each axis gives the same histogram at an eighth of the cost. Holes are filled before the
    largest piece is taken, so that the dark skull and CSF do not cut the scalp off the brain."""
    triangle = sitk.TriangleThresholdImageFilter()
    triangle.Execute(mr[::2, ::2, ::2])
    return _largest_component(fill_holes(mr > triangle.GetThreshold()))


def fill_holes(mask: sitk.Image) -> sitk.Image:
    """``mask`` plus the background regions enclosed within their axial slice.

    Slice by slice rather than in 3D, because a field of view that ends in the neck opens the
    head at the bottom: in 3D, the airway would then count as outside air, and on MR the dark CSF
    and skull, which reach the bottom through the spinal canal, would too. Everything that 3D filling
    fills is filled this way as well. Axial is the image axis closest to the patient's head-foot
    direction."""
    array = sitk.GetArrayViewFromImage(mask)
    axial = _head_foot_array_axis(mask)
    in_slice = ndimage.generate_binary_structure(3, 1)
    in_slice[tuple(slice(None) if a != axial else [0, 2] for a in range(3))] = False
    regions, _ = ndimage.label(array == 0, structure=in_slice)
    borders = [np.take(regions, index, axis=a) for a in range(3) if a != axial for index in (0, -1)]
    outside = np.zeros(regions.max() + 1, dtype=bool)
    outside[np.unique(np.concatenate([border.ravel() for border in borders]))] = True
    outside[0] = False  # label 0: the mask itself
    filled = sitk.GetImageFromArray((~outside[regions]).astype(np.uint8))
    filled.CopyInformation(mask)
    return filled


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
    return float(2 * np.count_nonzero(a & b) / total) if total else 0.0


def _head_foot_array_axis(image: sitk.Image) -> int:
    """The numpy axis (z, y, x order) of the image axis most parallel to the patient's head-foot
    (LPS z) direction."""
    direction = np.reshape(image.GetDirection(), (3, 3))
    return 2 - int(np.argmax(np.abs(direction[2])))


def _largest_component(mask: sitk.Image) -> sitk.Image:
    return sitk.RelabelComponent(sitk.ConnectedComponent(mask), sortByObjectSize=True) == 1
