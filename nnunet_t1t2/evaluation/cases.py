"""One case: read a prediction and its reference with nnU-Net's reader, check they share a grid,
count every class and measure its surface distances. Kept apart from the summary code so that worker processes import little."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from nnunetv2.evaluation.evaluate_predictions import region_or_label_to_mask
from nnunetv2.imageio.base_reader_writer import BaseReaderWriter

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.evaluation.classes import EvaluatedClass
from nnunet_t1t2.evaluation.metrics import confusion_counts, metrics_from_counts
from nnunet_t1t2.evaluation.surface import surface_distances


def evaluate_case(case: str, prediction_file: str, reference_file: str, reader: BaseReaderWriter,
                  classes: Sequence[EvaluatedClass]) -> dict:
    """One ``metric_per_case`` entry as nnU-Net writes it (plus the case id): overlap metrics, surface
    distances in mm and voxel counts per class key."""
    pred, pred_spacing = _read_segmentation(reader, prediction_file)
    ref, ref_spacing = _read_segmentation(reader, reference_file)
    if pred.shape != ref.shape:
        raise UserError(f"prediction {prediction_file} has shape {pred.shape[1:]} but reference "
                        f"{reference_file} has shape {ref.shape[1:]}")
    if not np.allclose(pred_spacing, ref_spacing, rtol=1e-5, atol=0):
        raise UserError(f"prediction {prediction_file} has voxel spacing {tuple(pred_spacing)} but reference "
                        f"{reference_file} has {tuple(ref_spacing)}")
    metrics = {}
    for evaluated in classes:
        counts = confusion_counts(pred, ref, evaluated.labels)
        distances = surface_distances(region_or_label_to_mask(pred[0], evaluated.labels),
                                      region_or_label_to_mask(ref[0], evaluated.labels), ref_spacing)
        metrics[evaluated.key] = {**metrics_from_counts(counts["TP"], counts["FP"], counts["FN"]), **distances,
                                  **counts}
    return {"case": case, "prediction_file": prediction_file, "reference_file": reference_file, "metrics": metrics}


def _read_segmentation(reader: BaseReaderWriter, path: str) -> tuple[np.ndarray, list[float]]:
    try:
        segmentation, properties = reader.read_seg(path)
    except Exception as e:  # the readers raise whatever their library raises for a broken file
        raise UserError(f"cannot read segmentation {path}: {e}") from None
    return segmentation, properties["spacing"]
