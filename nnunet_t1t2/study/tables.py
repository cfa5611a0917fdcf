"""The report's tables, after the paper's Tables 3 to 9, plus the primary results, per-patient Dice
and compute time.

Each table has our rows first (labelled ``ours``) and the paper's published rows after them
(labelled ``paper``), one sub-table per tissue class. Strategies that were not run get one row
saying so, so that every table is there whatever subset ran. Tables 3 to 5 are paper-style (pooled
voxels, Wilson intervals) per fold and seed; the others show the mean over test patients with a
bootstrap interval over patients (:mod:`.statistics`), the paper-style value beside it where useful.
"""
from __future__ import annotations

from nnunet_t1t2.study import markdown as md
from nnunet_t1t2.study.paper_values import (AUGMENTATION_DIFFERENCE_PERCENT, AUGMENTATION_TABLE, COMPARISON_TABLES,
                                            FOLD_TABLES)
from nnunet_t1t2.evaluation import DISTANCES
from nnunet_t1t2.study.findings import BASELINE, TEST_SET
from nnunet_t1t2.study.classes import BONE_CLASS, BY_NAME, CLASSES, TissueClass
from nnunet_t1t2.study.results import METRICS, Score, StudyResults
from nnunet_t1t2.study.statistics import Estimate, patient_means
from nnunet_t1t2.study.strategies import STRATEGIES, Strategy

FOLD_TABLE_TITLES = {
    3: "Table 3: transfer learning without fine tuning and open fine tuning",
    4: "Table 4: conservative fine tuning",
    5: "Table 5: hybrid transfer learning, by aggregation",
}
FOLD_TABLE_FAMILIES = {3: ("none", "open"), 4: ("conservative",), 5: ("hybrid",)}
METRIC_COLUMNS = list(METRICS)
NOT_RUN = ["not run", "", "", ""]
#: The classes whose surface the report measures: bone, and the air inside the head (air around the
#: head is no surface of the anatomy).
SURFACE_CLASSES = (BONE_CLASS, BY_NAME["air"])


def fold_tables(results: StudyResults) -> str:
    """Tables 3 to 5: every fold's pooled values with Wilson intervals, and their average."""
    sections = []
    for number, title in FOLD_TABLE_TITLES.items():
        strategies = [s for s in STRATEGIES.values() if s.family in FOLD_TABLE_FAMILIES[number]]
        parts = [f"### {title}"]
        for tissue in CLASSES:
            rows = [row for s in strategies for row in _our_fold_rows(results, s, tissue)]
            if tissue.paper:
                rows += [["paper", STRATEGIES[row.strategy].label, row.fold or md.MISSING,
                          *(md.published(row.values[tissue.paper][m]) for m in METRIC_COLUMNS)]
                         for row in FOLD_TABLES[number]]
            parts += [f"**{tissue.name}**", md.table(["", "Model", "Fold", *METRIC_COLUMNS], rows)]
        sections.append("\n\n".join(parts))
    return "\n\n".join(sections)


def _our_fold_rows(results: StudyResults, strategy: Strategy, tissue: TissueClass) -> list[list[str]]:
    if strategy not in results.protocol.strategies:
        return [["ours", strategy.label, md.MISSING, *NOT_RUN]]
    several_seeds = len(results.protocol.seeds) > 1
    rows = [["ours", strategy.label, f"{fold}, seed {seed}" if several_seeds else str(fold),
             *(md.score(results.pooled(results.model(strategy.key, (seed, fold)), "T2", tissue.key, m))
               for m in METRIC_COLUMNS)]
            for fold in results.protocol.folds for seed in results.protocol.seeds]
    if len(rows) > 1:
        rows.append(["ours", strategy.label, "avg",
                     *(md.score(results.paper_style(strategy.key, "T2", tissue.key, m)) for m in METRIC_COLUMNS)])
    return rows


def estimate_score(value: Estimate | None) -> Score | None:
    return None if value is None else Score(value.mean, value.low, value.high)


def primary_table(results: StudyResults) -> str:
    """Per T2 strategy and class: Dice as the mean over test patients of their run-averaged values
    with its 95 % interval (over trainings and patients), the between-seed SD, and the paper-style
    pooled Dice."""
    rows = []
    for strategy in results.protocol.t2_strategies:
        for tissue in CLASSES:
            value = results.estimate(strategy.key, TEST_SET, tissue.key)
            rows.append([strategy.label, tissue.short_name, md.score(estimate_score(value)),
                         f"{value.patients} x {value.runs}" if value else md.MISSING,
                         md.number(value.seed_sd if value else None),
                         md.score(results.paper_style(strategy.key, TEST_SET, tissue.key, "DSC"))])
    header = ["Model", "Class", "DSC, mean over patients [bootstrap 95 % CI]", "Patients x trainings",
              "Between-seed SD", "Paper-style DSC (pooled voxels) [Wilson 95 % CI]"]
    return md.table(header, rows) if rows else "No T2 strategy was run."


def surface_distance_table(results: StudyResults) -> str:
    """Per T2 strategy, bone and air inside the head: HD95 and ASSD in mm as the mean over test
    patients of their run-averaged values with its 95 % interval, and the difference to no
    fine-tuning paired by run and patient (negative: closer to the CT's surface)."""
    rows = []
    for strategy in results.protocol.t2_strategies:
        for tissue in SURFACE_CLASSES:
            cells = []
            for metric in DISTANCES:
                value = results.estimate(strategy.key, TEST_SET, tissue.key, metric)
                against = None if strategy.key == BASELINE else \
                    results.comparison(strategy.key, BASELINE, TEST_SET, tissue.key, metric)
                cells += [md.score(estimate_score(value), 2), md.paired(against, 2)]
            rows.append([strategy.label, tissue.short_name, *cells])
    header = ["Model", "Class", *(f"{metric} [mm] {what}" for metric in DISTANCES
                                  for what in ("[95 % CI]", f"minus {STRATEGIES[BASELINE].short_name} [95 % CI]"))]
    return md.table(header, rows) if rows else "No T2 strategy was run."


