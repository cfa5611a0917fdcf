"""The built-in head phantom: file contract, physics, geometry, determinism, argument handling.

Everything is measured on generated ``small`` volumes read back from disk with SimpleITK, the way
the conversion and the trainers will read them.
"""
from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from nnunet_t1t2.cli import main
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.phantom import SIZES, generate_phantom, simulate_patient
from nnunet_t1t2.phantom import generate as generate_module
from nnunet_t1t2.phantom import writer
from nnunet_t1t2.phantom.anatomy import HeadAnatomy
from nnunet_t1t2.phantom.generate import choose_t2_patients, default_n_t2
from nnunet_t1t2.phantom.geometry import Grid
from nnunet_t1t2.phantom.head import HeadParameters
from nnunet_t1t2.phantom.mr import bias_field
from nnunet_t1t2.phantom.patient import PatientPhantom, Volume
from nnunet_t1t2.phantom.random_head import draw_head_parameters
from nnunet_t1t2.phantom.variation import PhantomVariation
from nnunet_t1t2.phantom.tissues import Tissue

SEED = 0
MR_FILES = ("t1", "truth_t1", "tissues_t1")
T2_FILES = ("t2", "truth_t2", "tissues_t2")


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory) -> Path:
    """Two small patients, one of them with T2."""
    out = tmp_path_factory.mktemp("phantom")
    generate_phantom(out, n=2, seed=SEED, n_t2=1)
    return out


