"""The study's results as the report and the figures read them: per condition (role and T2 training
size) and its runs (seed, fold), test set and class, the per-patient values, the pooled scores, and
each training's convergence record.

Every per-patient value is read once into one tidy table (:meth:`StudyResults.observations`: one
:class:`Observation` per condition x run x test set x patient x class x metric), from which every
estimate and comparison is drawn: an observation's run (seed, fold: :data:`~.statistics.Run`) is
what the statistics average and resample as replicates, its condition (strategy, T2 training size:
:class:`~.layout.Condition`) what the report compares.

The primary figure (:meth:`StudyResults.estimate`) is the mean over test patients of each
patient's value averaged over the model's training runs (seeds x folds), with a bootstrap interval
over patients and the between-seed spread (:mod:`.statistics`). The *paper-style* values are the
metric of the voxel counts summed over a test set's patients, with a Wilson interval (counting
uncertainty only; the kind the paper reports as ±); an average over runs gets a t interval across
the runs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

from nnunet_t1t2.evaluation import DISTANCES, t_interval
from nnunet_t1t2.evaluation.pseudo_ct_cases import IMAGES, REGIONS
from nnunet_t1t2.study.layout import TEST_SETS, Condition, Model, StudyLayout, condition_at, trained_models
from nnunet_t1t2.study.protocol import Protocol
from nnunet_t1t2.study.statistics import Estimate, PairedComparison, Run, estimate, paired_comparison


#: ``t2_size`` of :meth:`StudyResults.condition` when not given: the protocol's main size.
MAIN_SIZE = "main"
#: The paper's metric names and the evaluation's.
METRICS = {"PRE": "Precision", "REC": "Recall", "DSC": "Dice", "JSC": "IoU"}
#: Every per-case value the study reads, by a table's name for it and the evaluation's: the paper's
#: overlap metrics and the surface distances in mm (which have no pooled value).
PER_CASE = {**METRICS, **{distance: distance for distance in DISTANCES}}


#: An observation's class key for a value of the whole case (a pseudo-CT error).
WHOLE_CASE = ""


def pseudo_ct_metric(image: str, region: str) -> str:
    """The metric name of a pseudo-CT error in the table: "MAE predicted head"."""
    return f"MAE {image} {region}"


@dataclass(frozen=True)
class Observation:
    """One row of the tidy table: a value of one test patient."""
    condition: Condition
    run: Run
    test_set: str
    case: str
    class_key: str
    """The evaluation's class key ("2", "(0, 3)"), or :data:`WHOLE_CASE`."""
    metric: str
    """The evaluation's name of a per-case metric (``Dice``, ``HD95``), or :func:`pseudo_ct_metric`'s."""
    value: float | None


@dataclass(frozen=True)
class Score:
    value: float | None
    low: float | None = None
    high: float | None = None


