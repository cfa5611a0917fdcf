"""One scan through nnU-Net's own predictor, back on the scan's own grid.

nnU-Net's ``SimpleITKIO`` turns an image into a (channel, z, y, x) float32 array plus properties
(the reversed spacing nnU-Net resamples with, and SimpleITK's geometry, which it carries along
untouched). :func:`nnunet_arrays` builds exactly those from an image already in memory (a DICOM
series has no file that ``SimpleITKIO`` could open), so ``nnUNetPredictor`` preprocesses, runs its
sliding window and resamples back exactly as ``nnUNetv2_predict`` does for the same voxels; the
label array comes back in the input's shape and is given the input's origin, spacing and
direction.
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def nnunet_arrays(image: sitk.Image) -> tuple[np.ndarray, dict]:
    """What nnU-Net's ``SimpleITKIO.read_images`` returns for a 3D single-channel image."""
    array = sitk.GetArrayFromImage(image)[None].astype(np.float32, copy=False)
    properties = {
        "sitk_stuff": {"spacing": image.GetSpacing(), "origin": image.GetOrigin(),
                       "direction": image.GetDirection()},
        "spacing": list(np.abs(image.GetSpacing()[::-1])),
    }
    return array, properties


def predict_labels(predictor, image: sitk.Image) -> sitk.Image:
    """The label map that ``predictor`` (an initialised ``nnUNetPredictor``) gives for ``image``, on
    the same grid, stored as nnU-Net stores it (uint8, uint16 for 255 labels or more)."""
    array, properties = nnunet_arrays(image)
    segmentation = predictor.predict_single_npy_array(array, properties)
    segmentation = np.asarray(segmentation)
    labels = sitk.GetImageFromArray(segmentation.astype(np.uint8 if segmentation.max() < 255 else np.uint16))
    labels.CopyInformation(image)
    return labels