@pytest.fixture(scope="module")
def patients(phantom_dir) -> list[Path]:
    return sorted(p for p in phantom_dir.iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def t2_patient(patients) -> Path:
    return next(p for p in patients if record(p)["has_t2"])


def record(folder: Path) -> dict:
    return json.loads((folder / "phantom.json").read_text(encoding="utf-8"))


def legend(folder: Path) -> dict:
    return json.loads((folder / "tissue_legend.json").read_text(encoding="utf-8"))


def read(folder: Path, name: str, pixel_type=sitk.sitkUnknown) -> sitk.Image:
    return sitk.ReadImage(str(folder / f"{name}.nii.gz"), pixel_type)


def array(folder: Path, name: str) -> np.ndarray:
    return sitk.GetArrayFromImage(read(folder, name))


def sitk_transform(matrix) -> sitk.AffineTransform:
    m = np.asarray(matrix)
    return sitk.AffineTransform(m[:3, :3].ravel().tolist(), m[:3, 3].tolist())


def labels_from_ct(hu: np.ndarray) -> np.ndarray:
    """The conversion's rule on a CT resampled to the MR grid: threshold, largest body, fill holes."""
    tissue = hu >= -500
    components, n = ndimage.label(tissue)
    body = components == 1 + np.argmax(ndimage.sum(tissue, components, range(1, n + 1)))
    head = ndimage.binary_fill_holes(body)
    labels = np.zeros(hu.shape, np.uint8)
    labels[head] = 1
    labels[head & (hu > 600)] = 2
    labels[head & ~tissue] = 3
    return labels


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * np.sum(a & b) / (np.sum(a) + np.sum(b))


# --- file contract ----------------------------------------------------------------------------
def test_patient_set_layout(patients):
    assert [p.name for p in patients] == ["phantom_000", "phantom_001"]
    assert sum(record(p)["has_t2"] for p in patients) == 1
    for folder in patients:
        rec = record(folder)
        expected = {"ct", *MR_FILES, *(T2_FILES if rec["has_t2"] else ())}
        assert {p.name.removesuffix(".nii.gz") for p in folder.glob("*.nii.gz")} == expected
        assert set(rec["images"]) == expected
        assert (rec["seed"], rec["size"], rec["patient_id"]) == (SEED, "small", folder.name)
        assert ("t2_from_t1" in rec["transforms"]) == rec["has_t2"]


def test_every_image_has_the_recorded_geometry(patients):
    for folder in patients:
        for name, geometry in record(folder)["images"].items():
            image = read(folder, name)
            assert list(image.GetSize()) == geometry["size"]
            np.testing.assert_allclose(image.GetSpacing(), geometry["spacing"], atol=1e-5)
            np.testing.assert_allclose(image.GetOrigin(), geometry["origin"], atol=1e-4)
            np.testing.assert_allclose(image.GetDirection(), geometry["direction"], atol=1e-6)


def test_labels_and_tissue_maps_live_on_their_mr_grid(t2_patient):
    images = record(t2_patient)["images"]
    for mr in ("t1", "t2"):
        for derived in (f"truth_{mr}", f"tissues_{mr}"):
            assert {k: images[derived][k] for k in ("size", "spacing", "origin")} == \
                {k: images[mr][k] for k in ("size", "spacing", "origin")}
        assert set(np.unique(array(t2_patient, f"truth_{mr}"))) == {0, 1, 2, 3}
        assert set(np.unique(array(t2_patient, f"tissues_{mr}"))) <= {int(k) for k in legend(t2_patient)}


def test_legend_gives_each_tissue_its_label(t2_patient):
    entries = legend(t2_patient)
    by_name = {e["name"]: e for e in entries.values()}
    assert {n: by_name[n]["label"] for n in ("outside_air", "cortical_bone", "marrow", "internal_air", "csf", "head_rest")} \
        == {"outside_air": 0, "cortical_bone": 2, "marrow": 1, "internal_air": 3, "csf": 1, "head_rest": 0}
    assert not by_name["head_rest"]["on_mr"] and not by_name["couch"]["on_mr"]
    tissues = array(t2_patient, "tissues_t1")
    assert not np.isin(tissues, [Tissue.HEAD_REST, Tissue.COUCH]).any()


def test_mr_and_ct_grids_differ_and_t2_has_its_own_pose(t2_patient):
    images = record(t2_patient)["images"]
    assert images["t1"]["spacing"] != images["ct"]["spacing"]
    assert images["t1"]["size"] != images["ct"]["size"]
    assert images["ct"]["spacing"][2] > images["t1"]["spacing"][2]
    assert images["t2"]["origin"] != images["t1"]["origin"]
    assert record(t2_patient)["transforms"]["t2_from_t1"]["rotation_angle_deg"] > 0.4


def test_default_t2_share_follows_the_paper():
    assert default_n_t2(50) == 14
    assert default_n_t2(1) == 1
    assert default_n_t2(3) == 1
    assert choose_t2_patients(5, 10, 3) == choose_t2_patients(5, 10, 3)
    assert len(choose_t2_patients(5, 10, 3)) == 3


# --- MR physics -------------------------------------------------------------------------------
def core(tissues: np.ndarray, tissue: Tissue) -> np.ndarray:
    """Voxels of ``tissue`` whose six face neighbours are that tissue too: the centres of thin
    layers, mostly free of partial volume even on 3 mm voxels."""
    return ndimage.binary_erosion(tissues == tissue, ndimage.generate_binary_structure(3, 1))


def core_medians(folder: Path, mr: str) -> dict[Tissue, float]:
    image, tissues = array(folder, mr).astype(float), array(folder, f"tissues_{mr}")
    return {t: float(np.median(image[core(tissues, t)])) for t in Tissue if core(tissues, t).sum() >= 20}


def test_t1_contrast(patients):
    for folder in patients:
        m = core_medians(folder, "t1")
        assert m[Tissue.CSF] < m[Tissue.GREY_MATTER] < m[Tissue.WHITE_MATTER]  # CSF dark, WM brightest brain
        assert m[Tissue.FAT] > m[Tissue.WHITE_MATTER] and m[Tissue.MARROW] > m[Tissue.GREY_MATTER]  # fat, marrow bright
        assert m[Tissue.EYE] < m[Tissue.GREY_MATTER]
        for dark in (Tissue.CORTICAL_BONE, Tissue.INTERNAL_AIR, Tissue.OUTSIDE_AIR):
            assert m[dark] < 0.12 * m[Tissue.WHITE_MATTER], dark.name


def test_t2_contrast(t2_patient):
    m = core_medians(t2_patient, "t2")
    assert m[Tissue.CSF] > m[Tissue.GREY_MATTER] > m[Tissue.WHITE_MATTER]  # CSF bright, GM over WM
    assert m[Tissue.EYE] > m[Tissue.GREY_MATTER]
    assert m[Tissue.FAT] > m[Tissue.GREY_MATTER]  # fat stays bright
    assert m[Tissue.MARROW] < m[Tissue.GREY_MATTER]  # marrow only intermediate on T2
    for dark in (Tissue.CORTICAL_BONE, Tissue.INTERNAL_AIR, Tissue.OUTSIDE_AIR):
        assert m[dark] < 0.12 * m[Tissue.CSF], dark.name
    t1 = core_medians(t2_patient, "t1")
    assert t1[Tissue.MARROW] / t1[Tissue.FAT] > 1.2 * m[Tissue.MARROW] / m[Tissue.FAT]


def best_threshold_error(a: np.ndarray, b: np.ndarray) -> float:
    """Balanced error rate of the best single threshold separating samples ``a`` from ``b``."""
    thresholds = np.unique(np.concatenate([a, b]))
    a_below = np.searchsorted(np.sort(a), thresholds, side="right") / len(a)
    b_below = np.searchsorted(np.sort(b), thresholds, side="right") / len(b)
    return float(np.min(np.minimum(a_below + 1 - b_below, b_below + 1 - a_below)) / 2)


@pytest.mark.parametrize("mr", ["t1", "t2"])
def test_bone_and_air_cannot_be_told_apart_by_intensity(t2_patient, mr):
    image, tissues = array(t2_patient, mr).astype(float), array(t2_patient, f"tissues_{mr}")
    bone = image[core(tissues, Tissue.CORTICAL_BONE)]
    air = image[core(tissues, Tissue.INTERNAL_AIR)]
    assert best_threshold_error(bone, air) > 0.2
    # ...whereas tissues that differ in contrast are separable by the same measure
    assert best_threshold_error(image[core(tissues, Tissue.WHITE_MATTER)], image[core(tissues, Tissue.CSF)]) < 0.05


def octant_spread(image: np.ndarray, mask: np.ndarray) -> float:
    """Brightest over darkest median of ``image`` in the eight octants of ``mask``."""
    coords = np.nonzero(mask)
    upper = [c >= np.median(c) for c in coords]
    medians = [np.median(image[coords][(upper[0] == a) & (upper[1] == b) & (upper[2] == c)])
               for a in (0, 1) for b in (0, 1) for c in (0, 1)]
    return max(medians) / min(medians)


@pytest.mark.parametrize("mr", ["t1", "t2"])
def test_mr_has_the_recorded_bias_field_and_rician_noise(t2_patient, mr):
    acquisition = record(t2_patient)["acquisition"][mr]
    image, tissues = array(t2_patient, mr).astype(float), array(t2_patient, f"tissues_{mr}")
    white = core(tissues, Tissue.WHITE_MATTER)
    field = bias_field(image.shape, acquisition["bias_coefficients"])
    assert octant_spread(image, white) > 1.03  # a smooth bias across the head...
    assert octant_spread(image / field, white) < 1.01  # ...which is the recorded one
    # Air holds the modulus of complex Gaussian noise: Rayleigh, mean = 1.2533 sigma, mean/std = 1.913.
    air = image[core(tissues, Tissue.OUTSIDE_AIR)]
    assert air.mean() == pytest.approx(1.2533 * acquisition["noise_sigma"] * acquisition["gain"], rel=0.05)
    assert air.mean() / air.std() == pytest.approx(1.913, rel=0.05)
    assert acquisition["bias_coefficients"] != record(t2_patient)["acquisition"]["t2" if mr == "t1" else "t1"]["bias_coefficients"]


# --- CT ---------------------------------------------------------------------------------------
def tissues_on_ct_grid(folder: Path) -> np.ndarray:
    t1_from_ct = np.linalg.inv(record(folder)["transforms"]["ct_from_t1"]["matrix"])
    tissues = sitk.Resample(read(folder, "tissues_t1"), read(folder, "ct"), sitk_transform(t1_from_ct), sitk.sitkNearestNeighbor, 0)
    return sitk.GetArrayFromImage(tissues)


def test_ct_hounsfield_units_per_tissue(patients):
    for folder in patients:
        stored = array(folder, "ct")
        assert stored.dtype == np.int16 and stored.min() >= -1024 and stored.max() <= 3071
        hu = stored.astype(float)
        tissues = tissues_on_ct_grid(folder)
        median = {t: np.median(hu[core(tissues, t)]) for t in Tissue if core(tissues, t).sum() >= 10}
        assert median[Tissue.OUTSIDE_AIR] < -950
        assert -160 < median[Tissue.FAT] < -40
        assert 15 < median[Tissue.WHITE_MATTER] < 65 and 0 < median[Tissue.MUSCLE] < 90
        assert 600 < median[Tissue.CORTICAL_BONE] < 1800
        assert median[Tissue.INTERNAL_AIR] < -700
        air = hu[-3:, :15]  # above and in front of the head: air and noise only
        assert air.mean() == pytest.approx(-1000, abs=3)
        assert air.std() == pytest.approx(record(folder)["acquisition"]["ct"]["noise_hu"], rel=0.12)  # -1024 clips a little
        assert 10 <= record(folder)["acquisition"]["ct"]["noise_hu"] <= 20


def test_head_rest_and_couch_are_on_ct_only(patients):
    for folder in patients:
        hu = array(folder, "ct").astype(float)
        body = labels_from_ct(hu) > 0
        foam = (hu > -880) & (hu < -720) & ~body
        foam = ndimage.binary_opening(foam)  # foam-like HU from noise alone is isolated voxels
        assert foam.sum() > 50
        assert (ndimage.binary_dilation(body, iterations=2) & foam).any()  # it touches the head
        posterior = np.flatnonzero(body.any(axis=(0, 2)))[-1]
        assert np.flatnonzero(foam.any(axis=(0, 2))).min() < posterior  # and cradles its back
        row_means = hu.mean(axis=(0, 2))
        couch_rows = np.flatnonzero(row_means > 0)
        couch_rows = couch_rows[couch_rows > posterior]
        assert couch_rows.size > 0  # a dense plate behind the head...
        gap = row_means[np.flatnonzero(foam.any(axis=(0, 2))).max() + 1:couch_rows.min()]
        assert gap.size > 0 and gap.min() < -950  # ...with air between it and the head rest
        assert not body[:, couch_rows].any()


def test_uint16_ct_stores_an_offset_that_simplesitk_applies(phantom_dir, tmp_path, capsys):
    out = tmp_path / "u16"
    assert main(["phantom", "--out", str(out), "--n", "1", "--seed", str(SEED), "--ct-dtype", "uint16"]) == 0
    raw = gzip.decompress((out / "phantom_000" / "ct.nii.gz").read_bytes())
    datatype, = struct.unpack("<h", raw[70:72])
    slope, intercept = struct.unpack("<ff", raw[112:120])
    assert (datatype, slope, intercept) == (512, 1.0, -1024.0)  # NIfTI uint16
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(out / "phantom_000" / "ct.nii.gz"))).min() < -900
    np.testing.assert_array_equal(array(out / "phantom_000", "ct"), array(phantom_dir / "phantom_000", "ct"))
    # everything else is byte-identical to the same patient generated in a set of a different size
    for name in (*MR_FILES, "tissue_legend"):
        suffix = ".json" if name == "tissue_legend" else ".nii.gz"
        assert (out / "phantom_000" / f"{name}{suffix}").read_bytes() == (phantom_dir / "phantom_000" / f"{name}{suffix}").read_bytes()
    assert "wrote 1 patients" in capsys.readouterr().out


