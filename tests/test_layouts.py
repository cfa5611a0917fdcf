"""Input layouts (SynthRAD2023/2025, RIRE, BIDS, ``auto``) and the messages for unreadable or
misplaced images.

Each layout test writes small phantom patients in that layout, converts them and compares the
labels with the phantom's truth on each MR grid. Where a layout offers several images of one role
(RIRE's rectified MR, BIDS runs), the one that must not be taken is a CT, so taking it would fail
the conversion with "looks like a CT".
"""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from test_conversion import DICE_TARGETS, dice_per_class, fresh_nnunet, true_ct_from_mr  # noqa: F401 (fixture)

from nnunet_t1t2.cli import main as cli_main
from nnunet_t1t2.conversion import DatasetIds, SplitProtocol, convert
from nnunet_t1t2.conversion.layouts import detect_layout, discover_patients
from nnunet_t1t2.conversion.pipeline import split_by_subject
from nnunet_t1t2.conversion.reading import read_mr
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.phantom import generate_phantom

ONE_FOLD = SplitProtocol(folds=1, t1_test_fraction=0.0, t2_test_fraction=0.0)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory) -> Path:
    """Three small patients, two of them with T2."""
    folder = tmp_path_factory.mktemp("layouts") / "phantom"
    generate_phantom(folder, n=3, seed=5, size="small", n_t2=2)
    return folder


def patients_of(phantom: Path) -> list[Path]:
    return sorted(p for p in phantom.iterdir() if p.is_dir())


def with_t2(phantom: Path) -> list[Path]:
    return [p for p in patients_of(phantom) if (p / "t2.nii.gz").is_file()]


def image(patient: Path, name: str) -> sitk.Image:
    return sitk.ReadImage(str(patient / f"{name}.nii.gz"))


def assert_labels_match_truth(label_file: Path, patient: Path, modality: str, targets: dict[str, float]) -> None:
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(label_file)))
    truth = sitk.GetArrayFromImage(image(patient, f"truth_{modality.lower()}"))
    dice = dice_per_class(labels, truth)
    assert all(dice[name] >= target for name, target in targets.items()), (label_file, dice)


def converted_labels(nnunet: dict, dataset: str) -> dict[str, Path]:
    """Case -> label file of a converted data set (training and test)."""
    folder = nnunet["nnUNet_raw"] / dataset
    return {p.name[:-len(".nii.gz")]: p for p in sorted(folder.glob("labels*/*.nii.gz"))}


# --- SynthRAD ------------------------------------------------------------------------------------

def write_synthrad_patient(patient: Path, folder: Path, suffix: str) -> None:
    """MR, the CT resampled onto it with the true transform (the images are registered) and a
    dilated outline mask, as SynthRAD provides them."""
    folder.mkdir(parents=True)
    mr = image(patient, "t1")
    true = true_ct_from_mr(patient, "T1")
    ct = sitk.Resample(image(patient, "ct"), mr, sitk.AffineTransform(true[:3, :3].ravel().tolist(), true[:3, 3].tolist()),
                       sitk.sitkBSpline, -1024.0, sitk.sitkInt16)
    outline = sitk.BinaryDilate(image(patient, "truth_t1") > 0, [2, 2, 2])
    for data, name in ((mr, "mr"), (ct, "ct"), (outline, "mask")):
        sitk.WriteImage(data, str(folder / f"{name}{suffix}"))


def test_synthrad2025_regions_of_mha_files_convert_with_labels_matching_the_truth(phantom, fresh_nnunet, tmp_path):
    task = tmp_path / "Task1"
    names = {"1HNA001": "HN", "1HNA002": "HN", "1ABA001": "AB"}
    for patient, (name, region) in zip(patients_of(phantom), names.items()):
        write_synthrad_patient(patient, task / region / name, ".mha")
    (task / "HN" / "overviews").mkdir()
    (task / "HN" / "overviews" / "1HNA001_overview.png").write_bytes(b"png")

    assert detect_layout(task) == "synthrad" and detect_layout(task / "HN") == "synthrad"
    region, _ = discover_patients(task / "HN", "synthrad")
    assert [p.patient for p in region] == ["1HNA001", "1HNA002"]

    summary = convert(task, "auto", DatasetIds(501, 502), protocol=ONE_FOLD, progress=False)
    assert sorted(summary.converted) == ["1ABA001 T1", "1HNA001 T1", "1HNA002 T1"], summary.report()
    assert not summary.failed and any("layout synthrad detected" in note for note in summary.notes)
    labels = converted_labels(fresh_nnunet, "Dataset501_Task1T1")
    for patient, name in zip(patients_of(phantom), names):
        assert_labels_match_truth(labels[name], patient, "T1", {"soft_tissue": 0.95, "bone": 0.88})


