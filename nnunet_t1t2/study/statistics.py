"""Intervals and paired verdicts that cover both patient and training variation (scipy.stats).

A study's result varies with the test patients and with the training (its seed, and the fold's
training cases). The unit of the statistics is therefore the **test patient**: each patient's
value is first averaged over every training run of a model (seeds x folds), then

* :func:`estimate`: the mean over patients with a percentile **bootstrap over patients** 95 %
  interval, plus the spread between seeds (SD of the per-seed means) shown beside it;
* :func:`paired_comparison`: per-patient paired differences between two models, their mean with a
  bootstrap 95 % interval and a **Wilcoxon signed-rank** p.

Percentile bootstrap rather than BCa: a study's T2 test set is a handful of patients, where BCa's
jackknife acceleration is unstable and fails on ties (an all-zero class). The resampling uses a
fixed generator seed, so the same numbers give the same interval on every run (passed as
``random_state``, which every scipy the package supports takes).
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean, stdev
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 9999
#: Fixed so that a report is reproducible from its evaluation files.
BOOTSTRAP_SEED = 20240611

Run = tuple[int, int]
"""A training run of a model: (seed, fold)."""
PerPatient = Mapping[str, float | None]
"""case -> value (None where the metric is undefined for that case)."""


@dataclass(frozen=True)
class Estimate:
    """A model's mean over test patients (each averaged over its runs) with its bootstrap interval."""

    mean: float
    low: float | None
    high: float | None
    """``None`` with fewer than two patients: no spread to resample."""
    patients: int
    seeds: int
    seed_sd: float | None
    """SD across seeds of the per-seed mean over patients; ``None`` with one seed."""


@dataclass(frozen=True)
class PairedComparison:
    """``a - b`` per patient (each side averaged over its runs), over the patients both have."""

    difference: float
    low: float | None
    high: float | None
    p_value: float | None
    """Two-sided Wilcoxon signed-rank p; ``None`` with fewer than two patients."""
    patients: int
    seeds: int

    @property
    def distinguishable(self) -> bool:
        """The interval excludes 0 (a verdict needs an interval)."""
        return self.low is not None and (self.low > 0 or self.high < 0)


def patient_means(runs: Mapping[Run, PerPatient]) -> dict[str, float]:
    """case -> mean over the runs where the value is defined (cases defined in no run left out)."""
    cases = sorted({case for values in runs.values() for case in values})
    means = {}
    for case in cases:
        defined = [values[case] for values in runs.values() if values.get(case) is not None]
        if defined:
            means[case] = fmean(defined)
    return means


def bootstrap_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """Percentile bootstrap 95 % interval of the mean of ``values``; ``None`` for fewer than two."""
    if len(values) < 2:
        return None
    result = stats.bootstrap((np.asarray(values, dtype=float),), np.mean, n_resamples=RESAMPLES,
                             confidence_level=CONFIDENCE, method="percentile",
                             random_state=np.random.default_rng(BOOTSTRAP_SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def wilcoxon_p(differences: Sequence[float]) -> float | None:
    """Two-sided Wilcoxon signed-rank p of paired differences; 1.0 when all are 0 (nothing to rank),
    ``None`` for fewer than two."""
    if len(differences) < 2:
        return None
    if not any(differences):
        return 1.0
    return float(stats.wilcoxon(differences).pvalue)


def estimate(runs: Mapping[Run, PerPatient]) -> Estimate | None:
    """The mean over patients of their run-averaged values, its interval and the between-seed SD;
    ``None`` where no patient has a defined value."""
    means = patient_means(runs)
    if not means:
        return None
    values = list(means.values())
    seeds = sorted({seed for seed, _ in runs})
    per_seed = [fmean(means_of_seed.values()) for seed in seeds
                if (means_of_seed := patient_means({r: v for r, v in runs.items() if r[0] == seed}))]
    interval = bootstrap_interval(values)
    return Estimate(fmean(values), *(interval or (None, None)), patients=len(values), seeds=len(seeds),
                    seed_sd=stdev(per_seed) if len(per_seed) > 1 else None)


def paired_comparison(a: Mapping[Run, PerPatient], b: Mapping[Run, PerPatient]) -> PairedComparison | None:
    """Model ``a`` against model ``b`` on the patients both have a value for; ``None`` if none."""
    a_means, b_means = patient_means(a), patient_means(b)
    cases = sorted(a_means.keys() & b_means.keys())
    if not cases:
        return None
    differences = [a_means[case] - b_means[case] for case in cases]
    interval = bootstrap_interval(differences)
    seeds = len({seed for seed, _ in a} | {seed for seed, _ in b})
    return PairedComparison(fmean(differences), *(interval or (None, None)), p_value=wilcoxon_p(differences),
                            patients=len(cases), seeds=seeds)
