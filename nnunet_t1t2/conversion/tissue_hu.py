"""The Hounsfield units the patients' own CTs give each tissue label, recorded in ``conversion.json``.

A bulk-density pseudo-CT assigns one HU value per class. Literature values
(:data:`nnunet_t1t2.prediction.pseudo_ct.DEFAULT_HU`) fit neither every scanner nor our label
definition (bone is CT > 600 HU, so its typical value lies well above a contoured skull's), nor the
partial volume of a given voxel size; the registered CT on each MR grid says what they are here.

The median is used rather than the mean: it is the value that minimises the absolute error inside
the label, the error a pseudo-CT is judged by, and a few misregistered voxels at a label's edge do
not move it. Over a data set, the training cases' medians are summarised by their median, so that one
unusual patient does not move the values either. Values are whole HU, as a CT stores them, so a
pseudo-CT made from them holds exactly the recorded numbers.
"""
from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.labels import LABELS

CASE_KEY = "median_hu"
"""Key of a case's record: class name -> median HU of its registered CT inside the label (None where
the label is empty)."""
DATASET_KEY = "training_median_hu"
"""Key of the manifest's summary over the training cases (see :func:`training_median_hu`)."""


def median_hu_per_label(ct_hu: sitk.Image, labels: sitk.Image) -> dict[str, int | None]:
    """Median HU of ``ct_hu`` inside each foreground label of ``labels`` (same grid), whole HU."""
    hu, label = sitk.GetArrayViewFromImage(ct_hu), sitk.GetArrayViewFromImage(labels)
    return {name: _whole_median(hu[label == value]) for name, value in LABELS.items() if value}


def training_median_hu(cases: dict[str, dict]) -> dict:
    """Per class, the median over the training cases of their medians (``hu``), with the cases it
    rests on (``cases``); cases converted before the medians were recorded are left out."""
    training = {case: record[CASE_KEY] for case, record in cases.items() if not record["test"] and CASE_KEY in record}
    hu = {name: _whole_median(np.array([m[name] for m in training.values() if m.get(name) is not None]))
          for name, value in LABELS.items() if value}
    return {"hu": hu, "cases": sorted(training),
            "how": "median over the training cases of each case's median HU of its registered CT inside the label"}


def _whole_median(values: np.ndarray) -> int | None:
    return int(round(float(np.median(values)))) if values.size else None
