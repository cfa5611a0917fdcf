"""``nnunet-t1t2 predict``: DICOM, .mha and .nrrd scans through nnU-Net's predictor, on the input grid.

The model is the session's T1 source model (``source_model``: SEUNetTrainer, demo plans, saved
without test-time mirroring); it segments the phantom's T2 test scan too, which is all the
mechanics need. Predictions that are compared with ``nnUNetv2_predict`` run as subprocesses with
the same environment, so both use the same number of threads.
"""
import csv
import json
import shutil

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import CONFIG, PLANS, T1_ID
from nnunet_t1t2.cli import main
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.prediction.inputs import find_cases
from nnunet_t1t2.prediction.model import check_model, find_model, install_zip
from nnunet_t1t2.prediction.pseudo_ct import DEFAULT_HU, LITERATURE, choose_hu

BONE_HU = 900  # an override, to show that --hu reaches the pseudo-CT, also over --hu-from
#: What a conversion.json given to --hu-from records for its training patients.
RECORDED_HU = {"soft_tissue": 41, "bone": 1234, "air": -733}
FAST_PREDICT = ("--disable-tta", "--device", "cpu")


def held_out_images(phantom_datasets, kind: str) -> list:
    name = {"T1": phantom_datasets.t1, "T2": phantom_datasets.t2}[kind]
    return sorted((phantom_datasets.nnunet.raw / name / "imagesTs").glob("*_0000.nii.gz"))


def write_dicom_series(image: sitk.Image, folder) -> None:
    """``image`` (int16) as an MR DICOM series, keeping its direction, which may be oblique."""
    folder.mkdir(parents=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    direction = np.reshape(image.GetDirection(), (3, 3))
    orientation = "\\".join(f"{v:.9f}" for v in (*direction[:, 0], *direction[:, 1]))
    for k in range(image.GetDepth()):
        slice_ = image[:, :, k]
        position = "\\".join(f"{v:.6f}" for v in image.TransformIndexToPhysicalPoint((0, 0, k)))
        for tag, value in (("0008|0016", "1.2.840.10008.5.1.4.1.1.4"), ("0008|0060", "MR"),
                           ("0020|000e", "1.2.826.0.1.3680043.2.1125.1.4"), ("0020|0013", str(k + 1)),
                           ("0020|0037", orientation), ("0020|0032", position)):
            slice_.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"{k:03d}.dcm"))
        writer.Execute(slice_)


def oblique(image: sitk.Image) -> sitk.Image:
    """The same voxels on a tilted grid with another origin: a geometry that no default reproduces."""
    rotation = sitk.VersorTransform((0.3, 0.2, 1.0), np.deg2rad(12.0))
    tilted = sitk.Image(image)
    tilted.SetDirection(np.reshape(rotation.GetMatrix(), (3, 3)).ravel().tolist())
    tilted.SetOrigin((-97.5, -121.25, 33.0))
    return tilted


def read_dicom(folder) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


#: How exactly each format stores a grid: .mha writes doubles in full, .nrrd to the last bit or so,
#: NIfTI as float32 (pixdim, quaternion), which is what nnU-Net's own NIfTI outputs carry too.
GRID_PRECISION = {".mha": 0.0, ".nrrd": 1e-12, ".nii.gz": 1e-5}


def assert_same_grid(image: sitk.Image, reference: sitk.Image, ending: str) -> None:
    assert image.GetSize() == reference.GetSize()
    for what in ("GetOrigin", "GetSpacing", "GetDirection"):
        np.testing.assert_allclose(getattr(image, what)(), getattr(reference, what)(), rtol=0,
                                   atol=GRID_PRECISION[ending], err_msg=what)