def test_synthrad_patient_ids_must_be_unique_across_regions(phantom, tmp_path):
    for region in ("HN", "TH"):
        folder = tmp_path / region / "1XXA001"
        folder.mkdir(parents=True)
        for name in ("mr.mha", "ct.mha", "mask.mha"):
            (folder / name).write_bytes(b"")
    patients, problems = discover_patients(tmp_path, "synthrad")
    assert len(patients) == 1 and len(problems) == 1
    assert "gives the same case identifier as" in problems[0].message and "HN" in problems[0].message


# --- RIRE ----------------------------------------------------------------------------------------

def test_rire_layout_prefers_rectified_mr_and_converts_with_labels_matching_the_truth(phantom, fresh_nnunet, tmp_path):
    source = tmp_path / "rire"
    first, second = with_t2(phantom)
    folders = {first: {"ct": "ct", "mr_T1_rectified": "t1", "mr_T2": "t2"},
               second: {"ct": "ct", "mr_T1": "t1", "mr_T2_rectified": "t2"}}
    for patient, modalities in folders.items():
        folder = source / f"patient_{patient.name[-3:]}"
        for sub, name in modalities.items():
            (folder / sub).mkdir(parents=True)
            sitk.WriteImage(image(patient, name), str(folder / sub / f"{folder.name}_{sub}.mhd"))
        (folder / "pet").mkdir()
    # The first patient's unrectified T1 is there too; taking it instead of the rectified one would fail.
    unrectified = source / f"patient_{first.name[-3:]}" / "mr_T1"
    unrectified.mkdir()
    sitk.WriteImage(image(first, "ct"), str(unrectified / "mr_T1.mhd"))
    assert detect_layout(source) == "rire"

    summary = convert(source, "rire", DatasetIds(511, 512), protocol=ONE_FOLD, progress=False)
    assert len(summary.converted) == 4 and not summary.failed, summary.report()
    assert [note for note in summary.notes if "preferred" in note] == [
        f"patient patient_{first.name[-3:]}: T1 from mr_T1_rectified/, preferred over mr_T1/ "
        f"(corrected for geometric distortion)"]
    for modality, dataset in (("T1", "Dataset511_RireT1"), ("T2", "Dataset512_RireT2")):
        labels = converted_labels(fresh_nnunet, dataset)
        assert len(labels) == 2
        for case, label_file in labels.items():
            assert_labels_match_truth(label_file, phantom / f"phantom_{case[-3:]}", modality, DICE_TARGETS)


def test_rire_folder_with_several_images_is_refused(tmp_path):
    folder = tmp_path / "patient_001"
    for sub, files in {"ct": ["a.mhd"], "mr_T1": ["a.mhd", "b.mhd"]}.items():
        (folder / sub).mkdir(parents=True)
        for name in files:
            (folder / sub / name).write_bytes(b"")
    patients, problems = discover_patients(tmp_path, "rire")
    assert not patients and "should hold one .mhd or .mha image, holds 2 (a.mhd, b.mhd)" in problems[0].message


# --- BIDS ----------------------------------------------------------------------------------------

def test_bids_subjects_and_sessions_convert_with_labels_matching_the_truth(phantom, fresh_nnunet, tmp_path, capsys):
    first, second = with_t2(phantom)
    root = tmp_path / "bids"
    anat = root / "sub-01" / "anat"
    anat.mkdir(parents=True)
    for name, suffix in (("t1", "T1w"), ("t2", "T2w"), ("ct", "ct")):
        shutil.copy(first / f"{name}.nii.gz", anat / f"sub-01_{suffix}.nii.gz")
    session = root / "sub-02" / "ses-1"
    (session / "anat").mkdir(parents=True)
    (session / "ct").mkdir()
    # Two runs of the T1: the last one is taken (the first is a CT, which would fail).
    shutil.copy(second / "ct.nii.gz", session / "anat" / "sub-02_ses-1_run-1_T1w.nii.gz")
    shutil.copy(second / "t1.nii.gz", session / "anat" / "sub-02_ses-1_run-2_T1w.nii.gz")
    shutil.copy(second / "t2.nii.gz", session / "anat" / "sub-02_ses-1_T2w.nii.gz")
    shutil.copy(second / "ct.nii.gz", session / "ct" / "sub-02_ses-1_CT.nii.gz")
    (root / "derivatives" / "sub-01").mkdir(parents=True)
    (root / "dataset_description.json").write_text('{"Name": "phantom", "BIDSVersion": "1.9.0"}')

    status = cli_main(["convert", "--input", str(root), "--t1-id", "521", "--t2-id", "522", "--folds", "1",
                       "--t1-test-fraction", "0", "--t2-test-fraction", "0"])
    output = capsys.readouterr().out
    assert status == 0, output
    assert "note: layout bids detected" in output
    assert "T1 from sub-02_ses-1_run-2_T1w.nii.gz, the last of 2 runs" in output
    for modality in ("T1", "T2"):
        labels = converted_labels(fresh_nnunet, f"Dataset52{modality[-1]}_Bids{modality}")
        assert sorted(labels) == ["sub-01", "sub-02_ses-1"]
        for case, patient in (("sub-01", first), ("sub-02_ses-1", second)):
            assert_labels_match_truth(labels[case], patient, modality, DICE_TARGETS)


