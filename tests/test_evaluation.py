"""Evaluation: metrics against hand-computed values (every empty-class combination), interval
coverage on known distributions, and ``nnunet-t1t2 evaluate`` end to end on tiny NIfTI files."""
from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.stats import binom

from nnunet_t1t2.cli import main
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.evaluation import (DEFAULT_LABELS, confusion_counts, evaluate_folders, evaluation_classes,
                                    metrics_from_counts, pooled_intervals, read_dataset_json, t_interval,
                                    wilson_interval, write_csv, write_json)

# --- counts and metrics -------------------------------------------------------------------------


def test_counts_and_metrics_match_hand_computed_values():
    ref = np.array([[0, 1, 1, 2], [2, 3, 3, 0]])
    pred = np.array([[0, 1, 2, 2], [2, 3, 0, 0]])
    assert confusion_counts(pred, ref, 2) == {"TP": 2, "FP": 1, "FN": 0, "TN": 5, "n_ref": 2, "n_pred": 3}
    assert metrics_from_counts(2, 1, 0) == pytest.approx({"Precision": 2 / 3, "Recall": 1, "Dice": 0.8, "IoU": 2 / 3})
    # a merged class scores its labels as one: air inside plus outside the head
    assert confusion_counts(pred, ref, (0, 3)) == {"TP": 4, "FP": 0, "FN": 0, "TN": 4, "n_ref": 4, "n_pred": 4}


@pytest.mark.parametrize("ref, pred, expected", [
    ([0, 0, 2, 2], [0, 0, 2, 2], {"Precision": None, "Recall": None, "Dice": None, "IoU": None}),  # both empty
    ([0, 0, 2, 2], [1, 0, 2, 2], {"Precision": 0.0, "Recall": None, "Dice": 0.0, "IoU": 0.0}),  # only in prediction
    ([1, 0, 2, 2], [0, 0, 2, 2], {"Precision": None, "Recall": 0.0, "Dice": 0.0, "IoU": 0.0}),  # only in reference
    ([1, 0, 2, 2], [0, 1, 2, 2], {"Precision": 0.0, "Recall": 0.0, "Dice": 0.0, "IoU": 0.0}),  # both, disjoint
    ([1, 1, 2, 2], [1, 1, 2, 2], {"Precision": 1.0, "Recall": 1.0, "Dice": 1.0, "IoU": 1.0}),  # identical
], ids=["both-empty", "reference-empty", "prediction-empty", "disjoint", "identical"])
def test_empty_class_rules(ref, pred, expected):
    counts = confusion_counts(np.array(pred), np.array(ref), 1)
    assert metrics_from_counts(counts["TP"], counts["FP"], counts["FN"]) == expected


def test_counts_refuse_arrays_of_different_shapes():
    with pytest.raises(ValueError, match="shape"):
        confusion_counts(np.zeros((2, 2)), np.zeros((2, 3)), 1)


# --- confidence intervals -----------------------------------------------------------------------


def test_wilson_interval_matches_hand_computed_values():
    z = 1.959963984540054
    low, high = wilson_interval(8, 10)
    centre, half = (8 + z**2 / 2) / (10 + z**2), z / (10 + z**2) * math.sqrt(8 * 2 / 10 + z**2 / 4)
    assert (low, high) == pytest.approx((centre - half, centre + half))
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # the textbook example
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


@pytest.mark.parametrize("n", [400, 1000])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_wilson_interval_covers_the_true_proportion_95_percent_of_the_time(n, p):
    """Exact coverage: the probability of every count k times whether its interval holds p."""
    coverage = sum(binom.pmf(k, n, p) for k in range(n + 1) if _holds(wilson_interval(k, n), p))
    assert coverage == pytest.approx(0.95, abs=0.01)


