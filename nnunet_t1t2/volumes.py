"""Millilitres per label of a label image, one way for the conversion's manifest (the labels made
from CT) and for ``volumes.csv`` beside predictions (the labels of a model)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.labels import LABELS


def label_volumes_ml(labels: sitk.Image, label_map: Mapping[str, int] = LABELS) -> dict[str, float]:
    """Volume in millilitres of each foreground label of ``label_map`` (name -> value), a plausibility
    figure: a bone volume far from a head's few hundred millilitres points at a wrong threshold or model."""
    voxel_ml = float(np.prod(labels.GetSpacing())) / 1000.0
    counts = np.bincount(sitk.GetArrayViewFromImage(labels).ravel(), minlength=max(label_map.values()) + 1)
    return {name: round(float(counts[value]) * voxel_ml, 3) for name, value in label_map.items() if value}