@pytest.fixture(scope="module")
def scans(phantom_datasets, tmp_path_factory):
    """A T2 test scan as an oblique DICOM series, a T1 test scan as .mha and as .nrrd."""
    root = tmp_path_factory.mktemp("scans")
    t2 = sitk.Cast(sitk.ReadImage(str(held_out_images(phantom_datasets, "T2")[0])), sitk.sitkInt16)
    write_dicom_series(oblique(t2), root / "inputs" / "t2_dicom")
    t1 = sitk.ReadImage(str(held_out_images(phantom_datasets, "T1")[0]))
    sitk.WriteImage(t1, str(root / "inputs" / "t1_mha.mha"))
    sitk.WriteImage(oblique(t1), str(root / "inputs" / "t1_nrrd.nrrd"))
    return root


@pytest.fixture(scope="module")
def predicted(phantom_datasets, source_model, scans):
    """One run of ``nnunet-t1t2 predict`` over the input folder, keeping the input formats, with a pseudo-CT."""
    out = scans / "predicted"
    manifest = scans / "conversion.json"
    manifest.write_text(json.dumps({"cases": {}, "training_median_hu": {"hu": RECORDED_HU, "cases": ["p1", "p2"]}}),
                        encoding="utf-8")
    phantom_datasets.nnunet.run("nnunet-t1t2", "predict", "-i", str(scans / "inputs"), "-o", str(out),
                                "-m", str(source_model.parent), "--format", "input", "--hu-from", str(manifest),
                                "--hu", f"bone={BONE_HU}", *FAST_PREDICT)
    return out


def test_dicom_series_predicts_on_its_own_grid_as_nnunet_predict_does(phantom_datasets, scans, predicted, tmp_path):
    dicom = read_dicom(scans / "inputs" / "t2_dicom")
    labels = sitk.ReadImage(str(predicted / "t2_dicom.nii.gz"))  # DICOM input gives NIfTI
    assert_same_grid(labels, dicom, ".nii.gz")
    assert not np.allclose(dicom.GetDirection(), np.eye(3).ravel())  # the test's grid is really oblique

    stock_input = tmp_path / "stock_input"
    stock_input.mkdir()
    sitk.WriteImage(dicom, str(stock_input / "t2_dicom_0000.nii.gz"))
    stock = phantom_datasets.nnunet.predict(T1_ID, "SEUNetTrainer", stock_input, tmp_path / "stock")
    stock_labels = sitk.ReadImage(str(stock / "t2_dicom.nii.gz"))
    assert_same_grid(labels, stock_labels, ".nii.gz")
    expected = sitk.GetArrayFromImage(stock_labels)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(labels), expected)
    assert set(np.unique(expected)) - {0}, "the model predicts only background; the comparison shows nothing"


@pytest.mark.parametrize("case, ending", [("t1_mha", ".mha"), ("t1_nrrd", ".nrrd")])
def test_mha_and_nrrd_inputs_keep_their_format_and_grid(scans, predicted, case, ending):
    source = sitk.ReadImage(str(scans / "inputs" / f"{case}{ending}"))
    labels = sitk.ReadImage(str(predicted / f"{case}{ending}"))
    assert_same_grid(labels, source, ending)
    assert (predicted / "qc" / f"{case}.png").stat().st_size > 10_000


def test_the_mha_and_the_oblique_nrrd_of_one_scan_get_the_same_labels(predicted):
    """Only the geometry differs between the two files; nnU-Net sees the same array."""
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(predicted / "t1_mha.mha"))),
                                  sitk.GetArrayFromImage(sitk.ReadImage(str(predicted / "t1_nrrd.nrrd"))))