# --- geometry and ground truth ----------------------------------------------------------------
def test_recorded_ct_transform_aligns_ct_with_the_truth(patients):
    """Resampling the CT onto the T1 grid with the recorded transform and thresholding it gives
    the truth back (up to CT resolution); ignoring the transform does not."""
    for folder in patients:
        rec = record(folder)
        ct_from_t1 = rec["transforms"]["ct_from_t1"]
        assert 1.0 <= ct_from_t1["rotation_angle_deg"] <= 5.0 and 2.0 <= np.linalg.norm(ct_from_t1["translation_mm"]) <= 10.0
        truth = array(folder, "truth_t1")
        ct, t1 = read(folder, "ct", sitk.sitkFloat32), read(folder, "t1")

        def scores(transform):
            labels = labels_from_ct(sitk.GetArrayFromImage(sitk.Resample(ct, t1, transform, sitk.sitkLinear, -1024.0)))
            return [dice(labels == k, truth == k) for k in (1, 2, 3)]

        soft, bone, air = scores(sitk_transform(ct_from_t1["matrix"]))
        assert soft > 0.95 and bone > 0.9 and air > 0.8
        assert scores(sitk.Transform())[1] < bone - 0.05


def test_recorded_transform_fields_agree(t2_patient):
    for name in ("ct_from_t1", "t2_from_t1"):
        entry = record(t2_patient)["transforms"][name]
        euler = sitk.Euler3DTransform((0, 0, 0), *np.deg2rad(entry["euler_angles_deg"]), entry["translation_mm"])
        np.testing.assert_allclose(np.reshape(euler.GetMatrix(), (3, 3)), np.array(entry["matrix"])[:3, :3], atol=1e-6)
        np.testing.assert_allclose(entry["translation_mm"], np.array(entry["matrix"])[:3, 3], atol=1e-5)


