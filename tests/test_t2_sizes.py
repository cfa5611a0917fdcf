"""The study's T2 training-size axis without training: the nested subsets in the splits nnU-Net
trains with, the steps and their graph, a size too large refused, and the report's curve, table and
Findings recomputed from evaluation JSON files written by hand into a tiny study layout."""
from __future__ import annotations

import json
import re
from pathlib import Path
from statistics import fmean

import numpy as np
import pytest
from scipy import stats

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.study import figures
from nnunet_t1t2.study.commands import CommandRunner
from nnunet_t1t2.study.context import StudyContext
from nnunet_t1t2.study.graph import dependencies
from nnunet_t1t2.study.layout import Condition, StudyLayout, trained_models
from nnunet_t1t2.study.protocol import ALL, make_protocol
from nnunet_t1t2.study.results import METRICS, StudyResults
from nnunet_t1t2.study.sizes import SIZE_CLASSES, curve, more_data, size_findings, size_table
from nnunet_t1t2.study.statistics import two_level_interval
from nnunet_t1t2.study.strategies import STRATEGIES
from nnunet_t1t2.study.steps import T2SizesStep, TrainStep, install_splits, study_steps

SPLIT_SEED = 7
#: The T2 data set by hand: 3 test patients, 3 folds of 3 validation patients, P0 with two sessions.
T2_PATIENTS = [f"P{i}" for i in range(14)]
TEST = T2_PATIENTS[11:]
VALIDATION = [T2_PATIENTS[0:3], T2_PATIENTS[3:6], T2_PATIENTS[6:9]]


def cases_of(patient: str) -> list[str]:
    return [f"{patient}_a", f"{patient}_b"] if patient == "P0" else [patient]


def write_dataset(layout: StudyLayout, kind: str, records: dict[str, dict], folds: list[dict]) -> None:
    """What `nnunet-t1t2 convert` leaves of a data set: dataset.json with the split's seed, conversion.json
    naming each case's patient and modality, and the folds' splits_final.json."""
    folder = layout.raw_dataset(kind)
    folder.mkdir(parents=True)
    (folder / "dataset.json").write_text(json.dumps({"nnunet_t1t2": {"split": {"seed": SPLIT_SEED}}}))
    (folder / "conversion.json").write_text(json.dumps({"cases": records, "left_out": {}}))
    (folder / "splits_final.json").write_text(json.dumps(folds))


def write_t2_dataset(layout: StudyLayout) -> list[dict]:
    """The T2 data set (P0 with two sessions) and the T1T2 data set beside it, with T1 of 6 more
    patients (P14 to P19), one of them a test patient and one more validating each fold; returns the
    T2 folds."""
    records = {case: {"patient": p, "modality": "T2", "test": p in TEST} for p in T2_PATIENTS for case in cases_of(p)}
    training = [p for p in T2_PATIENTS if p not in TEST]
    folds = [{"train": sorted(c for p in training if p not in val for c in cases_of(p)),
              "val": sorted(c for p in val for c in cases_of(p))} for val in VALIDATION]
    write_dataset(layout, "T2", records, folds)
    write_dataset(layout, "T1T2", *t1t2_dataset())
    return folds


def t1t2_dataset() -> tuple[dict[str, dict], list[dict]]:
    t1_only = [f"P{i}" for i in range(14, 20)]
    test = [*TEST, "P19"]
    records = {f"{p}_{m}": {"patient": p, "modality": m, "test": p in test}
               for p in T2_PATIENTS + t1_only for m in ("T1", "T2") if m == "T1" or p in T2_PATIENTS}
    validation = [[*val, t1_only[f]] for f, val in enumerate(VALIDATION)]
    cases = sorted(case for case, record in records.items() if not record["test"])
    return records, [{"train": [c for c in cases if c.split("_")[0] not in val],
                      "val": [c for c in cases if c.split("_")[0] in val]} for val in validation]


