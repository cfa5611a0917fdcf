"""95 % confidence intervals, across cases and over pooled voxel counts.

Across cases (:func:`t_interval`): the Student t interval of the mean of per-case values, with
n - 1 degrees of freedom. It assumes cases are independent and their mean roughly normal; it is
undefined (``None``) for fewer than two cases and is not clipped to [0, 1].

Pooled voxels (:func:`pooled_intervals`): precision TP/(TP+FP), recall TP/(TP+FN) and Jaccard
TP/(TP+FP+FN) are proportions of voxels, so each gets a Wilson score interval
(:func:`wilson_interval`). Dice = 2J/(1+J) is increasing in J, so its interval is the Jaccard
interval's endpoints mapped through that function (the same coverage as the Jaccard interval).
These intervals treat voxels as independent Bernoulli trials. Neighbouring voxels are strongly
correlated and cases differ, so the intervals are far too narrow to describe case-to-case
variation: they measure only the counting uncertainty of the pooled proportion, which is what the
paper's tiny half-widths (e.g. bone DSC 0.5393 ± 0.0007) appear to report. Use the across-case
interval to judge how a method generalises to new patients.
"""
from __future__ import annotations

from statistics import fmean
from typing import Sequence

from scipy import stats

CONFIDENCE = 0.95

Interval = tuple[float, float]


def wilson_interval(k: int, n: int) -> Interval | None:
    """Wilson score interval for a proportion of ``k`` successes in ``n`` trials (scipy's
    ``binomtest(k, n).proportion_ci(method="wilson")``); ``None`` for n = 0.

    Chosen over the normal (Wald) interval because it stays inside [0, 1] and keeps its coverage
    for proportions near 0 or 1, such as the precision of a nearly perfect class.
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return None
    interval = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(interval.low), float(interval.high)


def t_interval(values: Sequence[float]) -> Interval | None:
    """Student t interval of the mean of ``values`` (scipy's ``t.interval`` with n - 1 degrees of
    freedom and the standard error of the mean); ``None`` for fewer than two values, whose spread
    cannot be estimated. Identical values give the zero-width interval at their mean (scipy
    returns NaN for a zero scale)."""
    if len(values) < 2:
        return None
    mean, sem = fmean(values), float(stats.sem(values))
    if sem == 0:
        return mean, mean
    low, high = stats.t.interval(CONFIDENCE, len(values) - 1, loc=mean, scale=sem)
    return float(low), float(high)


def pooled_intervals(tp: int, fp: int, fn: int) -> dict[str, Interval | None]:
    """Intervals of the metrics of summed voxel counts, keyed as :data:`metrics.METRICS`; ``None``
    wherever the metric itself is undefined."""
    jaccard = wilson_interval(tp, tp + fp + fn)
    return {
        "Precision": wilson_interval(tp, tp + fp),
        "Recall": wilson_interval(tp, tp + fn),
        "Dice": None if jaccard is None else (_dice_from_jaccard(jaccard[0]), _dice_from_jaccard(jaccard[1])),
        "IoU": jaccard,
    }


def _dice_from_jaccard(jaccard: float) -> float:
    return 2 * jaccard / (1 + jaccard)
