"""The study's statistics (bootstrap intervals, paired Wilcoxon verdicts) and the report's Findings,
checked against hand-computed values, scipy called directly and a plain loop over the same bootstrap
draws, on evaluation JSONs written by hand into a temporary study layout (no training)."""
from __future__ import annotations

import json
import re
from statistics import fmean, stdev

import numpy as np
import pytest
from scipy import stats

from nnunet_t1t2.evaluation import DISTANCES, evaluation_classes, metrics_from_counts, summarize, write_json
from nnunet_t1t2.evaluation.classes import DEFAULT_LABELS
from nnunet_t1t2.evaluation.pseudo_ct_cases import IMAGES, REGIONS
from nnunet_t1t2.labels import BONE
from nnunet_t1t2.study.classes import BONE_CLASS, CLASSES, HEAD_CLASSES
from nnunet_t1t2.study.findings import findings, verdict
from nnunet_t1t2.study.layout import Model, StudyLayout
from nnunet_t1t2.study.protocol import make_protocol
from nnunet_t1t2.study.pseudo_ct import pseudo_ct_findings, pseudo_ct_table
from nnunet_t1t2.study.results import PER_CASE, StudyResults
from nnunet_t1t2.study.statistics import (BOOTSTRAP_SEED, RESAMPLES, bootstrap_interval, estimate,
                                          paired_comparison, patient_means, wilcoxon_p)
from nnunet_t1t2.study.strategies import STRATEGIES
from nnunet_t1t2.study.tables import per_patient_table, surface_distance_table


