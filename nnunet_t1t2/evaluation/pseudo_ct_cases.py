"""What a user builds from a segmentation, scored per case: the bulk-density pseudo-CT of each
predicted label image (:func:`~nnunet_t1t2.prediction.pseudo_ct.pseudo_ct`) against the patient's
registered CT on the same grid, beside two references made from the same case: water inside the head
(what a pseudo-CT without any segmentation gives) and the same bulk HU on the CT's own labels (the
best a bulk-density pseudo-CT with these HU can do; the gap to it is the segmentation's share of
the error). Not imported by the package: it needs the prediction's pseudo-CT.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.evaluation.pseudo_ct_error import mean_absolute_error_hu
from nnunet_t1t2.evaluation.summary import mean_of_defined
from nnunet_t1t2.labels import LABELS
from nnunet_t1t2.prediction.pseudo_ct import pseudo_ct

#: The pseudo-CTs scored per case: from the prediction, and the two references.
IMAGES = ("predicted", "water", "ct_labels")
#: Where the error is averaged, in the reference labels: the head (every label but background) and its bone.
REGIONS = ("head", "bone")
#: The water-only reference's HU inside the head.
WATER_HU = 0
FILE_ENDING = ".nii.gz"


def pseudo_ct_errors(prediction_dir: str | Path, reference_dir: str | Path, ct_dir: str | Path,
                     hu: dict[str, int]) -> dict:
    """Per case of ``reference_dir`` (label images), the MAE in HU of each of :data:`IMAGES` in each of
    :data:`REGIONS`, the pseudo-CTs made with ``hu`` (class name -> HU); with ``hu`` and the mean over
    the cases. A case's prediction and CT have its file name in ``prediction_dir`` and ``ct_dir``."""
    cases = []
    for reference in sorted(Path(reference_dir).glob(f"*{FILE_ENDING}")):
        prediction, ct = Path(prediction_dir) / reference.name, Path(ct_dir) / reference.name
        cases.append({"case": reference.name.removesuffix(FILE_ENDING),
                      "mae_hu": case_errors(prediction, reference, ct, hu)})
    mean = {image: {region: mean_of_defined(c["mae_hu"][image][region] for c in cases) for region in REGIONS}
            for image in IMAGES}
    return {"hu": dict(hu), "cases": cases, "mean": mean}


def case_errors(prediction: Path, reference: Path, ct: Path, hu: dict[str, int]) -> dict[str, dict[str, float | None]]:
    """:data:`IMAGES` x :data:`REGIONS` -> MAE (HU) of one case."""
    arrays = {what: _read(path, what) for what, path in (("prediction", prediction), ("reference labels", reference),
                                                         ("registered CT", ct))}
    shapes = {what: array.shape for what, array in arrays.items()}
    if len(set(shapes.values())) > 1:
        raise UserError(f"{reference.name}: the prediction, the labels and the registered CT differ in size: {shapes}")
    labels, ct_hu = arrays["reference labels"], arrays["registered CT"]
    head = labels != LABELS["background"]
    regions = {"head": head, "bone": labels == LABELS["bone"]}
    images = {"predicted": _bulk(arrays["prediction"], hu), "water": np.where(head, WATER_HU, hu["background"]),
              "ct_labels": _bulk(labels, hu)}
    return {image: {region: mean_absolute_error_hu(values, ct_hu, regions[region]) for region in REGIONS}
            for image, values in images.items()}


def _bulk(labels: np.ndarray, hu: dict[str, int]) -> np.ndarray:
    return sitk.GetArrayFromImage(pseudo_ct(sitk.GetImageFromArray(labels), LABELS, hu))


def _read(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise UserError(f"{path}: no {what} of this case")
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
