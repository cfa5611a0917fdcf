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

METRICS = ("Precision", "Recall", "Dice", "IoU")
"""In the paper's column order PRE, REC, DSC, JSC; IoU is the Jaccard index, named as nnU-Net names it."""
COUNTS = ("TP", "FP", "FN", "TN", "n_ref", "n_pred")


def confusion_counts(pred: np.ndarray, ref: np.ndarray, labels: int | tuple[int, ...]) -> dict[str, int]:
    """Voxel counts of one class (a label, or a tuple of labels scored as one) in a prediction
    against its reference, keyed as in nnU-Net's ``summary.json``."""
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from reference shape {ref.shape}")
    in_pred = np.isin(pred, labels)
    in_ref = np.isin(ref, labels)
    tp = int(np.count_nonzero(in_pred & in_ref))
    n_pred = int(np.count_nonzero(in_pred))
    n_ref = int(np.count_nonzero(in_ref))
    fp, fn = n_pred - tp, n_ref - tp
    return {"TP": tp, "FP": fp, "FN": fn, "TN": ref.size - tp - fp - fn, "n_ref": n_ref, "n_pred": n_pred}


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