def comparison_tables(results: StudyResults) -> str:
    """Tables 6 to 8: every strategy's overall result per class beside the paper's best of each
    approach."""
    parts = []
    for tissue in CLASSES:
        number, paper_rows = COMPARISON_TABLES[tissue.paper] if tissue.paper else (None, [])
        title = f"Table {number}: {tissue.name}" if number else f"{tissue.name} (not in the paper)"
        rows = [["ours", s.label,
                 *(md.score(estimate_score(results.estimate(s.key, "T2", tissue.key, m))) for m in METRIC_COLUMNS),
                 md.score(results.paper_style(s.key, "T2", tissue.key, "DSC"))]
                if s in results.protocol.strategies else ["ours", s.label, *NOT_RUN, ""]
                for s in STRATEGIES.values() if s.on_t2]
        rows += [["paper", STRATEGIES[row.strategy].label,
                  *(md.published(row.values[m], row.half_widths[m]) for m in METRIC_COLUMNS), md.MISSING]
                 for row in paper_rows]
        parts += [f"### {title}", md.table(["", "Model", *METRIC_COLUMNS, "DSC paper-style (pooled, Wilson)"], rows)]
    return "\n\n".join(parts)


def per_patient_table(results: StudyResults) -> str:
    """Per class, each T2 test patient's Dice averaged over a strategy's runs (seeds x folds): the
    values the intervals and the paired verdicts are computed from."""
    strategies = results.protocol.t2_strategies
    parts = []
    for tissue in CLASSES:
        values = {s.key: patient_means(results.per_patient_values(s.key, TEST_SET, tissue.key)) for s in strategies}
        cases = sorted({case for per_case in values.values() for case in per_case})
        if cases:
            rows = [[case, *(md.number(values[s.key].get(case), 3) for s in strategies)] for case in cases]
            parts += [f"**{tissue.name}**", md.table(["Patient", *(s.short_name for s in strategies)], rows)]
    return "\n\n".join(parts) if parts else "No T2 strategy has been evaluated yet."


def augmentation_table(results: StudyResults) -> str:
    """Table 9: the T1 model and the T1+T2 model, each on the T1 and on the T2 test patients."""
    models = {"source": "T1 only", "augmentation": "T1 and T2"}
    parts = []
    for tissue in CLASSES:
        rows = []
        for test_set in ("T1", "T2"):
            scores = {role: {m: estimate_score(results.estimate(role, test_set, tissue.key, m))
                             for m in METRIC_COLUMNS} for role in models}
            for role, trained_on in models.items():
                run = role == "source" or results.protocol.augmentation
                rows.append(["ours", test_set, trained_on,
                             *([md.score(scores[role][m]) for m in METRIC_COLUMNS] if run else NOT_RUN)])
            rows.append(["ours", test_set, "difference %",
                         *(_difference(scores["source"][m], scores["augmentation"][m]) for m in METRIC_COLUMNS)])
        if tissue.paper:
            for test_set in ("T1", "T2"):
                for role, trained_on in models.items():
                    row = AUGMENTATION_TABLE[(test_set, role)]
                    rows.append(["paper", test_set, trained_on,
                                 *(md.published(row.values[tissue.paper][m], row.half_widths[tissue.paper][m], 2)
                                   for m in METRIC_COLUMNS)])
                rows.append(["paper", test_set, "difference %",
                             *(f"{AUGMENTATION_DIFFERENCE_PERCENT[test_set][tissue.paper][m]:.2f}"
                               for m in METRIC_COLUMNS)])
        parts += [f"**{tissue.name}**", md.table(["", "Test set", "Trained on", *METRIC_COLUMNS], rows)]
    return "\n\n".join(parts)


def _difference(without: Score | None, with_augmentation: Score | None) -> str:
    if without is None or with_augmentation is None or not without.value or with_augmentation.value is None:
        return md.MISSING
    return f"{100 * (with_augmentation.value - without.value) / without.value:+.2f}"


def compute_time_table(results: StudyResults) -> str:
    """Every finished training's time per epoch, epochs and seconds to convergence, and total (with
    its number of T2 training patients where the study varies it)."""
    rows = []
    labels = {"source": "T1 source model", **{s.key: s.label for s in results.protocol.strategies}}
    for condition in results.runs_of:
        label = labels[condition.role] + ("" if condition.t2_size is None else f", {condition.t2_size} T2 patients")
        for (seed, fold), record in sorted(results.convergence_records(condition).items()):
            rows.append([label, str(fold), str(seed), record["trainer"],
                         f"{record['trainable_parameters']:,} of {record['total_parameters']:,}",
                         md.number(record["seconds_per_epoch"], 1), str(record["epochs_trained"]),
                         str(record["epochs_to_convergence"]), md.number(record["seconds_to_convergence"], 0),
                         md.number(record["seconds_total"], 0), "yes" if record["stopped_early"] else "no"])
    header = ["Model", "Fold", "Seed", "Trainer", "Trainable parameters", "s / epoch", "Epochs trained",
              "Epochs to convergence", "s to convergence", "s total", "Stopped early"]
    return md.table(header, rows) if rows else "No training has finished yet."
