"""The pseudo-CT error of a segmentation, per case: the bulk pseudo-CT of the prediction, of water and
of the CT's own labels against the registered CT, inside the head and the bone, by hand."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.evaluation.pseudo_ct_cases import pseudo_ct_errors
from nnunet_t1t2.labels import AIR, BACKGROUND, BONE, SOFT_TISSUE

HU = {"background": -1000, "soft_tissue": 40, "bone": 900, "air": -950}
HU_OF = {BACKGROUND: -1000, SOFT_TISSUE: 40, BONE: 900, AIR: -950}


def write(array: np.ndarray, path) -> None:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((1.0, 1.0, 2.5))
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))


def by_hand(pseudo: np.ndarray, ct: np.ndarray, inside: np.ndarray) -> float:
    errors = [abs(int(p) - int(c)) for p, c, i in zip(pseudo.ravel(), ct.ravel(), inside.ravel()) if i]
    return sum(errors) / len(errors)


@pytest.fixture
def cases(tmp_path):
    rng = np.random.default_rng(3)
    written = {}
    for case in ("a", "b"):
        labels = rng.choice([BACKGROUND, SOFT_TISSUE, BONE, AIR], size=(3, 4, 5)).astype(np.uint8)
        labels[0, 0, :4] = [SOFT_TISSUE, BONE, AIR, BACKGROUND]  # every class in every case
        prediction = np.where(rng.random(labels.shape) < 0.3, rng.choice([0, 1, 2, 3], size=labels.shape), labels)
        ct = rng.integers(-1024, 1500, size=labels.shape).astype(np.int16)
        for folder, array in (("labels", labels), ("predictions", prediction.astype(np.uint8)), ("ct", ct)):
            write(array, tmp_path / folder / f"{case}.nii.gz")
        written[case] = labels, prediction, ct
    return tmp_path, written


def test_every_pseudo_ct_error_is_the_hand_computed_mean_absolute_error(cases):
    root, written = cases
    result = pseudo_ct_errors(root / "predictions", root / "labels", root / "ct", HU)
    assert [case["case"] for case in result["cases"]] == ["a", "b"] and result["hu"] == HU
    for case in result["cases"]:
        labels, prediction, ct = written[case["case"]]
        head, bone = labels != BACKGROUND, labels == BONE
        bulk = {"predicted": np.vectorize(HU_OF.get)(prediction), "ct_labels": np.vectorize(HU_OF.get)(labels),
                "water": np.where(head, 0, -1000)}
        for image, pseudo in bulk.items():
            assert case["mae_hu"][image]["head"] == pytest.approx(by_hand(pseudo, ct, head))
            assert case["mae_hu"][image]["bone"] == pytest.approx(by_hand(pseudo, ct, bone))
    assert result["mean"]["predicted"]["bone"] == pytest.approx(
        np.mean([case["mae_hu"]["predicted"]["bone"] for case in result["cases"]]))


def test_a_case_without_bone_has_no_bone_error_and_the_mean_leaves_it_out(cases):
    root, written = cases
    labels, _, _ = written["b"]
    write(np.where(labels == BONE, SOFT_TISSUE, labels).astype(np.uint8), root / "labels" / "b.nii.gz")
    result = pseudo_ct_errors(root / "predictions", root / "labels", root / "ct", HU)
    b = next(case for case in result["cases"] if case["case"] == "b")
    assert all(b["mae_hu"][image]["bone"] is None for image in b["mae_hu"])
    a = next(case for case in result["cases"] if case["case"] == "a")
    assert result["mean"]["water"]["bone"] == a["mae_hu"]["water"]["bone"]


def test_a_missing_ct_or_another_grid_names_the_file(cases):
    root, _ = cases
    (root / "ct" / "b.nii.gz").unlink()
    with pytest.raises(UserError, match=r"ct/b\.nii\.gz: no registered CT"):
        pseudo_ct_errors(root / "predictions", root / "labels", root / "ct", HU)
    write(np.zeros((3, 4, 6), np.int16), root / "ct" / "b.nii.gz")
    with pytest.raises(UserError, match=r"b\.nii\.gz: the prediction, the labels and the registered CT differ in size"):
        pseudo_ct_errors(root / "predictions", root / "labels", root / "ct", HU)