def study_context(tmp_path: Path, **choices) -> StudyContext:
    protocol = make_protocol("paper", environ={}, **choices)
    layout = StudyLayout(tmp_path, "Patients", protocol.plans_name)
    runner = CommandRunner.for_study(layout.raw, layout.preprocessed, layout.results, "cpu")
    return StudyContext(protocol, layout, runner, tmp_path / "data", workers=1)


def installed_splits(context: StudyContext) -> list[dict]:
    path = context.layout.preprocessed / context.layout.dataset_folder_name("T2") / "splits_final.json"
    return json.loads(path.read_text(encoding="utf-8"))


def patients(cases: list[str]) -> set[str]:
    return {case.split("_")[0] for case in cases}


def test_the_splits_nnunet_trains_with_hold_nested_subsets_with_validation_and_test_unchanged(tmp_path):
    context = study_context(tmp_path, t2_train_sizes=["2", "4", "all"])
    folds = write_t2_dataset(context.layout)
    T2SizesStep(context.protocol).run(context)
    splits = installed_splits(context)
    assert splits[:3] == folds  # the conversion's folds first, as they were
    for model in trained_models(context.protocol):
        if model.dataset != "T2":
            continue
        entry, fold = splits[model.training_fold], folds[model.fold]
        assert entry["val"] == fold["val"]
        trained = patients(entry["train"])
        assert len(trained) == (8 if model.t2_size is ALL else model.t2_size), model
        assert not trained & patients(fold["val"]) and not trained & set(TEST)
        assert set(entry["train"]) <= set(fold["train"])
    for f in range(3):
        subsets = [patients(splits[3 * size + f]["train"]) for size in range(1, 9)]
        assert all(len(s) == size for size, s in enumerate(subsets, 1))
        assert all(smaller < larger for smaller, larger in zip(subsets, subsets[1:]))  # nested
        assert subsets[-1] == patients(folds[f]["train"])
        assert ("P0" in subsets[-1]) == ({"P0_a", "P0_b"} <= set(splits[3 * 8 + f]["train"]))  # by patient
    t1t2 = json.loads((context.layout.preprocessed / context.layout.dataset_folder_name("T1T2") /
                       "splits_final.json").read_text(encoding="utf-8"))
    t1t2_folds = t1t2_dataset()[1]
    assert t1t2[:3] == t1t2_folds
    for model in trained_models(context.protocol):
        if model.dataset == "T1T2":  # the T1+T2 model: every T1 case, the T2 cases of the T2 subset's patients
            entry, fold = t1t2[model.training_fold], t1t2_folds[model.fold]
            t2 = patients(splits[model.training_fold]["train"])
            assert entry["val"] == fold["val"]
            assert entry["train"] == [c for c in fold["train"] if c.endswith("_T1") or c.split("_")[0] in t2]
    install_splits(context, "T2")  # what the link step does again later: the subsets stay
    assert installed_splits(context) == splits
    other_sizes = study_context(tmp_path, t2_train_sizes=["3"])
    T2SizesStep(other_sizes.protocol).run(other_sizes)
    assert installed_splits(other_sizes) == splits  # an entry's place does not depend on the sizes asked for
    dataset_json = context.layout.raw_dataset("T2") / "dataset.json"
    dataset_json.write_text(json.dumps({"nnunet_t1t2": {"split": {"seed": SPLIT_SEED + 1}}}))
    install_splits(context, "T2")
    assert installed_splits(context)[:3] == folds and installed_splits(context) != splits  # drawn from the split seed


def test_a_size_larger_than_a_folds_t2_training_patients_is_refused_before_any_training(tmp_path):
    context = study_context(tmp_path, t2_train_sizes=["2", "9"])
    write_t2_dataset(context.layout)
    with pytest.raises(UserError, match=r"--t2-train-sizes 9: Dataset502_PatientsT2 has fewer T2 training patients "
                                        r"\(fold 0: 8; fold 1: 8; fold 2: 8\); choose sizes up to 8"):
        T2SizesStep(context.protocol).run(context)
    steps = study_steps(context.protocol, generate_phantom=False)
    graph = dependencies(steps)
    assert all(T2SizesStep.key in graph[step.key] for step in steps if isinstance(step, TrainStep))
    with pytest.raises(UserError, match="positive number"):
        make_protocol("demo", environ={}, t2_train_sizes=["0"])


