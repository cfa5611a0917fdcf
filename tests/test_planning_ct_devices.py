"""Planning-CT immobilisation devices: a moulded cushion and a thermoplastic mask against the skin, on
the CT only. The labels call them background and the registration check keeps the patient."""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from nnunet_t1t2.conversion.case import ConversionSettings, label_mr_image
from nnunet_t1t2.conversion.layouts import discover_patients
from nnunet_t1t2.conversion.quality import QualityLimits
from nnunet_t1t2.conversion.reading import read_ct
from nnunet_t1t2.conversion.registration import Registration, resample_ct_to_mr
from nnunet_t1t2.conversion.timing import StageClock
from nnunet_t1t2.conversion.tissue import Thresholds, ct_head_mask, mr_head_mask, patient_head_mask, tissue_labels
from nnunet_t1t2.labels import AIR, BONE, SOFT_TISSUE
from nnunet_t1t2.phantom import SIZES, PhantomVariation, generate_phantom, simulate_patient
from nnunet_t1t2.phantom.sizes import varied_size

SEED, INDEX = 7, 0
DEVICES = {"cushion": True, "thermoplastic_mask": True}
CLASSES = {"soft_tissue": SOFT_TISSUE, "bone": BONE, "air": AIR}


def simulated(**variation):
    chosen = PhantomVariation(**variation)
    return simulate_patient(SEED, INDEX, varied_size(SIZES["small"], chosen), False, variation=chosen)


def image(patient, name: str) -> sitk.Image:
    volume = patient.volumes[name]
    return sitk.Cast(volume.grid.to_image(volume.array), sitk.sitkFloat32)


def true_ct_from_mr(patient) -> sitk.AffineTransform:
    matrix = np.array(patient.record["transforms"]["ct_from_t1"]["matrix"])
    return sitk.AffineTransform(matrix[:3, :3].ravel().tolist(), matrix[:3, 3].tolist())


def device_voxels(devices_ct: sitk.Image, mr: sitk.Image, transform: sitk.Transform, truth: np.ndarray) -> np.ndarray:
    """MR voxels that the devices fill at least half of, where the patient is not (truth background)."""
    fraction = sitk.GetArrayFromImage(sitk.Resample(devices_ct, mr, transform, sitk.sitkLinear, 0.0))
    return (fraction >= 0.5) & (truth == 0)


def assert_background(labels: np.ndarray, devices: np.ndarray, truth: np.ndarray) -> None:
    """Device voxels are background, but for the one layer of MR voxels in contact with the patient
    (partial volume of skin and device, which neither image splits)."""
    assert devices.sum() > 1000
    contact = ndimage.binary_dilation(truth > 0, structure=np.ones((3, 3, 3), bool))
    assert np.count_nonzero(labels[devices]) < 0.1 * devices.sum()
    assert np.count_nonzero(labels[devices & ~contact]) < 0.005 * np.count_nonzero(devices & ~contact)


def dice_per_class(labels: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    return {name: 2 * np.count_nonzero((labels == v) & (truth == v)) / (np.count_nonzero(labels == v)
                                                                       + np.count_nonzero(truth == v))
            for name, v in CLASSES.items()}


def test_the_devices_lie_against_the_skin_on_the_ct_only():
    plain, fitted = simulated(), simulated(**DEVICES)
    assert [d["name"] for d in fitted.record["devices"]] == ["cushion", "thermoplastic_mask"]
    assert "devices" not in plain.record and "devices_ct" not in plain.volumes
    for name in ("t1", "truth_t1", "tissues_t1"):
        np.testing.assert_array_equal(fitted.volumes[name].array, plain.volumes[name].array)
    fraction = fitted.volumes["devices_ct"].array
    changed = fitted.volumes["ct"].array != plain.volumes["ct"].array
    assert fraction.max() == pytest.approx(1.0, abs=0.01) and changed.any()
    # The CT changes where the devices are (and in the blur around them), nowhere else.
    assert not (changed & ~ndimage.binary_dilation(fraction > 0, iterations=2)).any()
    # In contact with the skin: device voxels touch the patient's body on the CT.
    body = plain.volumes["ct"].array > -500
    assert (ndimage.binary_dilation(fraction > 0.5) & body & (fraction > 0)).any()
    hu = fitted.volumes["ct"].array[fraction > 0.9]
    assert np.percentile(hu, 95) > -500, "the devices must lie above the head threshold, or the test proves nothing"


@pytest.mark.parametrize("voxels", [{}, {"mr_voxel_mm": 4.0, "slice_mm": 6.0}], ids=["3x3x3.5mm", "4x4x6mm"])
def test_the_patient_head_leaves_the_devices_out_and_keeps_the_labels(voxels):
    """With the true pose: device voxels are background, the labels elsewhere as good as without devices."""
    scores = {}
    for name, patient in (("plain", simulated(**voxels)), ("fitted", simulated(**voxels, **DEVICES))):
        mr, transform = image(patient, "t1"), true_ct_from_mr(patient)
        hu, _ = resample_ct_to_mr(image(patient, "ct"), mr, Registration(transform))
        thresholds = Thresholds()
        head = patient_head_mask(ct_head_mask(hu, thresholds.head_hu), mr_head_mask(mr), QualityLimits().tolerance_mm(mr))
        labels = sitk.GetArrayFromImage(tissue_labels(hu, head, thresholds))
        truth = patient.volumes["truth_t1"].array
        scores[name] = dice_per_class(labels, truth)
        if name == "fitted":
            assert_background(labels, device_voxels(image(patient, "devices_ct"), mr, transform, truth), truth)
    assert scores["fitted"]["soft_tissue"] > scores["plain"]["soft_tissue"] - 0.04, scores
    # Air may gain a little: where the outline closes a concavity of the face, the air the mask encloses there counts.
    assert scores["fitted"]["bone"] == pytest.approx(scores["plain"]["bone"], abs=0.01), scores
    assert scores["fitted"]["air"] == pytest.approx(scores["plain"]["air"], abs=0.03), scores


@pytest.mark.slow
def test_a_case_with_cushion_and_mask_converts_with_the_devices_as_background(tmp_path):
    """Registered, checked and labelled as the conversion does it (one T1 image)."""
    generate_phantom(tmp_path / "devices", n=1, seed=SEED, size="small", n_t2=0,
                     variation=PhantomVariation(**DEVICES))
    (source,), problems = discover_patients(tmp_path / "devices", "paired")
    assert not problems
    labelled = label_mr_image(source, "T1", read_ct(source.ct, source.patient), ConversionSettings(), StageClock())
    quality = labelled.facts["quality"]
    assert quality["head_mask_dice"] > 0.9 and quality["uncertainty_mm"] < 1.0, quality
    truth = sitk.GetArrayFromImage(sitk.ReadImage(str(source.folder / "truth_t1.nii.gz")))
    matrix = np.array(labelled.facts["registration"]["matrix"])
    found = sitk.AffineTransform(matrix[:3, :3].ravel().tolist(), matrix[:3, 3].tolist())
    devices = device_voxels(sitk.ReadImage(str(source.folder / "devices_ct.nii.gz")), labelled.mr, found, truth)
    labels = sitk.GetArrayFromImage(labelled.labels)
    assert_background(labels, devices, truth)
    dice = dice_per_class(labels, truth)
    assert dice["soft_tissue"] > 0.93 and dice["bone"] > 0.9 and dice["air"] > 0.85, dice