def test_pseudo_ct_gives_each_class_its_hu_and_records_them(predicted, scans):
    """Outside the head the literature's -1000, soft tissue and air exactly the recorded training
    medians (--hu-from), bone the --hu override; the sidecar says so."""
    expected_hu = {"background": DEFAULT_HU["background"], **RECORDED_HU, "bone": BONE_HU}
    labels = sitk.ReadImage(str(predicted / "t1_mha.mha"))
    pseudo_ct = sitk.ReadImage(str(predicted / "t1_mha_pseudo_ct.mha"))
    assert_same_grid(pseudo_ct, labels, ".mha")
    label_array, hu = sitk.GetArrayFromImage(labels), sitk.GetArrayFromImage(pseudo_ct)
    for name, value in {"background": 0, "soft_tissue": 1, "bone": 2, "air": 3}.items():
        assert np.all(hu[label_array == value] == expected_hu[name]), name
    assert len(np.unique(label_array)) >= 2
    record = json.loads((predicted / "t1_mha_pseudo_ct.json").read_text(encoding="utf-8"))
    assert record["hu"] == expected_hu
    measured = f"median over the training patients' CTs, {(scans / 'conversion.json').resolve()}"
    assert record["source"] == {"background": LITERATURE, "soft_tissue": measured, "air": measured, "bone": "--hu"}


def test_volumes_csv_has_millilitres_per_class_per_case(predicted):
    with (predicted / "volumes.csv").open(encoding="utf-8") as f:
        rows = {row["case"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == ["t1_mha", "t1_nrrd", "t2_dicom"]
    labels = sitk.ReadImage(str(predicted / "t2_dicom.nii.gz"))
    counts = np.bincount(sitk.GetArrayFromImage(labels).ravel(), minlength=4)
    voxel_ml = np.prod(labels.GetSpacing()) / 1000
    for name, value in {"soft_tissue": 1, "bone": 2, "air": 3}.items():
        assert float(rows["t2_dicom"][f"{name}_ml"]) == pytest.approx(counts[value] * voxel_ml, abs=1e-3)


def test_exported_zip_predicts_the_same_labels(phantom_datasets, source_model, scans, predicted, tmp_path):
    nnunet = phantom_datasets.nnunet
    zip_path = tmp_path / "model.zip"
    nnunet.run("nnUNetv2_export_model_to_zip", "-d", str(T1_ID), "-o", str(zip_path), "-c", CONFIG,
               "-tr", "SEUNetTrainer", "-p", PLANS, "-f", "0")
    cache = tmp_path / "cache"
    nnunet.run("nnunet-t1t2", "predict", "-i", str(scans / "inputs" / "t1_mha.mha"), "-o", str(tmp_path / "out"),
               "-m", str(zip_path), "--cache", str(cache), "--no-qc", *FAST_PREDICT)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / "t1_mha.nii.gz"))),
                                  sitk.GetArrayFromImage(sitk.ReadImage(str(predicted / "t1_mha.mha"))))
    installed = list(cache.iterdir())
    assert len(installed) == 1 and list(installed[0].rglob("checkpoint_final.pth"))
    assert install_zip(zip_path, cache) == installed[0]  # a second use installs nothing


