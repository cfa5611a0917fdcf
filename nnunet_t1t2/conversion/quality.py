"""Is a registration good enough to take labels from? The limits, the figures, the verdict.

The verdict rests on evidence that scales with each case (:mod:`.registration_check`): the
registration uncertainty in mm against a tolerance of 1.5 MR voxels (at least 2 mm), how sharply the
similarity peaks at the optimum, whether the mirrored CT would fit better, and whether another
patient's CT fits the image better (:mod:`.other_patients`). Two figures of the
labelled images are recorded beside them for a reader of ``conversion.json``:

* ``head_mask_dice``: overlap of the MR's own head mask with the registered CT's head within the
  registration tolerance of it. A value below ``min_head_dice`` is a gross failure (wrong image,
  axes swapped) whatever the other figures say. What the CT shows further out cannot be the MR's
  patient under an accepted pose: it is what holds the patient (a cushion, a thermoplastic mask),
  which the MR does not show, and it would lower the figure by its own volume, not by a misfit.
* ``bone_signal_ratio``: median MR signal in the CT's bone over that in its soft tissue. Cortical bone
  gives no signal, but partial volume with marrow and soft tissue raises the ratio with the voxel size
  and the contrast, so it is recorded, not judged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.other_patients import OtherPatientsFit
from nnunet_t1t2.conversion.registration_check import SIMILARITY_NOISE, PoseCheck
from nnunet_t1t2.conversion.tissue import LABELS, dice, within_mm
from nnunet_t1t2.errors import UserError


@dataclass(frozen=True)
class QualityLimits:
    """When a registration is refused (``nnunet-t1t2 convert`` options of the same names).

    The tolerance is 1.5 MR voxels (largest edge), at least 2 mm: a pose within one voxel must never be
    refused, and the uncertainty estimate itself carries a few tenths of a millimetre. The mirrored CT
    may fit up to 0.5 % better than the CT as stored (two optimisations of the same similarity differ
    by about a tenth of that) before the CT is called flipped. The CT must match at least a quarter as
    sharply as the MR matches itself: the limit lies well below what the patient's own CT reaches on
    the phantom at every voxel size ``benchmarks/registration_qc.py`` covers, a margin for real
    images, whose tissues are less uniform.
    Each image is also compared with the CTs of ``compared_patients`` other patients
    (:mod:`.other_patients`); 0 compares with none."""

    min_head_dice: float = 0.8
    tolerance_voxels: float = 1.5
    tolerance_min_mm: float = 2.0
    min_sharpness: float = 0.25
    max_mirror_gain: float = SIMILARITY_NOISE
    compared_patients: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.min_head_dice <= 1:
            raise UserError(f"--min-head-dice must lie in [0, 1], not {self.min_head_dice:g}")
        if self.tolerance_voxels <= 0 or self.tolerance_min_mm < 0:
            raise UserError("the registration tolerance must be positive")
        if self.compared_patients < 0:
            raise UserError(f"--compare-with must be 0 or more, not {self.compared_patients}")

    def tolerance_mm(self, mr: sitk.Image) -> float:
        """``tolerance_voxels`` MR voxels (their largest edge), at least ``tolerance_min_mm``."""
        return max(self.tolerance_min_mm, self.tolerance_voxels * max(mr.GetSpacing()))

    def as_dict(self) -> dict:
        return asdict(self)


def registration_quality(mr: sitk.Image, mr_head: sitk.Image, ct_head: sitk.Image, labels: sitk.Image,
                         tolerance_mm: float) -> dict:
    """The recorded figures of the labelled images (all on the MR grid); ``tolerance_mm`` is the
    registration's (:meth:`QualityLimits.tolerance_mm`)."""
    signal = sitk.GetArrayViewFromImage(mr)
    label = sitk.GetArrayViewFromImage(labels)
    bone, soft = signal[label == LABELS["bone"]], signal[label == LABELS["soft_tissue"]]
    ratio = float(np.median(bone) / np.median(soft)) if bone.size and soft.size and np.median(soft) > 0 else None
    return {"head_mask_dice": round(dice(mr_head, ct_head & within_mm(mr_head, tolerance_mm)), 4),
            "bone_signal_ratio": None if ratio is None else round(ratio, 4)}


def quality_problems(quality: dict, pose: PoseCheck | None, limits: QualityLimits,
                     others: OtherPatientsFit | None = None) -> list[str]:
    """Why a registration is refused, in words; empty if it is accepted. ``pose`` is None where the
    input layout gives registered images (nothing was registered); ``others`` where no other patient's
    CT was compared."""
    problems = []
    if quality["head_mask_dice"] < limits.min_head_dice:
        problems.append(f"the head masks of the MR and of the registered CT overlap with Dice "
                        f"{quality['head_mask_dice']:.2f} < {limits.min_head_dice:g}")
    if quality["bone_signal_ratio"] is None:
        problems.append("no bone or no soft tissue with MR signal inside the head after registration")
    if pose is not None:
        problems += pose.problems(limits)
    if others is not None:
        problems += others.problems()
    return problems


def refusal(problems: list[str], what: str) -> UserError:
    """The error that leaves a refused image out, naming the case and every figure that refuses it."""
    return UserError(f"{what}: registration failed: {'; '.join(problems)}. This image is left out; look at its "
                     f"overlay and keep it with --accept if it is right")