def test_t_interval_matches_hand_computed_values():
    # mean 3, sd sqrt(2.5), t(0.975, 4 dof) = 2.776445
    assert t_interval([1, 2, 3, 4, 5]) == pytest.approx((3 - 2.776445 * math.sqrt(0.5), 3 + 2.776445 * math.sqrt(0.5)))
    assert t_interval([0.7, 0.7]) == pytest.approx((0.7, 0.7))
    assert t_interval([0.7]) is None
    assert t_interval([]) is None


def test_t_interval_covers_the_true_mean_95_percent_of_the_time():
    """Five cases per study, as small as the paper's test sets get: a normal (z) interval would
    cover only about 88 % here."""
    rng = np.random.default_rng(0)
    samples = rng.normal(0.8, 0.05, size=(4000, 5))
    coverage = np.mean([_holds(t_interval(list(sample)), 0.8) for sample in samples])
    assert coverage == pytest.approx(0.95, abs=0.015)


def test_pooled_dice_interval_maps_the_jaccard_interval():
    intervals = pooled_intervals(tp=60, fp=10, fn=30)
    assert intervals["IoU"] == wilson_interval(60, 100)
    assert intervals["Precision"] == wilson_interval(60, 70)
    assert intervals["Recall"] == wilson_interval(60, 90)
    low, high = intervals["IoU"]
    assert intervals["Dice"] == pytest.approx((2 * low / (1 + low), 2 * high / (1 + high)))
    assert intervals["Dice"][0] < 120 / 160 < intervals["Dice"][1]  # holds the pooled Dice itself
    assert pooled_intervals(0, 0, 0) == {"Precision": None, "Recall": None, "Dice": None, "IoU": None}


def _holds(interval, value) -> bool:
    return interval[0] <= value <= interval[1]


# --- classes ------------------------------------------------------------------------------------


def test_default_classes_add_the_papers_air_row():
    assert [(c.name, c.labels, c.key) for c in evaluation_classes(DEFAULT_LABELS)] == [
        ("soft_tissue", (1,), "1"), ("bone", (2,), "2"), ("air", (3,), "3"), ("air_incl_outside", (0, 3), "(0, 3)")]
    assert [c.name for c in evaluation_classes({"background": 0, "tumour": 1})] == ["tumour"]


@pytest.mark.parametrize("labels, message", [
    ({"background": 0, "head": [1, 2]}, "region-based labels"),
    ({"background": 0, "bone": 1, "ignore": 2}, "ignore labels"),
])
def test_dataset_json_with_unsupported_labels_is_refused(tmp_path, labels, message):
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"labels": labels, "file_ending": ".nii.gz"}), encoding="utf-8")
    with pytest.raises(UserError, match=message):
        read_dataset_json(path)


# --- folders, JSON, CSV, CLI --------------------------------------------------------------------
# Two cases whose every count is worked out by hand below; case_b has no bone at all.
CASE_A_REF = [[0, 1, 1, 2], [2, 3, 3, 0]]
CASE_A_PRED = [[0, 1, 2, 2], [2, 3, 0, 0]]
CASE_B_REF = [[0, 1, 1, 1], [1, 3, 0, 0]]
CASE_B_PRED = [[0, 1, 1, 1], [3, 3, 0, 0]]


def _write_segmentation(path, rows, spacing=(1.0, 1.0, 2.0)):
    image = sitk.GetImageFromArray(np.array([rows], dtype=np.uint8))
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))


@pytest.fixture
def folders(tmp_path):
    pred, ref = tmp_path / "pred", tmp_path / "ref"
    pred.mkdir()
    ref.mkdir()
    for case, ref_rows, pred_rows in (("case_a", CASE_A_REF, CASE_A_PRED), ("case_b", CASE_B_REF, CASE_B_PRED)):
        _write_segmentation(ref / f"{case}.nii.gz", ref_rows)
        _write_segmentation(pred / f"{case}.nii.gz", pred_rows)
    return pred, ref