def test_a_bad_case_among_good_ones(source_model, scans, tmp_path, capsys):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(scans / "inputs" / "t1_mha.mha", inputs / "good.mha")
    good = sitk.ReadImage(str(inputs / "good.mha"))
    sitk.WriteImage(good[:, :, good.GetDepth() // 2], str(inputs / "flat.nii.gz"))  # 2D
    truncated = inputs / "truncated.nii.gz"
    sitk.WriteImage(good, str(truncated))
    truncated.write_bytes(truncated.read_bytes()[:2000])
    out = tmp_path / "out"
    (out / ".good.partial").mkdir(parents=True)  # what a killed run leaves

    status = main(["predict", "-i", str(inputs), "-o", str(out), "-m", str(source_model.parent), *FAST_PREDICT])

    assert status == 1
    errors = capsys.readouterr().err
    assert f"{inputs / 'flat.nii.gz'}" in errors and "3D volume is needed" in errors
    assert f"{truncated}" in errors and "truncated" in errors
    assert sorted(p.name for p in out.iterdir()) == ["good.nii.gz", "qc", "volumes.csv"]
    with (out / "volumes.csv").open(encoding="utf-8") as f:
        assert [row["case"] for row in csv.DictReader(f)] == ["good"]


def test_model_problems_name_the_model_and_the_fix(source_model, tmp_path):
    folder = tmp_path / "Dataset999_X" / "SEUNetTrainer__nnUNetPlans_demo__3d_fullres"
    (folder / "fold_0").mkdir(parents=True)
    with pytest.raises(UserError, match=f"model folder {folder} has no plans.json"):
        check_model(folder, None)
    shutil.copy(source_model.parent / "plans.json", folder)
    dataset_json = json.loads((source_model.parent / "dataset.json").read_text(encoding="utf-8"))
    (folder / "dataset.json").write_text(json.dumps({**dataset_json, "channel_names": {"0": "T1", "1": "T2"}}))
    with pytest.raises(UserError, match="has no fold with checkpoint_final.pth"):
        check_model(folder, None)
    (folder / "fold_0" / "checkpoint_final.pth").touch()
    with pytest.raises(UserError, match="no checkpoint_final.pth for fold 1; folds with one: 0"):
        check_model(folder, ["1"])
    with pytest.raises(UserError, match=r"takes 2 input channels \(T1, T2\); predict gives it one MR image"):
        check_model(folder, None)

def test_dataset_trainer_plans_configuration_find_the_model_under_nnunet_results(phantom_datasets, source_model,
                                                                                 monkeypatch, tmp_path):
    for variable in ("nnUNet_raw", "nnUNet_preprocessed"):  # the data set is looked up under the results only
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("nnUNet_results", str(phantom_datasets.nnunet.results))
    assert find_model(None, str(T1_ID), "SEUNetTrainer", PLANS, CONFIG, tmp_path) == source_model.parent
    with pytest.raises(UserError, match="no trained model at .*OpenFineTuneTrainer__nnUNetPlans_demo__3d_fullres"):
        find_model(None, str(T1_ID), "OpenFineTuneTrainer", PLANS, CONFIG, tmp_path)
    monkeypatch.delenv("nnUNet_results")
    with pytest.raises(UserError, match="nnUNet_results is not set"):
        find_model(None, str(T1_ID), "SEUNetTrainer", PLANS, CONFIG, tmp_path)


def test_a_missing_model_is_reported_before_any_case(tmp_path, capsys):
    image = tmp_path / "scan.nii.gz"
    sitk.WriteImage(sitk.Image(8, 8, 8, sitk.sitkInt16), str(image))
    assert main(["predict", "-i", str(image), "-o", str(tmp_path / "out"), "-m", str(tmp_path / "nope.zip")]) == 2
    assert f"model {tmp_path / 'nope.zip'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_inputs_are_found_and_named_like_nnunet_outputs(tmp_path):
    image = sitk.Image(4, 4, 4, sitk.sitkInt16)
    (tmp_path / "a" / "deeper").mkdir(parents=True)
    sitk.WriteImage(image, str(tmp_path / "a" / "case1_0000.nii.gz"))
    sitk.WriteImage(image, str(tmp_path / "a" / "deeper" / "case2.nrrd"))
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    cases = find_cases([tmp_path / "a"])
    assert [(c.name, c.fmt) for c in cases] == [("case1", "nifti"), ("case2", "nrrd")]
    sitk.WriteImage(image, str(tmp_path / "case1.mha"))
    with pytest.raises(UserError, match="would both be written as case 'case1'"):
        find_cases([tmp_path / "a", tmp_path / "case1.mha"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="input folder .*empty holds no DICOM series and no image files"):
        find_cases([tmp_path / "empty"])


def test_hu_overrides_are_checked():
    assert choose_hu("soft=40, bone=1000").values == {**DEFAULT_HU, "soft_tissue": 40, "bone": 1000}
    for bad, message in (("fat=-100", "unknown class 'fat'"), ("bone=hard", "not a number"),
                         ("bone=5000", "outside")):
        with pytest.raises(UserError, match=message):
            choose_hu(bad)
