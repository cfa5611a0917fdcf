"""From per-case results to nnU-Net's ``summary.json`` layout, extended with pooled metrics and CIs.

nnU-Net's keys keep their meaning: ``metric_per_case``, ``mean`` (per class, over the cases where a
metric is defined) and ``foreground_mean`` (over the data set's own labels). Added:

* per case and in ``mean``, ``HD95`` and ``ASSD``: surface distances in mm (:mod:`.surface`), null where
  the class is missing from either image; they have no pooled value (distances do not add up over
  cases like voxel counts), so ``pooled`` and ``ci95.pooled`` hold none;
* ``classes``: key -> name and label values;
* ``pooled``: the metrics of the voxel counts summed over all cases, and those sums;
* ``ci95``: ``across_cases`` (t interval of the per-case values, with ``n_cases``, the number of
  cases where the metric was defined, i.e. that entered ``mean``) and ``pooled`` (Wilson interval
  of the pooled proportion), each ``{"low": ..., "high": ...}``, ``null`` where undefined, and
  ``method``, the two methods in words.
"""
from __future__ import annotations

from statistics import fmean
from typing import Iterable, Sequence

from nnunet_t1t2.evaluation.classes import EvaluatedClass
from nnunet_t1t2.evaluation.intervals import Interval, pooled_intervals, t_interval
from nnunet_t1t2.evaluation.metrics import COUNTS, METRICS, metrics_from_counts
from nnunet_t1t2.evaluation.surface import DISTANCES

CI_METHODS = {
    "across_cases": "Student t interval of the mean over cases where the metric is defined (n_cases), "
                    "n_cases - 1 degrees of freedom; null for fewer than 2 cases",
    "pooled": "Wilson score interval of precision, recall and Jaccard (IoU) as voxel proportions of the "
              "summed counts; Dice from the Jaccard endpoints via D = 2J/(1+J); assumes independent "
              "voxels, so it reflects counting uncertainty only, not case-to-case variation",
}


def summarize(metric_per_case: list[dict], classes: Sequence[EvaluatedClass]) -> dict:
    """The extended summary of per-case results (as made by :func:`cases.evaluate_case`)."""
    mean, across_cases, pooled, pooled_ci = {}, {}, {}, {}
    label_keys = [evaluated.key for evaluated in classes if evaluated.is_label]
    for evaluated in classes:
        key = evaluated.key
        per_case = [case["metrics"][key] for case in metric_per_case]
        mean[key], across_cases[key] = {}, {}
        for metric in (*METRICS, *DISTANCES):
            defined = [result[metric] for result in per_case if result[metric] is not None]
            mean[key][metric] = mean_of_defined(defined)
            across_cases[key][metric] = {**_bounds(t_interval(defined)), "n_cases": len(defined)}
        totals = {count: sum(result[count] for result in per_case) for count in COUNTS}
        pooled[key] = {**metrics_from_counts(totals["TP"], totals["FP"], totals["FN"]), **totals}
        pooled_ci[key] = {metric: _bounds(interval) for metric, interval in
                          pooled_intervals(totals["TP"], totals["FP"], totals["FN"]).items()}
    return {
        "classes": {evaluated.key: {"name": evaluated.name, "labels": list(evaluated.labels)}
                    for evaluated in classes},
        "metric_per_case": metric_per_case,
        "mean": mean,
        "foreground_mean": {metric: mean_of_defined(mean[key][metric] for key in label_keys)
                            for metric in (*METRICS, *DISTANCES)},
        "pooled": pooled,
        "ci95": {"across_cases": across_cases, "pooled": pooled_ci, "method": dict(CI_METHODS)},
    }


def mean_of_defined(values: Iterable[float | None]) -> float | None:
    defined = [value for value in values if value is not None]
    return fmean(defined) if defined else None


def _bounds(interval: Interval | None) -> dict[str, float | None]:
    low, high = interval if interval is not None else (None, None)
    return {"low": low, "high": high}
