"""Surface distances (HD95, ASSD) against geometry on anisotropic voxels, their empty-class rules,
and their place in ``nnunet-t1t2 evaluate``'s JSON and CSV."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_t1t2.cli import main
from nnunet_t1t2.evaluation import surface_distances

SPACING = (3.0, 1.5, 1.0)  # mm along the array axes (z, y, x): thick slices, unequal in-plane edges
RADIUS = 15.0  # mm


def ball(centre_mm, shape=(18, 36, 54)) -> np.ndarray:
    """A ball of :data:`RADIUS` mm around ``centre_mm`` on the :data:`SPACING` grid."""
    z, y, x = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, SPACING)), indexing="ij")
    return (z - centre_mm[0]) ** 2 + (y - centre_mm[1]) ** 2 + (x - centre_mm[2]) ** 2 <= RADIUS ** 2


CENTRE = np.array([25.5, 27.0, 27.0])


def geometric_distances(radius: float, shift: float) -> tuple[float, float]:
    """HD95 and ASSD of two spheres of ``radius`` whose centres are ``shift`` apart.

    A point at polar angle t (from the shift's direction) of the shifted sphere lies
    |sqrt(r^2 + d^2 + 2 r d cos t) - r| from the other sphere, and a sphere's area is uniform in
    cos t (Archimedes); both directions are alike by symmetry."""
    cos_t = np.linspace(-1, 1, 200_001)
    distance = np.abs(np.sqrt(radius ** 2 + shift ** 2 + 2 * radius * shift * cos_t) - radius)
    return float(np.percentile(distance, 95)), float(distance.mean())


@pytest.mark.parametrize("axis", [0, 1, 2], ids=["across-slices", "y", "x"])
def test_a_ball_shifted_by_6_mm_is_within_a_voxel_of_geometry(axis):
    shift = np.zeros(3)
    shift[axis] = 6.0  # 2, 4 and 6 voxels
    measured = surface_distances(ball(CENTRE + shift), ball(CENTRE), SPACING)
    hd95, assd = geometric_distances(RADIUS, 6.0)
    voxel = min(SPACING)  # within the smallest edge of a voxel
    print(f"axis {axis}: HD95 {measured['HD95']:.2f} mm (geometry {hd95:.2f}), "
          f"ASSD {measured['ASSD']:.2f} mm (geometry {assd:.2f})")
    assert measured["HD95"] == pytest.approx(hd95, abs=voxel)
    assert measured["ASSD"] == pytest.approx(assd, abs=voxel)


def test_distances_follow_the_spacing_not_the_voxel_count():
    """The same voxels on a grid twice as coarse are twice as far apart."""
    pred, ref = ball(CENTRE + (3.0, 0, 0)), ball(CENTRE)
    fine = surface_distances(pred, ref, SPACING)
    coarse = surface_distances(pred, ref, tuple(2 * s for s in SPACING))
    assert coarse == pytest.approx({name: 2 * value for name, value in fine.items()})


def test_identical_masks_are_0_mm_apart():
    mask = ball(CENTRE)
    assert surface_distances(mask, mask, SPACING) == {"HD95": 0.0, "ASSD": 0.0}


@pytest.mark.parametrize("pred_empty, ref_empty", [(True, False), (False, True), (True, True)])
def test_a_class_missing_from_either_image_has_no_distance(pred_empty, ref_empty):
    mask, empty = ball(CENTRE), np.zeros_like(ball(CENTRE))
    distances = surface_distances(empty if pred_empty else mask, empty if ref_empty else mask, SPACING)
    assert distances == {"HD95": None, "ASSD": None}


# --- in evaluate's JSON and CSV -----------------------------------------------------------------


def _write(path, labels: np.ndarray) -> None:
    image = sitk.GetImageFromArray(labels.astype(np.uint8))
    image.SetSpacing(tuple(reversed(SPACING)))  # SimpleITK's (x, y, z)
    sitk.WriteImage(image, str(path))


def test_evaluate_writes_distances_per_case_with_means_and_intervals(tmp_path, capsys):
    """Bone (2) shifted by 3 and by 6 mm across slices in two cases; air (3) only in the prediction of one."""
    pred, ref = tmp_path / "pred", tmp_path / "ref"
    pred.mkdir()
    ref.mkdir()
    for case, shift in (("near", 3.0), ("far", 6.0)):
        reference = np.where(ball(CENTRE), 2, 1)
        prediction = np.where(ball(CENTRE + (shift, 0, 0)), 2, 1)
        if case == "far":
            prediction[0, 0, :3] = 3
        _write(ref / f"{case}.nii.gz", reference)
        _write(pred / f"{case}.nii.gz", prediction)
    assert main(["evaluate", "--pred", str(pred), "--ref", str(ref), "-np", "1"]) == 0
    assert "HD95" in capsys.readouterr().out

    summary = json.loads((pred / "summary_t1t2.json").read_text(encoding="utf-8"))
    bone = {case["case"]: case["metrics"]["2"] for case in summary["metric_per_case"]}
    for case in ("near", "far"):
        assert {name: bone[case][name] for name in ("HD95", "ASSD")} == pytest.approx(
            surface_distances(*_masks(pred, ref, case, 2), SPACING))
    assert bone["far"]["ASSD"] > bone["near"]["ASSD"] > 0
    assert summary["mean"]["2"]["ASSD"] == pytest.approx((bone["near"]["ASSD"] + bone["far"]["ASSD"]) / 2)
    interval = summary["ci95"]["across_cases"]["2"]["HD95"]
    assert interval["n_cases"] == 2 and interval["low"] < summary["mean"]["2"]["HD95"] < interval["high"]
    # air is in no reference: no distance in either case, a null mean
    assert [case["metrics"]["3"]["HD95"] for case in summary["metric_per_case"]] == [None, None]
    assert summary["mean"]["3"]["HD95"] is None and summary["ci95"]["across_cases"]["3"]["ASSD"]["n_cases"] == 0
    assert "HD95" not in summary["pooled"]["2"]  # distances have no pooled value
    assert summary["mean"]["2"]["Dice"] == pytest.approx(  # the existing keys are still there
        np.mean([case["metrics"]["2"]["Dice"] for case in summary["metric_per_case"]]))

    with open(pred / "summary_t1t2.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    row = {(r["statistic"], r["case"], r["class"]): r for r in rows}
    assert float(row["case", "far", "bone"]["HD95"]) == pytest.approx(bone["far"]["HD95"])
    assert float(row["mean", "", "bone"]["ASSD"]) == pytest.approx(summary["mean"]["2"]["ASSD"])
    assert row["mean_n_cases", "", "bone"]["HD95"] == "2"
    assert (row["case", "far", "air"]["HD95"], row["mean", "", "air"]["ASSD"]) == ("", "")
    assert row["pooled", "", "bone"]["HD95"] == ""


def _masks(pred, ref, case: str, label: int):
    return tuple(sitk.GetArrayFromImage(sitk.ReadImage(str(folder / f"{case}.nii.gz"))) == label
                 for folder in (pred, ref))