def test_folder_summary_matches_hand_computed_values(folders):
    summary = evaluate_folders(*folders, num_processes=1)
    case_a, case_b = summary["metric_per_case"]
    assert case_a["case"] == "case_a" and case_a["prediction_file"].endswith("pred/case_a.nii.gz")
    assert case_a["metrics"]["1"] == pytest.approx(
        {"Precision": 1, "Recall": 0.5, "Dice": 2 / 3, "IoU": 0.5, "TP": 1, "FP": 0, "FN": 1, "TN": 6,
         "n_ref": 2, "n_pred": 1,
         # surface distances (mm): prediction -> reference [0], reference -> prediction [0, 1]
         "HD95": 0.95, "ASSD": 1 / 3})
    assert case_b["metrics"]["2"]["Dice"] is None and case_b["metrics"]["2"]["HD95"] is None
    assert case_b["metrics"]["(0, 3)"] == pytest.approx(
        {"Precision": 0.8, "Recall": 1, "Dice": 8 / 9, "IoU": 0.8, "TP": 4, "FP": 1, "FN": 0, "TN": 3,
         "n_ref": 4, "n_pred": 5,
         # prediction -> reference [0, 0, 0, 0, 1] (its extra voxel is 1 mm off), reference -> prediction all 0
         "HD95": 0.8, "ASSD": 1 / 9})

    soft_dice = (2 / 3 + 6 / 7) / 2
    assert summary["mean"]["1"]["Dice"] == pytest.approx(soft_dice)
    assert summary["mean"]["2"]["Dice"] == pytest.approx(0.8)  # case_b's undefined bone Dice left out
    assert summary["foreground_mean"]["Dice"] == pytest.approx((soft_dice + 0.8 + 2 / 3) / 3)  # merged row left out
    assert summary["pooled"]["1"] == pytest.approx(
        {"Precision": 1, "Recall": 4 / 6, "Dice": 0.8, "IoU": 4 / 6, "TP": 4, "FP": 0, "FN": 2, "TN": 10,
         "n_ref": 6, "n_pred": 4})

    across = summary["ci95"]["across_cases"]
    assert across["1"]["Dice"] == pytest.approx({**_bounds(t_interval([2 / 3, 6 / 7])), "n_cases": 2})
    assert across["2"]["Dice"] == {"low": None, "high": None, "n_cases": 1}  # one case: no interval
    assert summary["ci95"]["pooled"]["1"]["Recall"] == pytest.approx(_bounds(wilson_interval(4, 6)))


def test_a_class_absent_everywhere_is_null_not_nan(folders, tmp_path):
    summary = evaluate_folders(*folders, labels={**DEFAULT_LABELS, "implant": 4}, num_processes=1)
    assert summary["classes"]["4"] == {"name": "implant", "labels": [4]}
    assert summary["mean"]["4"] == {"Precision": None, "Recall": None, "Dice": None, "IoU": None, "HD95": None,
                                    "ASSD": None}
    assert summary["pooled"]["4"]["Dice"] is None
    assert summary["ci95"]["across_cases"]["4"]["Dice"] == {"low": None, "high": None, "n_cases": 0}
    assert summary["ci95"]["pooled"]["4"]["IoU"] == {"low": None, "high": None}
    write_json(summary, tmp_path / "s.json")  # refuses NaN
    write_csv(summary, tmp_path / "s.csv")
    pooled_implant = _csv_row(tmp_path / "s.csv", "pooled", "implant")
    assert (pooled_implant["Dice"], pooled_implant["TP"], pooled_implant["n_ref"]) == ("", "0", "0")


def test_parallel_evaluation_gives_the_same_summary(folders):
    assert evaluate_folders(*folders, num_processes=2) == evaluate_folders(*folders, num_processes=1)


