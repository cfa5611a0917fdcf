"""Intervals and paired verdicts that cover both patient and training variation (scipy.stats).

A study's result varies with the test patients and with the training (its seed, and the fold's
training cases): on the demo, a hybrid's gain over no fine-tuning changed sign between seeds while
each seed's interval over patients excluded 0 (``benchmarks/demo_stability.py``). The values of a model form a table
of training runs (seed, fold) x test patients; a comparison of two models pairs them by run (the
same seed's source model, the same fold's split) and by patient. Then

* the figure is the mean over patients of each patient's run-averaged value (or paired difference);
* with two or more runs, its 95 % interval is a **two-level percentile bootstrap**: each resample
  draws the runs and the patients with replacement, so the interval widens with the spread between
  trainings as well as between patients (scipy's ``bootstrap`` resamples one level only);
* with one run, nothing measures training variation: the interval is scipy's percentile bootstrap
  over patients, and it is marked as such (:attr:`Estimate.covers_training`); a comparison then
  gives no verdict (:attr:`PairedComparison.distinguishable`);
* a comparison's **Wilcoxon signed-rank** p is over the patients' run-averaged differences.

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


@dataclass(frozen=True, kw_only=True)
class Sample:
    """What a figure was computed over: test patients, and the training runs (seeds x folds)."""

    patients: int
    seeds: int
    folds: int
    runs: int

    @property
    def covers_training(self) -> bool:
        """The interval covers the variation between trainings (two runs or more), not only patients."""
        return self.runs > 1


@dataclass(frozen=True)
class Estimate(Sample):
    """A model's mean over test patients (each averaged over its runs) with its 95 % interval."""

    mean: float
    low: float | None
    high: float | None
    """``None`` with fewer than two patients: no spread to resample."""
    seed_sd: float | None
    """SD across seeds of the per-seed mean over patients; ``None`` with one seed."""


@dataclass(frozen=True)
class PairedComparison(Sample):
    """``a - b``, paired by run and patient, averaged over runs per patient, then over patients."""

    difference: float
    low: float | None
    high: float | None
    p_value: float | None
    """Two-sided Wilcoxon signed-rank p; ``None`` with fewer than two patients."""

    @property
    def distinguishable(self) -> bool:
        """The interval covers training and patient variation and excludes 0: a verdict needs both."""
        return self.covers_training and self.low is not None and (self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class RunTable:
    """Values of runs x patients (NaN where undefined), patients defined in no run left out."""

    runs: list[Run]
    cases: list[str]
    values: np.ndarray

    @classmethod
    def of(cls, runs: Mapping[Run, PerPatient]) -> RunTable:
        order = sorted(runs)
        cases = sorted({case for run in order for case, value in runs[run].items() if value is not None})
        values = np.array([[np.nan if runs[run].get(case) is None else runs[run][case] for case in cases]
                           for run in order], dtype=float).reshape(len(order), len(cases))
        return cls(order, cases, values)

    def patient_means(self) -> np.ndarray:
        """Each patient's mean over the runs where it is defined."""
        return np.nanmean(self.values, axis=0)

    def interval(self) -> tuple[float, float] | None:
        """The 95 % interval of the mean of :meth:`patient_means` (module docstring)."""
        if len(self.cases) < 2:
            return None
        if len(self.runs) < 2:
            return bootstrap_interval(self.patient_means())
        return two_level_interval(self.values)

    def description(self) -> dict[str, int]:
        return {"patients": len(self.cases), "seeds": len({seed for seed, _ in self.runs}),
                "folds": len({fold for _, fold in self.runs}), "runs": len(self.runs)}


def patient_means(runs: Mapping[Run, PerPatient]) -> dict[str, float]:
    """case -> mean over the runs where the value is defined (cases defined in no run left out)."""
    table = RunTable.of(runs)
    return dict(zip(table.cases, map(float, table.patient_means())))


def bootstrap_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """Percentile bootstrap 95 % interval of the mean of ``values``; ``None`` for fewer than two."""
    if len(values) < 2:
        return None
    result = stats.bootstrap((np.asarray(values, dtype=float),), np.mean, n_resamples=RESAMPLES,
                             confidence_level=CONFIDENCE, method="percentile",
                             random_state=np.random.default_rng(BOOTSTRAP_SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def two_level_interval(values: np.ndarray) -> tuple[float, float]:
    """Percentile 95 % interval of the mean over patients (columns) of their mean over runs (rows),
    resampling rows and columns with replacement (NaN: undefined, left out of its patient's mean; a
    resampled patient undefined in every drawn run is left out of that resample)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n_runs, n_cases = values.shape
    rows = rng.integers(0, n_runs, (RESAMPLES, n_runs))
    columns = rng.integers(0, n_cases, (RESAMPLES, n_cases))
    drawn = values[rows[:, :, None], columns[:, None, :]]
    defined = ~np.isnan(drawn)
    counts = defined.sum(axis=1)
    per_patient = np.where(defined, drawn, 0.0).sum(axis=1) / np.maximum(counts, 1)
    means = (per_patient * (counts > 0)).sum(axis=1) / np.maximum((counts > 0).sum(axis=1), 1)
    means = means[(counts > 0).any(axis=1)]
    low, high = np.percentile(means, [100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2])
    return float(low), float(high)


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
    table = RunTable.of(runs)
    if not table.cases:
        return None
    seeds = sorted({seed for seed, _ in table.runs})
    per_seed = [fmean(means.values()) for seed in seeds
                if (means := patient_means({r: v for r, v in runs.items() if r[0] == seed}))]
    return Estimate(float(np.mean(table.patient_means())), *(table.interval() or (None, None)),
                    **table.description(), seed_sd=stdev(per_seed) if len(per_seed) > 1 else None)


def paired_comparison(a: Mapping[Run, PerPatient], b: Mapping[Run, PerPatient]) -> PairedComparison | None:
    """Model ``a`` against model ``b`` over the runs and patients both have a value for; ``None`` if none."""
    differences = {run: {case: a[run][case] - b[run][case] for case in a[run].keys() & b[run].keys()
                         if a[run][case] is not None and b[run][case] is not None}
                   for run in a.keys() & b.keys()}
    table = RunTable.of(differences)
    if not table.cases:
        return None
    per_patient = [float(d) for d in table.patient_means()]
    return PairedComparison(fmean(per_patient), *(table.interval() or (None, None)),
                            p_value=wilcoxon_p(per_patient), **table.description())