def test_a_protocol_with_sizes_trains_each_strategy_that_trains_on_t2_per_size_and_no_fine_tuning_once():
    protocol = make_protocol("demo", environ={}, strategies=["no-ft", "open", "augmentation"], seeds=[0, 1],
                             t2_train_sizes=["4", "2"])
    keys = [step.key for step in study_steps(protocol, generate_phantom=False)]
    trainings = sorted(key for key in keys if key.startswith("train/"))
    assert trainings == sorted([f"train/seed_{s}/{role}/fold_0" for s in (0, 1) for role in ("source", "no-ft")]
                               + [f"train/seed_{s}/{role}/size_{k}/fold_0" for s in (0, 1) for k in (2, 4)
                                  for role in ("open", "augmentation")])
    assert protocol.t2_train_sizes == (2, 4)
    assert "evaluate/seed_1/open/size_2/fold_0/T2" in keys and "evaluate/seed_1/no-ft/fold_0/T2" in keys
    assert not any("no-ft/size" in key for key in keys)
    more = make_protocol("demo", environ={}, strategies=["no-ft", "open", "augmentation"], seeds=[0, 1],
                         t2_train_sizes=["2", "3", "4"])
    assert set(keys) < {step.key for step in study_steps(more, generate_phantom=False)}  # a size only adds steps
    assert more.setup("phantom") == protocol.setup("phantom") == make_protocol("demo", environ={}).setup("phantom")


def test_a_protocol_without_sizes_has_todays_steps_and_graph():
    protocol = make_protocol("demo", environ={})
    steps = study_steps(protocol, generate_phantom=True)
    models = ["source", "no-ft", "open", "ft6", "hybrid-mul", "augmentation"]
    tested = [f"{role}/fold_0/{test_set}" for role in models
              for test_set in (("T2",) if role not in ("source", "augmentation") else ("T1", "T2"))]
    assert [step.key for step in steps] == [
        "phantom", "convert", "plan/T1", "plan/T1T2", "train/seed_0/source/fold_0", "check/seed_0/source/fold_0",
        "link", *(f"train/seed_0/{role}/fold_0" for role in models[1:]), *(f"predict/seed_0/{t}" for t in tested),
        *(f"evaluate/seed_0/{t}" for t in tested), "report"]
    graph = dependencies(steps)
    assert graph["train/seed_0/source/fold_0"] == ("plan/T1",) and graph["convert"] == ("phantom",)
    assert graph["train/seed_0/open/fold_0"] == ("link", "check/seed_0/source/fold_0")
    assert graph["train/seed_0/augmentation/fold_0"] == ("plan/T1T2",)
    assert all(model.training_fold == model.fold for model in trained_models(protocol))


# --- the report's numbers from hand-written evaluation files ------------------------------------------

CASES = ["P11", "P12", "P13"]
#: (role, size, seed) -> per test patient Dice of bone; soft tissue is bone + 0.2, air bone + 0.1.
BONE = {("no-ft", ALL, 0): [0.30, 0.35, 0.32], ("no-ft", ALL, 1): [0.31, 0.34, 0.36],
        ("open", 2, 0): [0.40, 0.52, 0.45], ("open", 2, 1): [0.42, 0.50, 0.41],
        ("open", ALL, 0): [0.60, 0.71, 0.66], ("open", ALL, 1): [0.65, 0.70, 0.62]}
OFFSET = {"2": 0.0, "1": 0.2, "(0, 3)": 0.1}


