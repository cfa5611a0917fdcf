"""``OUT/report.md``: the set-up, the tables and the figures of a study, with the paper's values.

Rewritten from the results on disk at the end of every run, so it always shows everything that has
been computed, and says what has not.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nnunet_t1t2.atomic import write_text_atomically
from nnunet_t1t2.study import markdown as md
from nnunet_t1t2.study.context import StudyContext
from nnunet_t1t2.study.converted import ConvertedDataset
from nnunet_t1t2.study.figures import write_figures
from nnunet_t1t2.study.findings import findings
from nnunet_t1t2.study.paper_values import CITATION, COMPUTE_TIME_FINDING, NOTES
from nnunet_t1t2.study.protocol import SOURCE_FOLD
from nnunet_t1t2.study.pseudo_ct import pseudo_ct_findings, pseudo_ct_table
from nnunet_t1t2.study.results import StudyResults
from nnunet_t1t2.study.sizes import more_data_table, size_findings, size_table
from nnunet_t1t2.study.statistics import RESAMPLES
from nnunet_t1t2.study.tables import (augmentation_table, comparison_tables, compute_time_table, fold_tables,
                                      per_patient_table, primary_table, surface_distance_table)

HOW_TO_READ = f"""\
All values are on held-out **test patients** (never used for training or validation). PRE = precision,
REC = recall, DSC = Dice, JSC = Jaccard (IoU). Rows marked **ours** are this study; rows marked
**paper** are the published values of {CITATION}, copied for reference (their data are 50 clinical
patients, not ours).

Our primary values (the Findings, the results table, Tables 6 to 9 and the figures) are the **mean
over test patients** of each patient's value averaged over the model's trainings (seeds x folds),
with a **95 % interval** in brackets. Where a model was trained two times or more (seeds x folds),
it is a **two-level percentile bootstrap** ({RESAMPLES} resamples, fixed generator seed) that draws
the trainings and the patients, so it covers the variation between trainings as well as between
patients; with one training it is a percentile bootstrap over patients only, and says so. The
**between-seed SD** (of the per-seed means) shows training variation on its own. Paired verdicts
compare two strategies training by training and patient by patient (mean difference, interval,
Wilcoxon signed-rank p over patients); "not distinguishable" means the interval covers 0, or that
each strategy was trained once, which cannot show whether another training would agree.

**Paper-style** values (Tables 3 to 5, and a labelled column elsewhere) are **pooled over voxels**:
each metric from the voxel counts summed over all test patients, with a **Wilson 95 % interval**.
That interval reflects voxel counting only (voxels are not independent), which is what the paper's
tiny ± appear to be; it says nothing about other patients or another training. Where several runs
(folds, seeds) ran, **avg** is their mean with a **Student t 95 % interval across runs**. Per-case
values are in `evaluation/seed_<s>/<model>/fold_<f>/<test set>_test.csv`.

The paper's air class includes the air around the head; our labels separate it (0 outside the head,
3 air inside), so the paper's air is compared with our **air including the air around the head**
(labels 0 and 3 together). Air inside the head alone is reported too, without a published value."""


@dataclass(frozen=True)
class ReportInputs:
    """What a section is written from: the study, its results on disk and its figures' paths."""
    context: StudyContext
    results: StudyResults
    figures: dict[str, Path]
    """Figure name (:data:`~.figures.FIGURE_FILES`) -> its path relative to the report."""


@dataclass(frozen=True)
class Section:
    """One section of the report: its heading and its body, or None where it does not apply."""
    heading: str
    body: Callable[[ReportInputs], str | None]


def write_report(context: StudyContext) -> Path:
    results = StudyResults(context.layout, context.protocol)
    figures = {name: path.relative_to(context.layout.root)
               for name, path in write_figures(results, context.layout.figures).items()}
    inputs = ReportInputs(context, results, figures)
    parts = [f"# T1-to-T2 transfer study ({context.protocol.preset} preset)",
             f"Written by `nnunet-t1t2 study` on {time.strftime('%Y-%m-%d %H:%M')}."]
    for section in SECTIONS:
        body = section.body(inputs)
        if body is not None:
            parts.append(f"{section.heading}\n\n{body}")
    report = context.layout.report
    write_text_atomically(report, "\n\n".join(parts) + "\n")
    return report


