"""How many T2 training patients, and which strategy then: the report's T2 training-size section.

Each strategy that trains on T2 (fine-tuning, and the T1+T2 model beside all its T1 cases) is trained
on nested subsets of every fold's T2 training patients (``--t2-train-sizes``); no fine-tuning trains
nothing, so it is one line across sizes. The values are those of the rest of the report (:mod:`.statistics`:
the mean over T2 test patients of their run-averaged Dice, the same intervals); a strategy at two
sizes is compared paired by run (seed, fold) and patient, which nesting makes a comparison of the
same training patients plus more.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnunet_t1t2.study import markdown as md
from nnunet_t1t2.study.converted import ConvertedDataset
from nnunet_t1t2.study.findings import TEST_SET, sample
from nnunet_t1t2.study.layout import Condition, condition_at
from nnunet_t1t2.study.protocol import ALL
from nnunet_t1t2.study.classes import CLASSES, TissueClass
from nnunet_t1t2.study.results import StudyResults
from nnunet_t1t2.study.statistics import Estimate, PairedComparison
from nnunet_t1t2.study.strategies import Strategy
from nnunet_t1t2.study.tables import estimate_score

#: Bone, soft tissue and air as the paper reports them (air including the air around the head).
SIZE_CLASSES = tuple(tissue for tissue in CLASSES if tissue.paper)


@dataclass(frozen=True)
class SizePoint:
    """One point of the curve: ``strategy`` at ``size`` on ``tissue``."""

    strategy: Strategy
    size: int | None
    tissue: TissueClass
    value: Estimate | None


def all_patients(results: StudyResults) -> int | None:
    """The most T2 training patients of a fold the study trains (what ``all`` is), None before the
    conversion wrote the T2 data set."""
    folder = results.layout.raw_dataset("T2")
    if not (folder / "dataset.json").is_file():
        return None
    dataset = ConvertedDataset.read(folder)
    return max(len(dataset.training_patients(fold)) for fold in results.protocol.folds)


def size_positions(results: StudyResults) -> dict[int | None, float]:
    """Where each size lies on the axis of T2 training patients: its number; all at its number of
    patients (one past the largest size where that is not known yet)."""
    numbers = [size for size in results.protocol.t2_train_sizes if size is not ALL]
    positions: dict[int | None, float] = {size: float(size) for size in numbers}
    if ALL in results.protocol.t2_train_sizes:
        positions[ALL] = float(all_patients(results) or max(numbers, default=0) + 1)
    return positions


def size_label(results: StudyResults, size: int | None) -> str:
    """"2", "all (8)"."""
    if size is not ALL:
        return str(size)
    count = all_patients(results)
    return f"all ({count})" if count is not None else "all"


def condition(results: StudyResults, strategy: Strategy, size: int | None) -> Condition:
    return condition_at(results.protocol, strategy.key, size)


def curve(results: StudyResults) -> list[SizePoint]:
    """Every strategy tested on T2 (all of them) at every size on every class of :data:`SIZE_CLASSES`."""
    return [SizePoint(strategy, size, tissue, results.estimate(condition(results, strategy, size), TEST_SET,
                                                               tissue.key))
            for strategy in results.protocol.strategies for size in results.protocol.t2_train_sizes
            for tissue in SIZE_CLASSES]


def more_data(results: StudyResults, strategy: Strategy, larger: int | None, smaller: int | None,
              tissue: TissueClass) -> PairedComparison | None:
    """``strategy`` at ``larger`` minus at ``smaller``, paired by run and patient."""
    return results.comparison(condition(results, strategy, larger), condition(results, strategy, smaller),
                              TEST_SET, tissue.key)


def size_table(results: StudyResults) -> str:
    """Per strategy and size: the Dice of each class with its interval, and what it was computed over."""
    points = {(p.strategy, p.size, p.tissue): p.value for p in curve(results)}
    rows = []
    for strategy in results.protocol.strategies:
        for size in results.protocol.t2_train_sizes:
            values = [points[(strategy, size, tissue)] for tissue in SIZE_CLASSES]
            over = next((f"{v.patients} x {v.runs}" for v in values if v is not None), md.MISSING)
            rows.append([strategy.label, size_label(results, size),
                         *(md.score(estimate_score(v)) for v in values), over])
    header = ["Model", "T2 training patients", *(f"{t.short_name} DSC [95 % CI]" for t in SIZE_CLASSES),
              "Patients x trainings"]
    return md.table(header, rows) if rows else "No T2 strategy was run."


def more_data_table(results: StudyResults) -> str:
    """Every strategy that trains on T2 from each size to the next: the paired difference per class."""
    sizes = results.protocol.t2_train_sizes
    rows = []
    for strategy in (s for s in results.protocol.strategies if s.trains_on_t2):
        for smaller, larger in zip(sizes, sizes[1:]):
            for tissue in SIZE_CLASSES:
                value = more_data(results, strategy, larger, smaller, tissue)
                rows.append([strategy.label, f"{size_label(results, smaller)} → {size_label(results, larger)}",
                             tissue.short_name, md.paired(value) if value else md.MISSING,
                             md.number(value.p_value, 2) if value and value.p_value is not None else md.MISSING,
                             sample(value) if value else md.MISSING])
    header = ["Model", "T2 training patients", "Class", "DSC difference [95 % CI]", "Wilcoxon p", "Over"]
    return md.table(header, rows) if rows else "No strategy that trains on T2 was run at two sizes."


def size_findings(results: StudyResults) -> list[str]:
    """The section's Findings lines: what the intervals can say (once), per size and class the best
    strategy and the others against it, and per strategy that trains on T2 whether more T2 data helped."""
    points = [p for p in curve(results) if p.value is not None]
    if not points:
        return []
    lines = [caveat_line(points)]
    for size in results.protocol.t2_train_sizes:
        for tissue in SIZE_CLASSES:
            line = best_at_size_line(results, size, tissue, points)
            if line:
                lines.append(line)
    sizes = results.protocol.t2_train_sizes
    if len(sizes) > 1:
        lines += [line for strategy in results.protocol.strategies if strategy.trains_on_t2
                  if (line := more_data_line(results, strategy, sizes[0], sizes[-1]))]
    return lines


def caveat_line(points: list[SizePoint]) -> str:
    """What the intervals cover, said once for every line below it."""
    fewest = min(points, key=lambda p: (p.value.runs, p.value.patients)).value
    numbers = f"{sample(fewest)}"
    if not fewest.covers_training:
        return (f"- Each strategy was trained once per T2 training size ({numbers}): the intervals below cover "
                f"these test patients, not another training, so they give no verdict; more seeds (`--seeds 0 1 2`) "
                f"would settle them. No fine-tuning trains nothing: one line across sizes.")
    return (f"- Verdicts below need a 95 % interval over trainings and patients that excludes 0 ({numbers} at the "
            f"fewest). No fine-tuning trains nothing: one line across sizes.")


def best_at_size_line(results: StudyResults, size: int | None, tissue: TissueClass,
                      points: list[SizePoint]) -> str | None:
    """"With 2 T2 training patients, on bone: open fine-tuning is best (...); not distinguishable
    from it: ...; worse: ..."."""
    here = {p.strategy: p.value for p in points if p.size == size and p.tissue == tissue}
    if not here:
        return None
    best = max(here, key=lambda s: here[s].mean)
    value = here[best]
    interval = f" [{value.low:.3f}, {value.high:.3f}]" if value.low is not None else ""
    where = f"With {size_label(results, size)} T2 training patients, on {tissue.words}"
    others = {s: results.comparison(condition(results, s, size), condition(results, best, size), TEST_SET, tissue.key)
              for s in here if s != best}
    others = {s: c for s, c in others.items() if c is not None}
    text = f"- {where}: {best.short_name} is {'best' if value.covers_training else 'highest'} " \
           f"(Dice {value.mean:.3f}{interval})"
    if not value.covers_training:
        listed = ", ".join(f"{s.short_name} {md.paired(c)}" for s, c in others.items())
        return text + (f"; the others against it: {listed}." if listed else ".")
    alike = [f"{s.short_name} ({md.paired(c)})" for s, c in others.items() if not c.distinguishable]
    worse = [f"{s.short_name} ({md.paired(c)})" for s, c in others.items() if c.distinguishable]
    return text + "".join([f"; not distinguishable from it: {', '.join(alike)}"] * bool(alike) +
                          [f"; worse: {', '.join(worse)}"] * bool(worse)) + "."


def more_data_line(results: StudyResults, strategy: Strategy, smaller: int | None, larger: int | None) -> str | None:
    """"Open fine-tuning from 2 to all (8) T2 training patients: bone +0.120 [+0.050, +0.190], helped; ..."."""
    parts = []
    for tissue in SIZE_CLASSES:
        value = more_data(results, strategy, larger, smaller, tissue)
        if value is None:
            continue
        verdict = ""
        if value.covers_training:
            verdict = (", helped" if value.difference > 0 else ", hurt") if value.distinguishable else \
                ", not distinguishable"
        parts.append(f"{tissue.words} {md.paired(value)}{verdict}")
    if not parts:
        return None
    name = strategy.short_name
    return (f"- More T2 data, {name} from {size_label(results, smaller)} to {size_label(results, larger)} "
            f"T2 training patients: {'; '.join(parts)}.")
