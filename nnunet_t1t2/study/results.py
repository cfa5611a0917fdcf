"""The study's results as the report and the figures read them: scores with their intervals per
model, fold, test set and class, averages over folds, and each training's convergence record.

Two kinds of 95 % interval, as the evaluation computes them: *pooled* values are the metric of the
voxel counts summed over a test set's patients, with a Wilson interval (counting uncertainty only;
the kind the paper reports as ±); *per patient* values are the mean over the test patients with a
Student t interval across them (how the result varies from patient to patient). An average over
folds gets a t interval across the folds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

from nnunet_t1t2.evaluation import t_interval
from nnunet_t1t2.study.layout import Model, StudyLayout, trained_models
from nnunet_t1t2.study.protocol import Protocol


@dataclass(frozen=True)
class TissueClass:
    key: str
    """The class's key in the evaluation summary."""
    name: str
    paper: str | None
    """The paper's name for the class, where the paper reports it."""


CLASSES = (
    TissueClass("2", "Bone", "bone"),
    TissueClass("1", "Soft tissue", "soft_tissue"),
    TissueClass("(0, 3)", "Air, including the air around the head (the paper's air)", "air"),
    TissueClass("3", "Air inside the head", None),
)
#: The paper's metric names and the evaluation's.
METRICS = {"PRE": "Precision", "REC": "Recall", "DSC": "Dice", "JSC": "IoU"}


@dataclass(frozen=True)
class Score:
    value: float | None
    low: float | None = None
    high: float | None = None


class StudyResults:
    def __init__(self, layout: StudyLayout, protocol: Protocol):
        self.layout = layout
        self.protocol = protocol
        self.models = {(m.role, m.fold): m for m in trained_models(protocol)}
        self._files: dict[Path, dict | None] = {}

    def model(self, role: str, fold: int) -> Model | None:
        return self.models.get((role, fold))

    def summary(self, role: str, fold: int, test_set: str) -> dict | None:
        """The evaluation summary of a model on a test set, None where it was not evaluated."""
        model = self.model(role, fold)
        return self._read(self.layout.evaluation_file(model, test_set)) if model else None

    def pooled(self, role: str, fold: int, test_set: str, class_key: str, metric: str) -> Score | None:
        summary = self.summary(role, fold, test_set)
        if summary is None:
            return None
        interval = summary["ci95"]["pooled"][class_key][METRICS[metric]]
        return Score(summary["pooled"][class_key][METRICS[metric]], interval["low"], interval["high"])

    def per_patient(self, role: str, fold: int, test_set: str, class_key: str, metric: str) -> tuple[Score, int] | None:
        """Mean over the test patients with its t interval, and the number of patients in it."""
        summary = self.summary(role, fold, test_set)
        if summary is None:
            return None
        interval = summary["ci95"]["across_cases"][class_key][METRICS[metric]]
        return Score(summary["mean"][class_key][METRICS[metric]], interval["low"], interval["high"]), \
            interval["n_cases"]

    def evaluated_folds(self, role: str, test_set: str) -> list[int]:
        return [fold for (r, fold) in self.models if r == role and self.summary(r, fold, test_set) is not None]

    def overall(self, role: str, test_set: str, class_key: str, metric: str) -> Score | None:
        """A model's result over its evaluated folds: with one fold, that fold's pooled value and
        Wilson interval; with several, the mean of their pooled values and a t interval across the
        folds (the paper's "avg" rows)."""
        folds = self.evaluated_folds(role, test_set)
        if len(folds) == 1:
            return self.pooled(role, folds[0], test_set, class_key, metric)
        values = [self.pooled(role, fold, test_set, class_key, metric).value for fold in folds]
        values = [v for v in values if v is not None]
        if not values:
            return None
        return Score(fmean(values), *(t_interval(values) or (None, None)))

    def convergence(self, role: str, fold: int) -> dict | None:
        model = self.model(role, fold)
        return self._read(self.layout.fold_folder(model) / "convergence.json") if model else None

    def convergence_records(self, role: str) -> dict[int, dict]:
        """fold -> convergence record, for every finished training of ``role``."""
        records = {fold: self.convergence(r, fold) for (r, fold) in self.models if r == role}
        return {fold: record for fold, record in records.items() if record is not None}

    def _read(self, path: Path) -> dict | None:
        """A JSON file's content, None if it does not exist; each file read once."""
        if path not in self._files:
            self._files[path] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        return self._files[path]