def failures_section(inputs: ReportInputs) -> str | None:
    """The steps that failed in the last run, if any (everything that needs them is missing below)."""
    state_file = inputs.context.layout.state
    failed = json.loads(state_file.read_text(encoding="utf-8")).get("failed", {}) if state_file.is_file() else {}
    if not failed:
        return None
    lines = [f"- **{step['title']}** (`{key}`): {step['error'].splitlines()[0]}" for key, step in failed.items()]
    return ("These steps failed, so the results that need them are missing below; their logs are in `logs/`. Run "
            "the study again after fixing the cause.\n\n" + "\n".join(lines))


def findings_section(inputs: ReportInputs) -> str:
    results = inputs.results
    lines = size_findings(results) if results.protocol.sweeps_t2_sizes else []
    sizes = "\n\n**How many T2 training patients**\n\n" + "\n".join(lines) if lines else ""
    return "\n".join([findings(results), *pseudo_ct_findings(results)]) + sizes


def primary_section(inputs: ReportInputs) -> str:
    return primary_table(inputs.results) + f"\n\n![T2 test Dice per strategy]({inputs.figures['dice']})"


def surface_section(inputs: ReportInputs) -> str:
    return ("How far each strategy's surface of bone and of the air inside the head lies from the CT's, in mm on "
            "the test image's grid: the 95th percentile of the distances between the two surfaces (HD95, both ways) "
            "and their mean (ASSD, average symmetric surface distance). Lower is better; a patient whose labels or "
            "prediction lack the class has no distance and is left out.\n\n" + surface_distance_table(inputs.results))


def pseudo_ct_section(inputs: ReportInputs) -> str:
    return ("What a user builds from the labels: a bulk-density pseudo-CT (one HU per class, as `nnunet-t1t2 predict "
            "--pseudo-ct --hu-from` writes it) from each strategy's T2 test predictions, against each test patient's "
            "own registered CT: the mean absolute error in HU inside the head of the CT's labels and inside its "
            "bone, lower is better. Differences are paired by training and patient; a strategy whose pseudo-CT is "
            "no better than water only has not helped the pseudo-CT.\n\n" + pseudo_ct_table(inputs.results))


def size_section(inputs: ReportInputs) -> str | None:
    """The T2 training-size section, where the study varies the size."""
    if not inputs.results.protocol.sweeps_t2_sizes:
        return None
    return ("Each strategy that trains on T2 (fine-tuning, and the T1+T2 model beside all its T1 images) is trained "
            "on nested subsets of every fold's T2 training patients (those of a smaller size are among a larger "
            "one's; the fold's validation and the test patients stay the same); no fine-tuning trains nothing and "
            "is one line across sizes. Read it for your own number of T2 scans: the line that is highest there, "
            "and whether the lines still rise to its right (more scans would help).\n\n"
            f"![T2 test Dice against T2 training patients]({inputs.figures['sizes']})\n\n" + size_table(inputs.results)
            + "\n\n### More T2 data, strategy by strategy (paired by run and patient)\n\n"
            + more_data_table(inputs.results))


def augmentation_section(inputs: ReportInputs) -> str:
    return (f"The T1 source model (T1 only) against SEUNet trained from scratch on T1 and T2 images (fold "
            f"{SOURCE_FOLD} both), each on the T1 and on the T2 test patients; difference % = (T1 and T2 - T1 "
            f"only) / T1 only.\n\n" + augmentation_table(inputs.results))


def compute_time_section(inputs: ReportInputs) -> str:
    return ("Time to convergence = epochs up to the best EMA pseudo Dice (nnU-Net's model-selection signal) times "
            f"seconds per epoch, the paper's definition of total compute time. The paper reports: "
            f"{COMPUTE_TIME_FINDING}.\n\n" + compute_time_table(inputs.results)
            + f"\n\n![Fig. 7: compute time per strategy]({inputs.figures['fig7']})")