def centroid_mm(image: sitk.Image, mask: np.ndarray) -> np.ndarray:
    k, j, i = ndimage.center_of_mass(mask)
    return np.array(image.TransformContinuousIndexToPhysicalPoint((i, j, k)))


def test_recorded_t2_transform_maps_structures_onto_themselves(t2_patient):
    t2_from_t1 = np.array(record(t2_patient)["transforms"]["t2_from_t1"]["matrix"])
    t1, t2 = read(t2_patient, "tissues_t1"), read(t2_patient, "tissues_t2")
    for tissue in (Tissue.EYE, Tissue.GREY_MATTER):  # large, and inside both fields of view
        in_t1 = centroid_mm(t1, sitk.GetArrayFromImage(t1) == tissue)
        in_t2 = centroid_mm(t2, sitk.GetArrayFromImage(t2) == tissue)
        mapped = t2_from_t1[:3, :3] @ in_t1 + t2_from_t1[:3, 3]
        # voxelisation moves a centroid by a few tenths of a mm; the patient moved more than that
        assert np.linalg.norm(mapped - in_t2) < 0.6, tissue.name
        assert np.linalg.norm(in_t1 - in_t2) > 2 * np.linalg.norm(mapped - in_t2), tissue.name


def test_truth_is_the_thresholded_noise_free_hu_of_each_mr_voxel(t2_patient):
    """Recompute the truth by brute force from the recorded anatomy, legend and pose: every voxel
    supersampled 2x2x2 (the generator only supersamples voxels at tissue boundaries)."""
    rec, hu_of = record(t2_patient), {int(k): v["hu"] for k, v in legend(t2_patient).items()}
    anatomy = HeadAnatomy(HeadParameters.from_json(rec["anatomy"]))
    hu_table = np.array([hu_of[t] for t in range(len(hu_of))], dtype=np.float32)
    head_from_t1 = np.linalg.inv(rec["transforms"]["t1_from_head"]["matrix"])
    for mr, head_from_mr in (("t1", head_from_t1), ("t2", head_from_t1 @ np.linalg.inv(rec["transforms"]["t2_from_t1"]["matrix"]))):
        image = read(t2_patient, mr)
        size = image.GetSize()
        index = np.stack(np.meshgrid(*(np.arange(n) for n in size[::-1]), indexing="ij")[::-1]).reshape(3, -1)
        sub = (index[:, :, None] + (np.stack(np.meshgrid(*[[-0.25, 0.25]] * 3, indexing="ij")).reshape(3, 1, 8))).reshape(3, -1)
        physical = np.reshape(image.GetDirection(), (3, 3)) @ (np.array(image.GetSpacing())[:, None] * sub) + np.array(image.GetOrigin())[:, None]
        points = (head_from_mr[:3, :3] @ physical + head_from_mr[:3, 3:]).astype(np.float32)
        ids = np.concatenate([anatomy.tissue_at(points[:, i:i + 2**18]) for i in range(0, points.shape[1], 2**18)])
        hu = hu_table[ids]
        hu[ids == Tissue.CORTICAL_BONE] *= anatomy.cortical_hu_scale(points[:, ids == Tissue.CORTICAL_BONE])
        mean_hu = hu.reshape(-1, 8).mean(axis=1).reshape(size[::-1])
        tissue = mean_hu >= -500
        expected = np.where(ndimage.binary_fill_holes(tissue), np.where(mean_hu > 600, 2, np.where(tissue, 1, 3)), 0)
        assert np.count_nonzero(expected != array(t2_patient, f"truth_{mr}")) <= 3, mr  # float rounding at 600 HU, at most
        marrow = core(array(t2_patient, f"tissues_{mr}"), Tissue.MARROW)
        assert marrow.any() and np.all(array(t2_patient, f"truth_{mr}")[marrow] == 1)  # marrow alone is soft tissue