def evaluation(bone: list[float]) -> dict:
    """An evaluation summary with what the report reads of it: per-case values (every metric the
    bone-based value of its class), pooled counts and values."""
    per_case = [{"case": case, "metrics": {**{key: dict.fromkeys(METRICS.values(), value + offset)
                                              for key, offset in OFFSET.items()}, "3": dict.fromkeys(METRICS.values())}}
                for case, value in zip(CASES, bone)]
    pooled = {key: {"TP": 50, "FN": 50, **dict.fromkeys(METRICS.values(), 0.5)} for key in (*OFFSET, "3")}
    return {"metric_per_case": per_case, "pooled": pooled,
            "ci95": {"pooled": {key: {m: {"low": 0.4, "high": 0.6} for m in METRICS.values()} for key in pooled}}}


@pytest.fixture
def sized_study(tmp_path) -> StudyResults:
    protocol = make_protocol("demo", environ={}, strategies=["no-ft", "open"], seeds=[0, 1],
                             t2_train_sizes=["2", "all"])
    layout = StudyLayout(tmp_path, "Patients", protocol.plans_name)
    write_t2_dataset(layout)
    results = StudyResults(layout, protocol)
    for (role, size, seed), bone in BONE.items():
        path = layout.evaluation_file(results.model(Condition(role, size), (seed, 0)), "T2")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(evaluation(bone)), encoding="utf-8")
    return StudyResults(layout, protocol)


def by_hand(role: str, size: int | None, key: str) -> list[float]:
    """Per test patient, the Dice averaged over the two seeds, from the numbers written."""
    return [fmean(BONE[(role, size, seed)][i] + OFFSET[key] for seed in (0, 1)) for i in range(3)]


def test_the_curve_and_table_hold_the_means_of_the_evaluation_files(sized_study):
    points = {(p.strategy.key, p.size, p.tissue.key): p.value for p in curve(sized_study)}
    for (role, size, key), value in points.items():
        expected_size = size if role == "open" else ALL  # no fine-tuning: one line across sizes
        assert value.mean == pytest.approx(fmean(by_hand(role, expected_size, key)))
        runs = [[BONE[(role, expected_size, seed)][i] + OFFSET[key] for i in range(3)] for seed in (0, 1)]
        assert (value.low, value.high) == pytest.approx(two_level_interval(np.array(runs)))
    assert points[("no-ft", 2, "2")] == points[("no-ft", ALL, "2")]
    table = size_table(sized_study)
    assert f"| Open fine tuning | 2 | {fmean(by_hand('open', 2, '2')):.4f} [" in table
    assert f"| Open fine tuning | all (8) | {fmean(by_hand('open', ALL, '2')):.4f} [" in table