def test_cli_writes_nnunet_readable_json_and_a_spreadsheet_csv(folders, capsys):
    pred, ref = folders
    assert main(["evaluate", "--pred", str(pred), "--ref", str(ref), "-np", "1"]) == 0
    assert "air_incl_outside" in capsys.readouterr().out

    from nnunetv2.evaluation.evaluate_predictions import load_summary_json
    summary = load_summary_json(str(pred / "summary_t1t2.json"))
    assert summary["mean"][(0, 3)]["Dice"] == pytest.approx((1 + 8 / 9) / 2)
    assert summary["metric_per_case"][1]["metrics"][2]["Precision"] is None

    with open(pred / "summary_t1t2.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 * 4 + 4 * 7  # case x class, then 7 summary rows per class
    bone_b = next(row for row in rows if row["case"] == "case_b" and row["class"] == "bone")
    assert (bone_b["Dice"], bone_b["TP"], bone_b["n_pred"]) == ("", "0", "0")
    assert _csv_row(pred / "summary_t1t2.csv", "mean_n_cases", "bone")["Dice"] == "1"
    assert float(_csv_row(pred / "summary_t1t2.csv", "pooled", "soft_tissue")["Dice"]) == pytest.approx(0.8)


def test_cli_names_classes_from_dataset_json(folders, tmp_path):
    pred, ref = folders
    dataset_json = tmp_path / "dataset.json"
    dataset_json.write_text(json.dumps({"labels": {"background": 0, "scalp": 1, "skull": 2, "sinus": 3},
                                        "file_ending": ".nii.gz"}), encoding="utf-8")
    output = tmp_path / "out" / "scores.json"
    assert main(["evaluate", "--pred", str(pred), "--ref", str(ref), "-o", str(output),
                 "--dataset-json", str(dataset_json), "-np", "1"]) == 0
    names = [entry["name"] for entry in json.loads(output.read_text(encoding="utf-8"))["classes"].values()]
    assert sorted(names) == ["scalp", "sinus", "skull"]  # no "air", so no merged air row
    assert output.with_suffix(".csv").is_file()


@pytest.mark.parametrize("break_input, message", [
    (lambda pred, ref: ref.rename(ref.parent / "gone"), "reference folder .*ref does not exist"),
    (lambda pred, ref: [p.unlink() for p in ref.iterdir()], "reference folder .*ref holds no segmentations"),
    (lambda pred, ref: (pred / "case_b.nii.gz").unlink(), "no prediction in .*pred for case_b.nii.gz"),
    (lambda pred, ref: _write_segmentation(pred / "case_c.nii.gz", CASE_A_PRED),
     "no reference in .*ref for case_c.nii.gz"),
    (lambda pred, ref: _write_segmentation(pred / "case_b.nii.gz", [[0, 1, 1], [1, 3, 0]]),
     r"prediction .*pred/case_b.nii.gz has shape \(1, 2, 3\) but reference .*ref/case_b.nii.gz has shape \(1, 2, 4\)"),
    (lambda pred, ref: _write_segmentation(pred / "case_a.nii.gz", CASE_A_PRED, spacing=(1.0, 1.0, 3.0)),
     r"prediction .*pred/case_a.nii.gz has voxel spacing .* but reference .*ref/case_a.nii.gz"),
    (lambda pred, ref: (pred / "case_a.nii.gz").write_bytes(b"not an image"), "cannot read segmentation .*case_a"),
], ids=["missing-folder", "no-files", "missing-prediction", "missing-reference", "shape", "spacing", "unreadable"])
def test_cli_reports_bad_input_naming_the_files(folders, capsys, break_input, message):
    pred, ref = folders
    break_input(pred, ref)
    assert main(["evaluate", "--pred", str(pred), "--ref", str(ref), "-np", "1"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ")
    assert re.search(message, error), error


def test_cli_refuses_an_output_that_is_not_json(folders, capsys):
    pred, ref = folders
    assert main(["evaluate", "--pred", str(pred), "--ref", str(ref), "-o", str(pred / "scores.csv")]) == 2
    assert "must end with .json" in capsys.readouterr().err


def _bounds(interval):
    return {"low": interval[0], "high": interval[1]}


def _csv_row(path, statistic, class_name):
    with open(path, newline="", encoding="utf-8") as file:
        return next(row for row in csv.DictReader(file) if row["statistic"] == statistic and row["class"] == class_name)