def setup_section(inputs: ReportInputs) -> str:
    context = inputs.context
    protocol, layout = context.protocol, context.layout
    if context.data == layout.phantom:
        spec = protocol.phantom
        data = (f"built-in phantom, {spec.patients} patients of which {spec.t2_patients} with T2, size "
                f"`{spec.size}`, seed {spec.seed} (`{layout.phantom}`)")
    else:
        data = f"`{context.data}`"
    schedule = ", ".join(f"{k}={v}" for k, v in protocol.schedule.items()) or "the trainers' own"
    if protocol.source_schedule != protocol.schedule:
        schedule += "; the T1 source model: " + ", ".join(f"{k}={v}" for k, v in protocol.source_schedule.items())
    trainers = "the paper's schedule (`_Paper` trainers: Adam 1e-4, plateau x0.75 after 5 epochs, early stop " \
        "after 10, at most 200 epochs, Xavier)" if protocol.trainer_suffix else "nnU-Net's SGD schedule"
    lines = [
        f"- Data: {data}",
        f"- Preset `{protocol.preset}`: plans `{protocol.plans_name}` (3d_fullres), {trainers}; schedule variables: "
        f"{schedule}; test-time mirroring {'on' if protocol.test_time_mirroring else 'off'}; prediction step size "
        f"{protocol.prediction_step_size:g}; device "
        f"{context.runner.device}",
        f"- Folds: {', '.join(map(str, protocol.folds))} of {protocol.cv_folds}; the T1 source and the T1+T2 models "
        f"use fold {SOURCE_FOLD}",
        f"- Training seeds: {', '.join(map(str, protocol.seeds))} (every model once per seed)",
        f"- Strategies run: {', '.join(f'{s.label} (`{s.key}`)' for s in protocol.strategies)}",
    ]
    if protocol.sweeps_t2_sizes:
        sizes = ", ".join("all" if size is None else str(size) for size in protocol.t2_train_sizes)
        lines.append(f"- T2 training patients: {sizes} (nested subsets of each fold's; each strategy that trains on "
                     f"T2 is trained at each)")
    lines += dataset_lines(context)
    return "\n".join(lines)


def dataset_lines(context: StudyContext) -> list[str]:
    lines = []
    for kind in ("T1", "T2", "T1T2"):
        folder = context.layout.raw_dataset(kind)
        if not (folder / "dataset.json").is_file():
            continue
        dataset = ConvertedDataset.read(folder)
        folds = "; ".join(f"fold {f}: {'/'.join(map(str, dataset.patients_in_fold(f)))} train/val"
                          for f in range(len(dataset.splits)))
        lines.append(f"- `{folder.name}`: {len(dataset.training_cases)} training and {len(dataset.test_cases)} test "
                     f"images ({folds})")
        lines += [f"  - left out by the conversion: {case}: {reason}" for case, reason in dataset.left_out.items()]
    return lines


def steps_section(inputs: ReportInputs) -> str:
    return steps_table(inputs.context.layout.state)


def steps_table(state_file: Path) -> str:
    steps = json.loads(state_file.read_text(encoding="utf-8"))["steps"] if state_file.is_file() else {}
    rows = [[step["title"], md.number(step["seconds"], 0), step.get("worker", ""), step.get("started", ""),
             step["finished"]] for step in steps.values()]
    total = sum(step["seconds"] or 0 for step in steps.values())
    return md.table(["Step", "Seconds", "Worker", "Started", "Finished"], rows) + \
        f"\n\nTime of all finished steps: {md.duration(total)} (steps on different workers overlap)."


#: The report's sections in order: a new kind of result is one function and one entry here.
SECTIONS = (
    Section("## Failed steps", failures_section),
    Section("## Findings", findings_section),
    Section("## Set-up", setup_section),
    Section("## How to read the tables", lambda inputs: HOW_TO_READ),
    Section("## Results: T2 test Dice per strategy", primary_section),
    Section("## Surface distances, T2 test set", surface_section),
    Section("## Pseudo-CT error, T2 test set", pseudo_ct_section),
    Section("## T2 test Dice against the number of T2 training patients", size_section),
    Section("## Per strategy and fold (cf. paper Tables 3 to 5), T2 test set",
            lambda inputs: fold_tables(inputs.results)),
    Section("## Methods compared (cf. paper Tables 6 to 8), T2 test set",
            lambda inputs: comparison_tables(inputs.results)),
    Section("### Dice per test patient", lambda inputs: per_patient_table(inputs.results)),
    Section("## T2 as augmentation (cf. paper Table 9)", augmentation_section),
    Section("## Dice against retrained conv layers (cf. paper Fig. 5)",
            lambda inputs: f"![Fig. 5: Dice against retrained conv layers]({inputs.figures['fig5']})"),
    Section("## Segmentations (cf. paper Fig. 6)",
            lambda inputs: f"![Fig. 6: T2 test slices and predictions]({inputs.figures['fig6']})"),
    Section("## Compute time (cf. paper Fig. 7)", compute_time_section),
    Section("## Notes on the published values", lambda inputs: "\n".join(f"- {note}" for note in NOTES)),
    Section("## Steps", steps_section),
)