def test_the_sessions_of_a_bids_subject_stay_on_one_side_of_every_split(tmp_path):
    """Two sessions of one subject share a head: one in training and one in test would leak."""
    folders = [f"sub-{i:02d}/anat/sub-{i:02d}" for i in range(1, 10)] + \
              [f"sub-10/ses-{s}/anat/sub-10_ses-{s}" for s in (1, 2)]
    for index, stem in enumerate(folders):
        suffixes = ("T1w", "ct") + (("T2w",) if index % 2 else ())
        touch_all(tmp_path, [f"{stem}_{suffix}.nii.gz" for suffix in suffixes])
    patients, problems = discover_patients(tmp_path, "bids")
    assert not problems and {"sub-10_ses-1", "sub-10_ses-2"} <= {p.patient for p in patients}
    sides = set()
    for seed in range(12):
        split = split_by_subject(patients, True, SplitProtocol(folds=3, seed=seed))
        for kind in ("T1", "T2"):
            groups = [split.test_patients(kind), *split.val_folds(kind)]
            placement = [("sub-10_ses-1" in group, "sub-10_ses-2" in group) for group in groups]
            assert all(first == second for first, second in placement), (seed, kind, placement)
            sides.add((kind, tuple(first for first, _ in placement)))
    assert len(sides) > 2  # the subject does land in test and in different folds across seeds


def test_bids_images_that_are_not_runs_of_one_acquisition_are_refused(tmp_path):
    anat = tmp_path / "sub-01" / "anat"
    anat.mkdir(parents=True)
    for name in ("sub-01_acq-mprage_T1w.nii.gz", "sub-01_acq-spgr_T1w.nii.gz", "sub-01_ct.nii.gz",
                 "sub-01_T1w.json"):
        (anat / name).write_bytes(b"")
    patients, problems = discover_patients(tmp_path, "bids")
    assert not patients
    assert "several T1 images (sub-01_acq-mprage_T1w.nii.gz, sub-01_acq-spgr_T1w.nii.gz)" in problems[0].message


# --- auto ----------------------------------------------------------------------------------------

def touch_all(root: Path, files: list[str]) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


@pytest.mark.parametrize("layout, files", [
    ("paired", ["p1/t1.nii.gz", "p1/ct", "p2/t1.mha", "p2/t2.nrrd", "p2/ct.nii.gz"]),
    ("synthrad", ["1BA001/mr.nii.gz", "1BA001/ct.nii.gz", "1BA001/mask.nii.gz", "overview/x.png"]),
    ("rire", ["patient_001/ct/a.mhd", "patient_001/mr_T1/a.mhd", "patient_001/mr_PD/a.mhd"]),
    ("bids", ["sub-1/ses-a/anat/sub-1_ses-a_T1w.nii.gz", "sub-1/ses-a/ct/sub-1_ses-a_ct.nii.gz", "code/x.py"]),
    ("paired", ["p1/t1.nii.gz", "p2/ct.nii.gz"]),  # only incomplete patients: still recognisable
])
def test_auto_detects_each_layout(tmp_path, layout, files):
    assert detect_layout(touch_all(tmp_path, files)) == layout


