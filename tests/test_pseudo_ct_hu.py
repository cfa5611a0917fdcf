"""Tissue HU from the user's own CTs: what the conversion records, what ``--hu-from`` makes of it,
and the pseudo-CT's mean absolute error, each against a hand computation."""
from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from nnunet_t1t2.conversion.manifest import Manifest
from nnunet_t1t2.conversion.tissue_hu import median_hu_per_label
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.evaluation import mean_absolute_error_hu
from nnunet_t1t2.labels import LABELS
from nnunet_t1t2.prediction.pseudo_ct import DEFAULT_HU, LITERATURE, choose_hu, pseudo_ct

# A CT on an MR grid (HU) and its labels: 0 outside, 1 soft tissue, 2 bone, 3 air.
CT = np.array([[[-1000, -990, 30, 41, 45, 1000, 820, 700, -800, -600]]], dtype=np.float32)
LABELLED = np.array([[[0, 0, 1, 1, 1, 2, 2, 2, 3, 3]]], dtype=np.uint8)


def image(array: np.ndarray) -> sitk.Image:
    return sitk.GetImageFromArray(array)


def test_a_case_records_the_median_hu_inside_each_label():
    assert median_hu_per_label(image(CT), image(LABELLED)) == {"soft_tissue": 41, "bone": 820, "air": -700}
    no_air = np.where(LABELLED == 3, 1, LABELLED).astype(np.uint8)
    assert median_hu_per_label(image(CT), image(no_air))["air"] is None


def converted_dataset(folder, medians: dict[str, dict], test: set[str]) -> None:
    """A conversion.json as the conversion writes it, one record per case with its medians."""
    manifest = Manifest(folder)
    for case, median_hu in medians.items():
        manifest.add(case, {"patient": case, "test": case in test, "median_hu": median_hu})
    manifest.finish()


MEDIANS = {
    "p1": {"soft_tissue": 30, "bone": 900, "air": -700},
    "p2": {"soft_tissue": 41, "bone": 820, "air": -650},
    "p3": {"soft_tissue": 50, "bone": 1001, "air": None},  # no air in this patient's head
    "p4": {"soft_tissue": 0, "bone": 0, "air": 0},  # a test patient: never used
}


def test_conversion_json_gives_the_median_over_the_training_cases(tmp_path):
    converted_dataset(tmp_path, MEDIANS, test={"p4"})
    summary = json.loads((tmp_path / "conversion.json").read_text(encoding="utf-8"))["training_median_hu"]
    # soft tissue median(30, 41, 50); bone median(900, 820, 1001); air median(-700, -650) = -675
    assert summary["hu"] == {"soft_tissue": 41, "bone": 900, "air": -675}
    assert summary["cases"] == ["p1", "p2", "p3"]


def test_hu_from_gives_exactly_the_recorded_medians_in_the_pseudo_ct(tmp_path):
    converted_dataset(tmp_path, MEDIANS, test={"p4"})
    chosen = choose_hu(hu_from=str(tmp_path / "conversion.json"))
    assert chosen.values == {"background": -1000, "soft_tissue": 41, "bone": 900, "air": -675}
    made = sitk.GetArrayFromImage(pseudo_ct(image(LABELLED), LABELS, chosen.values))
    for name, value in LABELS.items():
        assert np.all(made[LABELLED == value] == chosen.values[name]), name
    measured = f"median over the training patients' CTs, {(tmp_path / 'conversion.json').resolve()}"
    assert chosen.record()["source"] == {"background": LITERATURE, "soft_tissue": measured, "bone": measured,
                                         "air": measured}


def test_hu_from_finds_a_data_set_by_id_name_or_folder_and_hu_overrides_it(tmp_path, monkeypatch):
    monkeypatch.setenv("nnUNet_raw", str(tmp_path))
    folder = tmp_path / "Dataset042_HeadsT2"
    folder.mkdir()
    converted_dataset(folder, MEDIANS, test={"p4"})
    for given in ("42", "Dataset042_HeadsT2", str(folder)):
        assert choose_hu(hu_from=given).values["air"] == -675, given
    chosen = choose_hu("bone=1100", hu_from="42")
    assert (chosen.values["bone"], chosen.sources["bone"]) == (1100, "--hu")
    assert choose_hu().values == DEFAULT_HU  # the literature values stay the default


@pytest.mark.parametrize("content, message", [
    (None, "no such file or folder, and not a data set id or name"),
    ("not json", "cannot read"),
    (json.dumps({"cases": {}, "left_out": {}}), "records no tissue HU of training cases"),
    (json.dumps({"training_median_hu": {"hu": {"soft_tissue": 40, "bone": 900, "air": None}, "cases": ["p1"]}}),
     "no training case has air"),
], ids=["missing", "not-json", "older-conversion", "no-air"])
def test_hu_from_names_the_file_and_what_is_wrong(tmp_path, content, message):
    manifest = tmp_path / "conversion.json"
    if content is not None:
        manifest.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        choose_hu(hu_from=str(manifest))


def test_pseudo_ct_mae_of_a_hand_made_case():
    """Literature bulk HU on the labels above, scored inside the head (labels 1-3) and inside bone."""
    made = sitk.GetArrayFromImage(pseudo_ct(image(LABELLED), LABELS, DEFAULT_HU))
    head, bone = LABELLED != 0, LABELLED == 2
    # soft tissue |34-30| + |34-41| + |34-45| = 22; bone |731-1000| + |731-820| + |731-700| = 389;
    # air |-1000+800| + |-1000+600| = 600
    assert mean_absolute_error_hu(made, CT, head) == pytest.approx((22 + 389 + 600) / 8)
    assert mean_absolute_error_hu(made, CT, bone) == pytest.approx(389 / 3)
    assert mean_absolute_error_hu(np.zeros_like(CT), CT, head) == pytest.approx(  # water
        (30 + 41 + 45 + 1000 + 820 + 700 + 800 + 600) / 8)
    assert mean_absolute_error_hu(made, CT, np.zeros_like(head)) is None