def test_air_cavities_are_enclosed_by_two_voxels_of_tissue(patients):
    for folder in patients:
        tissues, truth = array(folder, "tissues_t1"), array(folder, "truth_t1")
        spacing = read(folder, "tissues_t1").GetSpacing()[::-1]
        distance_to_outside = ndimage.distance_transform_edt(tissues != Tissue.OUTSIDE_AIR, sampling=spacing)
        cavities = tissues == Tissue.INTERNAL_AIR
        assert cavities.sum() > 100
        assert distance_to_outside[cavities].min() >= 2 * max(spacing)
        assert np.mean(truth[core(tissues, Tissue.INTERNAL_AIR)] == 3) == 1.0


def test_skull_thickness_varies_by_region():
    head = HeadAnatomy(draw_head_parameters(np.random.default_rng(7), min_bone_mm=SIZES["paper"].min_bone_mm))

    def thickness(direction):
        radii = head.radii(np.asarray(direction, dtype=float) / np.linalg.norm(direction))
        return radii["outer_skull"] - radii["inner_skull"]

    vault, occipital = thickness([0, 0, 1]), thickness([0, 1, 0.2])
    temporal, base = thickness([1, 0, -0.1]), thickness([0, 0.3, -1])
    assert temporal < vault < occipital and base < vault
    assert temporal < 5.0 and base < 5.0 and occipital > 8.0