class StudyResults:
    """Looked up by condition (:class:`~.layout.Condition`: role and T2 training size), whose models
    are its runs (seed, fold). A role alone stands for its condition at the protocol's main size
    (:attr:`~.protocol.Protocol.main_t2_size`), so the per-strategy tables read as without the size axis."""

    def __init__(self, layout: StudyLayout, protocol: Protocol):
        self.layout = layout
        self.protocol = protocol
        self.models = tuple(trained_models(protocol))
        self.runs_of: dict[Condition, dict[Run, Model]] = {}
        for model in self.models:
            self.runs_of.setdefault(model.condition, {})[model.run] = model
        self._files: dict[Path, dict | None] = {}
        self._values: dict[tuple[Condition, str, str, str], dict[Run, dict[str, float | None]]] | None = None

    def condition(self, role: str | Condition, t2_size: int | None = MAIN_SIZE) -> Condition:
        """``role`` at ``t2_size`` (default: the main size); a condition as it is."""
        if isinstance(role, Condition):
            return role
        return condition_at(self.protocol, role, self.protocol.main_t2_size if t2_size is MAIN_SIZE else t2_size)

    def model(self, condition: str | Condition, run: Run) -> Model | None:
        return self.runs_of.get(self.condition(condition), {}).get(run)

    def summary(self, model: Model | None, test_set: str) -> dict | None:
        """The evaluation summary of a model on a test set, None where it was not evaluated."""
        return self._read(self.layout.evaluation_file(model, test_set)) if model else None

    def evaluated(self, condition: str | Condition, test_set: str) -> dict[Run, dict]:
        """Run -> evaluation summary, for every evaluated run of ``condition``."""
        summaries = {run: self.summary(model, test_set)
                     for run, model in sorted(self.runs_of.get(self.condition(condition), {}).items())}
        return {run: summary for run, summary in summaries.items() if summary is not None}

    def observations(self) -> list[Observation]:
        """The tidy table: every per-case value of every evaluation file and pseudo-CT file on disk."""
        rows = []
        for model in self.models:
            for test_set in TEST_SETS:
                summary = self.summary(model, test_set)
                for case in summary["metric_per_case"] if summary else ():
                    rows += [Observation(model.condition, model.run, test_set, case["case"], key, metric, value)
                             for key, values in case["metrics"].items() for metric, value in values.items()
                             if metric in PER_CASE.values()]
                scored = self._read(self.layout.pseudo_ct_file(model, test_set))
                for case in scored["cases"] if scored else ():
                    rows += [Observation(model.condition, model.run, test_set, case["case"], WHOLE_CASE,
                                         pseudo_ct_metric(image, region), case["mae_hu"][image][region])
                             for image in IMAGES for region in REGIONS]
        return rows

    def values(self, condition: str | Condition, test_set: str, class_key: str,
               metric: str) -> dict[Run, dict[str, float | None]]:
        """(seed, fold) -> case -> value of the table's rows of one condition, test set, class and
        metric (the table's own names), runs in order."""
        if self._values is None:
            self._values = {}
            for row in self.observations():
                per_run = self._values.setdefault((row.condition, row.test_set, row.class_key, row.metric), {})
                per_run.setdefault(row.run, {})[row.case] = row.value
        found = self._values.get((self.condition(condition), test_set, class_key, metric), {})
        return {run: found[run] for run in sorted(found)}

    def per_patient_values(self, condition: str | Condition, test_set: str, class_key: str,
                           metric: str = "DSC") -> dict[Run, dict[str, float | None]]:
        """(seed, fold) -> case -> value of ``metric`` (a name of :data:`PER_CASE`), for every run of
        ``condition`` evaluated with it."""
        return self.values(condition, test_set, class_key, PER_CASE[metric])

    def estimate(self, condition: str | Condition, test_set: str, class_key: str,
                 metric: str = "DSC") -> Estimate | None:
        """Mean over patients (each averaged over the runs) with its bootstrap interval."""
        return estimate(self.per_patient_values(condition, test_set, class_key, metric))

    def comparison(self, condition: str | Condition, baseline: str | Condition, test_set: str, class_key: str,
                   metric: str = "DSC") -> PairedComparison | None:
        """``condition`` minus ``baseline``, paired by run and patient."""
        return paired_comparison(self.per_patient_values(condition, test_set, class_key, metric),
                                 self.per_patient_values(baseline, test_set, class_key, metric))

    def pseudo_ct_values(self, condition: str | Condition, test_set: str, region: str,
                         image: str = "predicted") -> dict[Run, dict[str, float | None]]:
        """(seed, fold) -> case -> MAE in HU of ``image`` (a pseudo-CT of
        :data:`~nnunet_t1t2.evaluation.pseudo_ct_cases.IMAGES`: the prediction's, or a reference made
        from the same case) inside ``region``, for every run of ``condition`` whose pseudo-CTs were scored."""
        return self.values(condition, test_set, WHOLE_CASE, pseudo_ct_metric(image, region))

    def pseudo_ct_hu(self, test_set: str) -> dict | None:
        """The HU per class and their sources that made the pseudo-CTs of ``test_set`` (any scored run's)."""
        for model in self.models:
            scored = self._read(self.layout.pseudo_ct_file(model, test_set))
            if scored is not None:
                return {"hu": scored["hu"], "source": scored["source"]}
        return None

    def reference_voxels(self, test_set: str, class_key: str) -> int | None:
        """Voxels of the class in the test set's labels (from any evaluation of it), None if none ran."""
        for model in self.models:
            summary = self.summary(model, test_set)
            if summary is not None:
                pooled = summary["pooled"][class_key]
                return pooled["TP"] + pooled["FN"]
        return None

    def pooled(self, model: Model | None, test_set: str, class_key: str, metric: str) -> Score | None:
        summary = self.summary(model, test_set)
        if summary is None:
            return None
        interval = summary["ci95"]["pooled"][class_key][METRICS[metric]]
        return Score(summary["pooled"][class_key][METRICS[metric]], interval["low"], interval["high"])

    def paper_style(self, condition: str | Condition, test_set: str, class_key: str, metric: str) -> Score | None:
        """The paper's kind of value over a condition's evaluated runs: with one run, its pooled value
        and Wilson interval; with several, the mean of their pooled values and a t interval across
        the runs (the paper's "avg" rows, over folds and seeds)."""
        runs = self.evaluated(condition, test_set)
        if len(runs) == 1:
            return self.pooled(self.model(condition, next(iter(runs))), test_set, class_key, metric)
        values = [self.pooled(self.model(condition, run), test_set, class_key, metric).value for run in runs]
        values = [v for v in values if v is not None]
        if not values:
            return None
        return Score(fmean(values), *(t_interval(values) or (None, None)))

    def convergence(self, model: Model) -> dict | None:
        return self._read(self.layout.fold_folder(model) / "convergence.json")

    def convergence_records(self, condition: str | Condition) -> dict[Run, dict]:
        """(seed, fold) -> convergence record, for every finished training of ``condition``."""
        records = {run: self.convergence(m) for run, m in self.runs_of.get(self.condition(condition), {}).items()}
        return {run: record for run, record in records.items() if record is not None}

    def validation_dice(self, model: Model) -> dict[str, float | None] | None:
        """Class key -> mean Dice of nnU-Net's final validation (``fold_x/validation/summary.json``),
        None for a class absent from the validation labels; None if there is no validation."""
        summary = self._read(self.layout.fold_folder(model) / "validation" / "summary.json")
        if summary is None:
            return None
        return {key: (None if value["Dice"] is None or value["Dice"] != value["Dice"] else value["Dice"])
                for key, value in summary["mean"].items()}

    def _read(self, path: Path) -> dict | None:
        """A JSON file's content, None if it does not exist; each file read once."""
        if path not in self._files:
            self._files[path] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        return self._files[path]