def test_auto_lists_what_each_layout_expects_for_unknown_and_mixed_folders(tmp_path):
    unknown = touch_all(tmp_path / "unknown", ["p1/T1_MPRAGE.nii.gz", "p1/scan.nii.gz"])
    with pytest.raises(UserError, match="no sub-folder holds the images of any known layout") as error:
        detect_layout(unknown)
    for expected in ("paired: <patient>/{t1,t2,ct}", "synthrad: [<region>/]<patient>/{mr,ct,mask}",
                     "rire: <patient>/{ct,mr_T1,mr_T2}/*.mhd", "bids: sub-<id>/[ses-<id>/]anat/*_T1w.nii.gz"):
        assert expected in str(error.value)
    mixed = touch_all(tmp_path / "mixed", ["a/t1.nii.gz", "a/ct.nii.gz", "b/mr.mha", "b/ct.mha", "b/mask.mha"])
    with pytest.raises(UserError, match=r"matches paired \(1 patient folders\), synthrad \(1 patient folders\); "
                                        r"choose one with --layout"):
        detect_layout(mixed)


# --- messages for unreadable files and misplaced images ---------------------------------------------

@pytest.mark.parametrize("name, compressed", [("t1.mha", False), ("t1.mha", True), ("t1.nrrd", False)])
def test_a_truncated_image_file_is_reported_as_truncated(phantom, tmp_path, name, compressed):
    path = tmp_path / name
    sitk.WriteImage(image(patients_of(phantom)[0], "t1"), str(path), useCompression=compressed)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:size - 1000])
    with pytest.raises(UserError, match=f"patient p: {re.escape(str(path))}: the file is truncated: the header promises "
                                        r"\d+ bytes of (compressed )?voxel data, the file holds \d+") as error:
        read_mr(path, "p")
    if not compressed:
        voxels = math.prod(image(patients_of(phantom)[0], "t1").GetSize())
        assert f"promises {voxels * 2} bytes" in str(error.value)  # int16


def test_a_missing_or_short_raw_file_of_an_mhd_is_reported(phantom, tmp_path):
    header = tmp_path / "t1.mhd"
    sitk.WriteImage(image(patients_of(phantom)[0], "t1"), str(header))
    raw = tmp_path / "t1.raw"
    raw.write_bytes(raw.read_bytes()[:5000])
    with pytest.raises(UserError, match=r"the file is truncated: the header promises \d+ bytes of voxel data, "
                                        r"its data file t1.raw holds 5000"):
        read_mr(header, "p")
    raw.unlink()
    with pytest.raises(UserError, match="the header names the voxel data file t1.raw, which does not exist"):
        read_mr(header, "p")


def test_a_ct_given_as_mr_is_recognised_and_real_mr_is_not(phantom, tmp_path):
    patient = with_t2(phantom)[0]
    with pytest.raises(UserError, match=f"patient p: {re.escape(str(patient / 'ct.nii.gz'))}: this looks like a CT, not an MR "
                                        r"image \(values -10\d\d to \d+ HU"):
        read_mr(patient / "ct.nii.gz", "p")
    for name in ("t1", "t2"):
        read_mr(patient / f"{name}.nii.gz", "p")
    # MR as some scanners and pipelines store it: shifted into signed values, z-scored, rescaled.
    mr = sitk.GetArrayFromImage(image(patient, "t1")).astype(np.float32)
    for variant, values in {"offset": mr - 2048, "zscore": (mr - mr.mean()) / mr.std(),
                            "rescaled": mr * (4095 / mr.max())}.items():
        path = tmp_path / f"{variant}.nii.gz"
        data = sitk.GetImageFromArray(values)
        data.CopyInformation(image(patient, "t1"))
        sitk.WriteImage(data, str(path))
        read_mr(path, "p")


def test_a_ct_in_place_of_the_t1_is_reported_as_a_ct_not_as_a_failed_registration(phantom, fresh_nnunet, tmp_path,
                                                                                   capsys):
    source = tmp_path / "input"
    for name, t1 in (("good", "t1"), ("swapped", "ct")):
        (source / name).mkdir(parents=True)
        patient = patients_of(phantom)[0]
        shutil.copy(patient / f"{t1}.nii.gz", source / name / "t1.nii.gz")
        shutil.copy(patient / "ct.nii.gz", source / name / "ct.nii.gz")
    status = cli_main(["convert", "--input", str(source), "--t1-id", "531", "--folds", "1", "--t1-test-fraction", "0"])
    output = capsys.readouterr().out
    assert status == 1 and "converted 1, skipped 0 (already up to date), failed 1" in output, output
    failure = next(line for line in output.splitlines() if line.startswith("  failed: "))
    assert f"patient swapped: {source / 'swapped' / 't1.nii.gz'}: this looks like a CT" in failure
    assert "registration" not in failure and "note: layout paired detected" in output