def scipy_interval(values: list[float]) -> tuple[float, float]:
    result = stats.bootstrap((np.asarray(values),), np.mean, n_resamples=RESAMPLES, method="percentile",
                             confidence_level=0.95, random_state=np.random.default_rng(BOOTSTRAP_SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def two_level_by_hand(table: list[list[float | None]]) -> tuple[float, float]:
    """The two-level bootstrap written as a loop: the same draws (runs, then patients, per resample),
    each resample's statistic computed on its own."""
    values = np.array([[np.nan if v is None else v for v in row] for row in table])
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    rows = rng.integers(0, values.shape[0], (RESAMPLES, values.shape[0]))
    columns = rng.integers(0, values.shape[1], (RESAMPLES, values.shape[1]))
    means = []
    for drawn_runs, drawn_patients in zip(rows, columns):
        per_patient = [fmean(v for v in values[drawn_runs, j] if not np.isnan(v)) for j in drawn_patients
                       if not np.isnan(values[drawn_runs, j]).all()]
        if per_patient:
            means.append(fmean(per_patient))
    return tuple(np.percentile(means, [2.5, 97.5]))


# (seed, fold) -> case -> Dice: two seeds of one fold, three patients, one undefined value
A = {(0, 0): {"p1": 0.80, "p2": 0.60, "p3": 0.70}, (1, 0): {"p1": 0.70, "p2": 0.50, "p3": None}}
B = {(0, 0): {"p1": 0.60, "p2": 0.55, "p3": 0.40}, (1, 0): {"p1": 0.50, "p2": 0.45, "p3": 0.50}}


def test_patient_means_average_each_patient_over_the_runs_where_defined():
    assert patient_means(A) == pytest.approx({"p1": 0.75, "p2": 0.55, "p3": 0.70})


def test_estimate_is_the_mean_of_patient_means_with_a_two_level_bootstrap_and_seed_sd():
    result = estimate(A)
    assert result.mean == pytest.approx((0.75 + 0.55 + 0.70) / 3)
    assert (result.low, result.high) == pytest.approx(two_level_by_hand([[0.80, 0.60, 0.70], [0.70, 0.50, None]]))
    assert result.low < result.mean < result.high
    assert (result.patients, result.seeds, result.folds, result.runs) == (3, 2, 1, 2) and result.covers_training
    assert result.seed_sd == pytest.approx(stdev([fmean([0.8, 0.6, 0.7]), fmean([0.7, 0.5])]))


def test_paired_comparison_pairs_by_run_and_patient_and_matches_the_loop_and_wilcoxon():
    # run (0, 0): p1 0.2, p2 0.05, p3 0.3; run (1, 0): p1 0.2, p2 0.05 (A's p3 undefined)
    by_run = [[0.20, 0.05, 0.30], [0.20, 0.05, None]]
    differences = [0.20, 0.05, 0.30]  # per patient, averaged over the runs where defined
    result = paired_comparison(A, B)
    assert result.difference == pytest.approx(fmean(differences))
    assert (result.low, result.high) == pytest.approx(two_level_by_hand(by_run))
    assert result.p_value == pytest.approx(stats.wilcoxon(differences).pvalue)
    assert result.p_value == pytest.approx(0.25)  # 3 positive differences: exact two-sided p = 2/8
    assert result.distinguishable and (result.patients, result.seeds, result.runs) == (3, 2, 2)
    assert paired_comparison(B, A).difference == pytest.approx(-result.difference)


def test_one_training_gives_an_interval_over_patients_and_no_verdict():
    one = {(0, 0): A[(0, 0)]}
    result = paired_comparison(one, {(0, 0): B[(0, 0)]})
    assert (result.low, result.high) == pytest.approx(scipy_interval([0.20, 0.05, 0.30]))
    assert result.low > 0 and not result.covers_training and not result.distinguishable
    sentence = verdict("T2 bone", "hybrid multiplication", "no fine-tuning", result)
    assert sentence.startswith("On T2 bone, hybrid multiplication and no fine-tuning are not distinguishable with "
                               "one training of each (+0.183 [") and "--seeds 0 1 2" in sentence
    assert not estimate(one).covers_training


def test_trainings_that_disagree_widen_the_interval_to_cover_zero():
    """What the demo showed: within each seed the hybrid's gain is consistent over patients, and its
    sign changes between seeds."""
    seed_effects = [0.043, 0.046, -0.033]
    hybrid = {(s, 0): {f"p{i}": 0.7 + effect + 0.004 * i for i in range(4)} for s, effect in enumerate(seed_effects)}
    baseline = {(s, 0): {f"p{i}": 0.7 for i in range(4)} for s in range(3)}
    for seed in range(3):
        alone = paired_comparison({(seed, 0): hybrid[(seed, 0)]}, {(seed, 0): baseline[(seed, 0)]})
        assert alone.low > 0 or alone.high < 0  # each seed alone: an interval over patients that excludes 0
    together = paired_comparison(hybrid, baseline)
    assert together.low < 0 < together.high and not together.distinguishable
    assert together.difference == pytest.approx(fmean(seed_effects) + 0.006)


def test_degenerate_inputs_have_no_interval_or_a_plain_p():
    assert bootstrap_interval([0.5]) is None and wilcoxon_p([0.1]) is None
    assert wilcoxon_p([0.0, 0.0, 0.0]) == 1.0
    assert bootstrap_interval([0.3, 0.3]) == pytest.approx((0.3, 0.3))
    assert estimate({(0, 0): {"p1": None}}) is None
    assert paired_comparison({(0, 0): {"p1": 0.5}}, {(0, 0): {"p2": 0.5}}) is None


# --- a tiny study written by hand: two strategies, two seeds, four T2 test patients -------------------

CLASSES_EVALUATED = evaluation_classes(DEFAULT_LABELS)
VOXELS = 1000
#: (role, seed) -> bone TP per patient, out of 100 reference bone voxels (FP = FN = 100 - TP).
BONE_TP = {("no-ft", 0): [40, 50, 45, 55], ("no-ft", 1): [42, 48, 47, 50],
           ("hybrid-mul", 0): [70, 72, 66, 75], ("hybrid-mul", 1): [68, 74, 70, 71]}
PATIENTS = ["P1_T2", "P2_T2", "P3_T2", "P4_T2"]


def case_entry(case: str, bone_tp: int, air: tuple[int, int, int]) -> dict:
    """Soft tissue perfect (200 voxels), bone ``bone_tp`` of 100 right, air inside the head ``air``
    (TP, FP, FN)."""
    counts = {"1": (200, 0, 0), "2": (bone_tp, 100 - bone_tp, 100 - bone_tp), "3": air, "(0, 3)": (700, 0, 0)}
    metrics = {}
    for key, (tp, fp, fn) in counts.items():
        metrics[key] = {**metrics_from_counts(tp, fp, fn), **dict.fromkeys(DISTANCES), "TP": tp, "FP": fp, "FN": fn,
                        "TN": VOXELS - tp - fp - fn, "n_ref": tp + fn, "n_pred": tp + fp}
    return {"case": case, "prediction_file": f"{case}.nii.gz", "reference_file": f"{case}.nii.gz", "metrics": metrics}


def write_study(tmp_path, air: tuple[int, int, int] = (0, 0, 0)) -> StudyResults:
    protocol = make_protocol("demo", strategies=["no-ft", "hybrid-mul"], seeds=[0, 1], environ={})
    layout = StudyLayout(tmp_path, "Patients", protocol.plans_name)
    results = StudyResults(layout, protocol)
    for (role, seed), tps in BONE_TP.items():
        model = results.model(role, (seed, 0))
        write_json(summarize([case_entry(c, tp, air) for c, tp in zip(PATIENTS, tps)], CLASSES_EVALUATED),
                   layout.evaluation_file(model, "T2"))
    for seed, bone in ((0, 0.02), (1, 0.81)):  # nnU-Net's validation: seed 0's source learned no bone
        validation = layout.fold_folder(Model("source", "T1", protocol.source_trainer(), 0, seed)) / "validation"
        validation.mkdir(parents=True)
        (validation / "summary.json").write_text(json.dumps(
            {"mean": {"1": {"Dice": 0.93}, "2": {"Dice": bone}, "3": {"Dice": float("nan")}}}), encoding="utf-8")
    return StudyResults(layout, protocol)


@pytest.fixture
def tiny_study(tmp_path):
    return write_study(tmp_path)


def bone_dice(tp: int) -> float:
    return 2 * tp / (2 * tp + 2 * (100 - tp))


def test_findings_state_the_paired_bone_verdict_built_from_the_evaluation_json(tiny_study):
    text = findings(tiny_study)
    # the numbers again, by hand from the JSON files' per-case Dice
    per_patient = {role: [fmean(bone_dice(BONE_TP[(role, seed)][i]) for seed in (0, 1)) for i in range(4)]
                   for role in ("no-ft", "hybrid-mul")}
    for role in per_patient:
        files = [json.loads(tiny_study.layout.evaluation_file(tiny_study.model(role, (s, 0)), "T2").read_text())
                 for s in (0, 1)]
        from_json = [fmean(f["metric_per_case"][i]["metrics"]["2"]["Dice"] for f in files) for i in range(4)]
        assert from_json == pytest.approx(per_patient[role])
    differences = [h - n for h, n in zip(per_patient["hybrid-mul"], per_patient["no-ft"])]
    low, high = two_level_by_hand([[bone_dice(h) - bone_dice(n) for h, n in
                                    zip(BONE_TP[("hybrid-mul", seed)], BONE_TP[("no-ft", seed)])] for seed in (0, 1)])
    p = stats.wilcoxon(differences).pvalue
    expected = (f"On T2 bone, hybrid multiplication beats no fine-tuning by {fmean(differences):+.3f} "
                f"[{low:+.3f}, {high:+.3f}], Wilcoxon p = {p:.2g}, 4 patients x 2 seeds.")
    assert expected in text, text

    best = re.search(r"Best on T2 bone: hybrid multiplication, Dice (\d\.\d+) \[(\d\.\d+), (\d\.\d+)\]", text)
    assert best, text
    assert float(best.group(1)) == pytest.approx(fmean(per_patient["hybrid-mul"]), abs=6e-4)  # printed to 3 decimals
    by_seed = [[bone_dice(tp) for tp in BONE_TP[("hybrid-mul", seed)]] for seed in (0, 1)]
    assert (float(best.group(2)), float(best.group(3))) == pytest.approx(two_level_by_hand(by_seed), abs=6e-4)


def test_findings_open_with_a_source_that_learned_no_bone_and_mark_bone_uninterpretable(tiny_study):
    lines = findings(tiny_study).splitlines()
    assert lines[0] == ("- **1 model learned no bone** (validation Dice below 0.1): "
                        "the T1 source model (fold 0, seed 0): 0.020.")
    assert lines[1].startswith("- **Not interpretable: every T2 strategy on bone**") and "seed 0" in lines[1]
    bone = [line for line in lines if "T2 bone" in line]
    assert bone and all("not interpretable" in line for line in bone)
    assert not any("learned no soft tissue" in line or "learned no air" in line for line in lines)


def test_findings_say_why_air_inside_the_head_is_empty_and_equal_classes_are_not_distinguishable(tiny_study):
    text = findings(tiny_study)
    assert "On T2 air inside the head: **empty**" in text
    assert "On T2 soft tissue, hybrid multiplication and no fine-tuning are not distinguishable (+0.000 " in text


def test_per_patient_table_shows_the_seed_averaged_values(tiny_study):
    table = per_patient_table(tiny_study)
    first = fmean(bone_dice(BONE_TP[("hybrid-mul", seed)][0]) for seed in (0, 1))
    assert re.search(rf"\| P1_T2 \| {fmean(bone_dice(BONE_TP[('no-ft', s)][0]) for s in (0, 1)):.3f} \| "
                     rf"{first:.3f} \|", table), table


def test_a_class_no_strategy_learned_is_said_so_with_its_share_of_the_head(tmp_path):
    text = findings(write_study(tmp_path, air=(0, 0, 3)))  # 3 air voxels per patient, none predicted
    share = 3 / (200 + 100 + 3)
    assert f"**No strategy segments T2 air inside the head** (best Dice below 0.1; it is {share:.1%} of the " \
           f"head's voxels in the test labels" in text
    assert "**empty**" not in text


def test_the_report_classes_are_the_evaluation_summary_keys_and_names_unique():
    """The study's tables, sentences and figures look classes up by the keys the evaluation writes."""
    summary = summarize([case_entry("P1_T2", 50, (1, 0, 0))], CLASSES_EVALUATED)
    assert [tissue.key for tissue in CLASSES] and {tissue.key for tissue in CLASSES} == set(summary["mean"])
    assert BONE_CLASS.labels == (BONE,) and summary["mean"][BONE_CLASS.key]["Dice"] == pytest.approx(0.5)
    assert {tissue.labels for tissue in HEAD_CLASSES} == {(v,) for v in DEFAULT_LABELS.values() if v != 0}
    for field in ("name", "words", "colour"):
        assert len({getattr(tissue, field) for tissue in CLASSES}) == len(CLASSES), field
    assert len({strategy.short_name for strategy in STRATEGIES.values()}) == len(STRATEGIES)


def test_the_surface_distance_table_holds_the_patient_means_and_the_paired_difference(tiny_study):
    """HD95 of bone written into the evaluation files by hand (mm), read back as the table's means and
    paired differences; ASSD of bone and every distance of the empty air inside the head stay missing."""
    hd95 = {}  # (role, seed) -> per patient
    for (role, seed), tps in BONE_TP.items():
        path = tiny_study.layout.evaluation_file(tiny_study.model(role, (seed, 0)), "T2")
        summary = json.loads(path.read_text(encoding="utf-8"))
        hd95[(role, seed)] = [(100 - tp) / 10 for tp in tps]
        for case, value in zip(summary["metric_per_case"], hd95[(role, seed)]):
            case["metrics"][BONE_CLASS.key]["HD95"] = value
        path.write_text(json.dumps(summary), encoding="utf-8")
    results = StudyResults(tiny_study.layout, tiny_study.protocol)
    rows = {tuple(cells[:2]): cells[2:] for cells in
            (line.strip("| ").split(" | ") for line in surface_distance_table(results).splitlines()[2:])}

    mean = {role: [fmean(hd95[(role, s)][i] for s in (0, 1)) for i in range(4)] for role in ("no-ft", "hybrid-mul")}
    hybrid = rows[(STRATEGIES["hybrid-mul"].label, "Bone")]
    difference = fmean(h - n for h, n in zip(mean["hybrid-mul"], mean["no-ft"]))
    printed = [float(cell.split(" [")[0]) for cell in hybrid[:2]]  # two decimals
    assert printed == pytest.approx([fmean(mean["hybrid-mul"]), difference], abs=0.0051) and difference < 0
    assert all(" [" in cell for cell in hybrid[:2])  # with intervals
    assert hybrid[2:] == ["—", "—"]  # no ASSD written
    assert rows[(STRATEGIES["no-ft"].label, "Bone")][1] == "—"  # the baseline against itself
    assert set(rows[(STRATEGIES["hybrid-mul"].label, "Air inside the head")]) == {"—"}


#: (role, seed) -> predicted pseudo-CT MAE inside the head per patient (HU); water and the CT's labels per patient.
HEAD_MAE = {("no-ft", 0): [300, 320, 310, 305], ("no-ft", 1): [310, 330, 300, 315],
            ("hybrid-mul", 0): [150, 160, 170, 155], ("hybrid-mul", 1): [165, 150, 160, 170]}
WATER_MAE, CT_LABELS_MAE = [250, 260, 255, 245], [100, 110, 105, 95]


def write_pseudo_ct_files(study: StudyResults) -> None:
    for (role, seed), head in HEAD_MAE.items():
        cases = [{"case": case, "mae_hu": {"predicted": {"head": h, "bone": 2 * h}, "water": {"head": w, "bone": 900},
                                           "ct_labels": {"head": c, "bone": 200}}}
                 for case, h, w, c in zip(PATIENTS, head, WATER_MAE, CT_LABELS_MAE)]
        write_json({"hu": {"background": -1000, "soft_tissue": 30, "bone": 994, "air": -914}, "cases": cases,
                    "source": {"bone": "median over the training patients' CTs, conversion.json"}},
                   study.layout.pseudo_ct_file(study.model(role, (seed, 0)), "T2"))


def test_the_pseudo_ct_table_and_finding_are_the_patient_means_of_the_files(tiny_study):
    write_pseudo_ct_files(tiny_study)
    results = StudyResults(tiny_study.layout, tiny_study.protocol)
    table = pseudo_ct_table(results)
    rows = {cells[0]: cells[1:] for cells in (line.strip("| ").split(" | ") for line in table.splitlines()[2:]
                                              if line.startswith("|"))}
    per_patient = {role: [fmean(HEAD_MAE[(role, s)][i] for s in (0, 1)) for i in range(4)]
                   for role in ("no-ft", "hybrid-mul")}
    hybrid = rows[STRATEGIES["hybrid-mul"].label]
    assert float(hybrid[0].split(" [")[0]) == pytest.approx(fmean(per_patient["hybrid-mul"]), abs=0.5)
    assert float(hybrid[1].split(" [")[0]) == pytest.approx(
        fmean(per_patient["hybrid-mul"]) - fmean(WATER_MAE), abs=0.5)
    assert float(hybrid[2].split(" [")[0]) == pytest.approx(
        fmean(per_patient["hybrid-mul"]) - fmean(per_patient["no-ft"]), abs=0.5)
    assert float(hybrid[3].split(" [")[0]) == pytest.approx(2 * fmean(per_patient["hybrid-mul"]), abs=0.5)  # bone
    water = rows["Water only inside the head (reference)"]
    assert float(water[0].split(" [")[0]) == pytest.approx(fmean(WATER_MAE), abs=0.5) and water[1:3] == ["", ""]
    hu_line = table.splitlines()[-1]
    assert hu_line.startswith("HU per class: ") and "conversion.json" in hu_line
    assert all(f"{name} {value}" in hu_line for name, value in
               (("background", -1000), ("soft tissue", 30), ("bone", 994), ("air", -914)))

    finding = "\n".join(pseudo_ct_findings(results))
    assert finding.startswith("- Lowest T2 pseudo-CT error inside the head: hybrid multiplication, MAE "
                              f"{fmean(per_patient['hybrid-mul']):.0f} HU [")
    assert "it beats water" in finding and f"give {fmean(CT_LABELS_MAE):.0f} HU" in finding


def test_the_tidy_table_holds_every_per_case_value_once(tiny_study):
    write_pseudo_ct_files(tiny_study)
    rows = StudyResults(tiny_study.layout, tiny_study.protocol).observations()
    keys = [(r.condition, r.run, r.test_set, r.case, r.class_key, r.metric) for r in rows]
    assert len(keys) == len(set(keys))
    per_case = len(CLASSES_EVALUATED) * len(PER_CASE) + len(IMAGES) * len(REGIONS)  # classes x metrics, pseudo-CT
    assert len(rows) == len(BONE_TP) * len(PATIENTS) * per_case
    bone = next(r for r in rows if r.condition.role == "hybrid-mul" and r.run == (1, 0) and r.case == "P3_T2"
                and r.class_key == BONE_CLASS.key and r.metric == "Dice")
    assert bone.value == pytest.approx(bone_dice(BONE_TP[("hybrid-mul", 1)][2]))
    mae = next(r for r in rows if r.condition.role == "no-ft" and r.run == (0, 0) and r.case == "P2_T2"
               and r.metric == "MAE predicted head")
    assert mae.value == HEAD_MAE[("no-ft", 0)][1] and mae.class_key == ""
