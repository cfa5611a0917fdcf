"""Voxel counts of one class and the paper's four overlap metrics, with explicit empty-class rules.

Every metric is a ratio, and a ratio with a zero denominator is *undefined*: it is returned as
``None`` (JSON ``null``, an empty CSV cell), never as NaN, and left out of across-case means.

=================  ============  ==================  ==========  ==========  =====================
reference          prediction    Precision           Recall      Dice, IoU   why
=================  ============  ==================  ==========  ==========  =====================
empty              empty         None                None        None        nothing to score
empty              not empty     0                   None        0           all predicted wrong
not empty          empty         None                0           0           all reference missed
not empty          not empty     defined (may be 0)  defined     defined
=================  ============  ==================  ==========  ==========  =====================

nnU-Net likewise gives NaN Dice when both are empty and drops it with ``nanmean``; here the same
case is an explicit ``None``. Pooled metrics follow the same rules on the summed counts, so they are
undefined only when a class is empty in every reference and every prediction.
"""
from __future__ import annotations

import numpy as np
from nnunetv2.evaluation.evaluate_predictions import compute_tp_fp_fn_tn, region_or_label_to_mask

METRICS = ("Precision", "Recall", "Dice", "IoU")
"""In the paper's column order PRE, REC, DSC, JSC; IoU is the Jaccard index, named as nnU-Net names it."""
COUNTS = ("TP", "FP", "FN", "TN", "n_ref", "n_pred")


def confusion_counts(pred: np.ndarray, ref: np.ndarray, labels: int | tuple[int, ...]) -> dict[str, int]:
    """Voxel counts of one class (a label, or a tuple of labels scored as one region) in a
    prediction against its reference, counted by nnU-Net's own evaluation functions and keyed as
    in its ``summary.json``."""
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from reference shape {ref.shape}")
    tp, fp, fn, tn = (int(count) for count in compute_tp_fp_fn_tn(region_or_label_to_mask(ref, labels),
                                                                   region_or_label_to_mask(pred, labels)))
    return {"TP": tp, "FP": fp, "FN": fn, "TN": tn, "n_ref": tp + fn, "n_pred": tp + fp}


def metrics_from_counts(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    """Precision, recall, Dice and IoU (Jaccard); ``None`` where undefined (see the module's table)."""
    return {
        "Precision": _ratio(tp, tp + fp),
        "Recall": _ratio(tp, tp + fn),
        "Dice": _ratio(2 * tp, 2 * tp + fp + fn),
        "IoU": _ratio(tp, tp + fp + fn),
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
