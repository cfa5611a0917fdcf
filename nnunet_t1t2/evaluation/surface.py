"""Surface distances of one class in mm: the 95th-percentile Hausdorff distance and the average
symmetric surface distance, from SimpleITK's distance maps in physical spacing.

A class's surface is its contour voxels (``sitk.LabelContour``, face-connected: voxels of the class
with a face neighbour outside it, as MONAI's ``get_mask_edges`` finds them). Each surface voxel of one
mask has a distance to the nearest surface voxel of the other, read from the Euclidean distance map
of that surface (``sitk.SignedMaurerDistanceMap`` with the image spacing, so anisotropic voxels are
handled). Then, as in MONAI's ``compute_hausdorff_distance(percentile=95)`` and DeepMind's
``surface-distance``:

* ``HD95``: the larger of the two directed 95th percentiles (prediction -> reference, reference ->
  prediction), so an outlier piece in either mask counts;
* ``ASSD``: the mean of all distances of both directions together.

Distances are between voxel centres, so two identical masks give 0 and a mask shifted by whole
voxels gives the shift. A class missing from either mask has no surface to measure: both distances
are ``None`` (JSON ``null``), never inf or NaN, as the Dice of an empty class is.

The maps are computed on the bounding box of the two masks, padded by one voxel of background, which
holds every surface voxel of both (so the distances are those of the whole image) at a fraction of
the cost for small classes; the padding also makes a class that reaches the image's edge have a
surface there.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

DISTANCES = ("HD95", "ASSD")
"""Per-case distance metrics in mm; undefined where the class is missing from either image."""
PERCENTILE = 95


def surface_distances(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float]) -> dict[str, float | None]:
    """HD95 and ASSD (mm) between the boolean masks ``pred`` and ``ref`` (same shape, 2D or 3D),
    ``spacing`` in mm along the array's axes (nnU-Net's reader order)."""
    if pred.shape != ref.shape or len(spacing) != pred.ndim:
        raise ValueError(f"masks of shapes {pred.shape} and {ref.shape} with spacing {tuple(spacing)}")
    if not pred.any() or not ref.any():
        return dict.fromkeys(DISTANCES)
    box = _bounding_box(pred | ref)
    pred_surface, ref_surface = (_surface(_padded_image(mask[box], spacing)) for mask in (pred, ref))
    pred_to_ref = _distances_to(ref_surface, sitk.GetArrayFromImage(pred_surface) != 0)
    ref_to_pred = _distances_to(pred_surface, sitk.GetArrayFromImage(ref_surface) != 0)
    hd95 = max(np.percentile(pred_to_ref, PERCENTILE), np.percentile(ref_to_pred, PERCENTILE))
    assd = (pred_to_ref.sum() + ref_to_pred.sum()) / (pred_to_ref.size + ref_to_pred.size)
    return {"HD95": float(hd95), "ASSD": float(assd)}


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    box = []
    for axis in range(mask.ndim):
        present = np.flatnonzero(mask.any(axis=tuple(other for other in range(mask.ndim) if other != axis)))
        box.append(slice(int(present[0]), int(present[-1]) + 1))
    return tuple(box)


def _padded_image(mask: np.ndarray, spacing: Sequence[float]) -> sitk.Image:
    """``mask`` as a SimpleITK image with one voxel of background around it; SimpleITK's axes run
    opposite to numpy's, and so does its spacing."""
    image = sitk.GetImageFromArray(np.pad(mask, 1).astype(np.uint8))
    image.SetSpacing([float(s) for s in reversed(spacing)])
    return image


def _surface(mask: sitk.Image) -> sitk.Image:
    return sitk.LabelContour(mask, fullyConnected=False)


def _distances_to(surface: sitk.Image, at: np.ndarray) -> np.ndarray:
    """Distance (mm) from the voxels ``at`` to the nearest voxel of ``surface``. Every voxel of a
    surface lies on its own boundary, so the magnitude of its signed distance map is exactly the
    distance to the surface's voxels, in and outside the class alike."""
    distance_map = sitk.SignedMaurerDistanceMap(surface, insideIsPositive=False, squaredDistance=False,
                                                useImageSpacing=True)
    return np.abs(sitk.GetArrayViewFromImage(distance_map)[at]).astype(np.float64)