def test_the_figure_draws_those_means_against_the_t2_training_patients(sized_study, tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(figures, "_save", lambda figure, path, bottom=None: drawn.setdefault("figure", figure))
    figures.draw_dice_vs_t2_size(sized_study, tmp_path / "sizes.png")
    panels = drawn["figure"].axes
    assert [axes.get_title() for axes in panels] == ["Bone", "Soft tissue", "Air"]
    for axes, key in zip(panels, ("2", "1", "(0, 3)")):
        lines = {container.get_label(): container.lines[0] for container in axes.containers}
        assert list(lines["Open fine tuning"].get_ydata()) == pytest.approx(
            [fmean(by_hand("open", 2, key)), fmean(by_hand("open", ALL, key))])
        assert list(lines["Transfer learning without fine tuning"].get_ydata()) == pytest.approx(
            [fmean(by_hand("no-ft", ALL, key))] * 2)
        assert [round(x) for x in lines["Open fine tuning"].get_xdata()] == [2, 8]  # all: the fold's 8 patients
        assert [label.get_text() for label in axes.get_xticklabels()] == ["2", "all (8)"]


def test_findings_per_size_and_more_data_come_from_the_paired_statistics(sized_study):
    lines = size_findings(sized_study)
    assert len([line for line in lines if "trained once" in line or "Verdicts below" in line]) == 1
    bone_gain = [a - b for a, b in zip(by_hand("open", ALL, "2"), by_hand("open", 2, "2"))]
    bone = next(tissue for tissue in SIZE_CLASSES if tissue.key == "2")
    comparison = more_data(sized_study, STRATEGIES["open"], ALL, 2, bone)
    assert comparison.difference == pytest.approx(fmean(bone_gain))
    assert comparison.p_value == pytest.approx(stats.wilcoxon(bone_gain).pvalue)
    assert (comparison.seeds, comparison.patients) == (2, 3) and comparison.distinguishable
    more = next(line for line in lines if line.startswith("- More T2 data, open fine-tuning"))
    assert f"from 2 to all (8) T2 training patients: bone {fmean(bone_gain):+.3f} [" in more and "helped" in more
    at_two = next(line for line in lines if line.startswith("- With 2 T2 training patients, on bone:"))
    assert re.search(rf"open fine-tuning is best \(Dice {fmean(by_hand('open', 2, '2')):.3f} \[", at_two), at_two
    assert "worse: no fine-tuning (" in at_two
    assert not any("no fine-tuning from" in line for line in lines)  # it is not trained, so it gains nothing


def test_the_report_has_the_size_section_its_figure_and_findings(sized_study, tmp_path):
    from nnunet_t1t2.study.report import write_report

    runner = CommandRunner.for_study(sized_study.layout.raw, sized_study.layout.preprocessed,
                                     sized_study.layout.results, "cpu")
    context = StudyContext(sized_study.protocol, sized_study.layout, runner, tmp_path / "data", workers=1)
    report = write_report(context).read_text(encoding="utf-8")
    findings = report.split("## Findings", 1)[1].split("\n## ", 1)[0]
    assert "**How many T2 training patients**" in findings
    assert all(line in findings for line in size_findings(sized_study))
    section = report.split("## T2 test Dice against the number of T2 training patients", 1)[1].split("\n## ", 1)[0]
    assert "](figures/dice_vs_t2_training_patients.png)" in section and size_table(sized_study) in section
    assert (sized_study.layout.figures / "dice_vs_t2_training_patients.png").read_bytes()[:4] == b"\x89PNG"
    assert "- T2 training patients: 2, all" in report


def test_a_model_that_learned_nothing_is_named_with_its_t2_training_size(sized_study):
    from nnunet_t1t2.study.findings import findings

    model = sized_study.model(Condition("open", 2), (1, 0))
    validation = sized_study.layout.fold_folder(model) / "validation"
    validation.mkdir(parents=True)
    (validation / "summary.json").write_text(json.dumps({"mean": {"1": {"Dice": 0.9}, "2": {"Dice": 0.01}}}))
    assert "open fine-tuning (fold 0, seed 1, 2 T2 training patients): 0.010" in findings(sized_study)
    assert validation.parent.name == f"fold_{model.training_fold}" and model.training_fold == 2


def test_the_compute_time_table_lists_every_size_trained(sized_study):
    from nnunet_t1t2.study.tables import compute_time_table

    record = {"trainer": "OpenFineTuneTrainer", "trainable_parameters": 10, "total_parameters": 20,
              "seconds_per_epoch": 1.5, "epochs_trained": 4, "epochs_to_convergence": 3, "seconds_to_convergence": 4.5,
              "seconds_total": 6.0, "stopped_early": False}
    for size in (2, ALL):
        folder = sized_study.layout.fold_folder(sized_study.model(Condition("open", size), (0, 0)))
        folder.mkdir(parents=True)
        (folder / "convergence.json").write_text(json.dumps(record), encoding="utf-8")
    table = compute_time_table(sized_study)
    assert "| Open fine tuning, 2 T2 patients | 0 | 0 | OpenFineTuneTrainer |" in table
    assert "| Open fine tuning | 0 | 0 | OpenFineTuneTrainer |" in table