# --- determinism and arguments ----------------------------------------------------------------
def test_a_different_seed_gives_a_different_patient(phantom_dir):
    other = simulate_patient(SEED + 1, 0, SIZES["small"], has_t2=False)
    same_grid = array(phantom_dir / "phantom_000", "t1")
    assert other.volumes["t1"].array.shape == same_grid.shape
    assert np.mean(other.volumes["truth_t1"].array != array(phantom_dir / "phantom_000", "truth_t1")) > 0.01
    assert other.record["anatomy"] != record(phantom_dir / "phantom_000")["anatomy"]


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "number of patients must be at least 1"),
    (["--n", "2", "--n-t2", "3"], "between 0 and 2"),
    (["--n", "1", "--seed", "-1"], "non-negative"),
])
def test_bad_arguments_fail_with_a_message(tmp_path, capsys, args, message):
    assert main(["phantom", "--out", str(tmp_path / "out"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder_fails_with_a_message(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("", encoding="utf-8")
    assert main(["phantom", "--out", str(blocker / "out"), "--n", "1"]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err


def fake_patient(
    seed: int, index: int, size, has_t2: bool, ct_dtype: str = "int16", variation: PhantomVariation = PhantomVariation()
) -> PatientPhantom:
    """A tiny stand-in for :func:`simulate_patient`, for tests of the folder handling."""
    grid = Grid((2, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    volumes = {name: Volume(np.full((2, 2, 2), index, np.int16), grid) for name in ("t1", "ct", "truth_t1")}
    return PatientPhantom(f"phantom_{index:03d}", volumes, {"0": {}}, {"patient_index": index})


def test_non_empty_folder_needs_overwrite_which_replaces_only_phantom_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(generate_module, "simulate_patient", fake_patient)
    out = tmp_path / "out"
    (out / "phantom_005").mkdir(parents=True)
    (out / "phantom_005" / "phantom.json").write_text("{}", encoding="utf-8")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UserError, match="not empty; pass --overwrite"):
        generate_phantom(out, n=2)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "phantom_005"]
    generate_phantom(out, n=2, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "phantom_000", "phantom_001"]
    generate_phantom(out, n=1, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "phantom_000"]


def test_an_interrupted_run_leaves_no_half_written_patient(tmp_path, monkeypatch):
    monkeypatch.setattr(generate_module, "simulate_patient", fake_patient)
    real_write_volume, calls = writer.write_volume, []

    def interrupted_write_volume(volume, path):
        calls.append(path)
        if len(calls) == 5:  # the second patient's second image
            raise KeyboardInterrupt
        real_write_volume(volume, path)

    monkeypatch.setattr(writer, "write_volume", interrupted_write_volume)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        generate_phantom(out, n=3)
    assert [p.name for p in out.iterdir()] == ["phantom_000"]
    assert len(list((out / "phantom_000").iterdir())) == 5
    monkeypatch.setattr(writer, "write_volume", real_write_volume)
    generate_phantom(out, n=3, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["phantom_000", "phantom_001", "phantom_002"]


def test_a_failed_write_is_reported_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(generate_module, "simulate_patient", fake_patient)
    def full_disk(volume, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "write_volume", full_disk)
    with pytest.raises(UserError, match="cannot write .*phantom_000: No space left on device"):
        generate_phantom(tmp_path / "out", n=2)
    assert list((tmp_path / "out").iterdir()) == []
