"""Labels for one MR image of a patient: register the CT to it, resample, threshold, check.

T1 and T2 are handled the same way, each on its own grid with its own registration: the patient may
have moved between the two MR scans.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import SimpleITK as sitk

from nnunet_t1t2.conversion import tissue_hu
from nnunet_t1t2.conversion.layouts import PatientSource
from nnunet_t1t2.conversion.other_patients import fit_of_other_patients
from nnunet_t1t2.conversion.quality import QualityLimits, quality_problems, refusal, registration_quality
from nnunet_t1t2.conversion.reading import read_mr
from nnunet_t1t2.conversion.registration import (Registration, RegistrationProblem, RegistrationSettings, identity_registration,
                                                 register, resample_ct_to_mr)
from nnunet_t1t2.conversion.registration_check import PoseCheck, check_pose
from nnunet_t1t2.conversion.timing import StageClock
from nnunet_t1t2.conversion.tissue import Thresholds, ct_head_mask, mr_head_mask, patient_head_mask, tissue_labels
from nnunet_t1t2.volumes import label_volumes_ml


@dataclass(frozen=True)
class ConversionSettings:
    """Everything that decides a case's labels; stored with each case, so a change converts again."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)
    quality: QualityLimits = field(default_factory=QualityLimits)

    def as_dict(self) -> dict:
        return {"thresholds_hu": self.thresholds.as_dict(), "registration": self.registration.as_dict(),
                "quality_limits": self.quality.as_dict()}


@dataclass(frozen=True)
class LabelledImage:
    """An MR image with its labels (same grid) and the facts the manifest records about them."""

    mr: sitk.Image
    labels: sitk.Image
    facts: dict
    ct: sitk.Image
    """The registered CT on the MR's grid (HU)."""


def checked_registration(problem: RegistrationProblem, registration: Registration, tolerance: float,
                         what: str) -> tuple[Registration, PoseCheck]:
    """``registration`` and its check; where the check's restarts found a better optimum out of the
    tolerance (the registration stopped in a local one, as thick slices invite), the registration
    continued from there, checked again and marked as such."""
    pose = check_pose(problem, registration, tolerance, what)
    if pose.uncertainty_mm <= tolerance or pose.optimum_gain <= 0:
        return registration, pose
    continued = problem.optimise(pose.optimum, what, levels=problem.levels[-1:])
    continued = replace(continued, extra={**continued.extra, "continued_from_a_better_optimum_mm": pose.uncertainty_mm})
    return continued, check_pose(problem, continued, tolerance, what, evidence=pose.evidence)


def labels_from_ct(mr: sitk.Image, mr_head: sitk.Image, ct: sitk.Image, registration: Registration,
                   thresholds: Thresholds, tolerance_mm: float, given_head_mask: sitk.Image | None = None
                   ) -> tuple[sitk.Image, sitk.Image, float, sitk.Image]:
    """The labels on the MR grid from the CT placed by ``registration``, inside the patient's head
    (:func:`patient_head_mask`, from the MR's head mask ``mr_head`` and the registration tolerance
    ``tolerance_mm``); the CT's own head mask there
    (what lies against the patient included, for the quality figures), the fraction of the MR grid
    the CT covers, and the CT (HU) on the MR grid."""
    ct_on_mr, ct_coverage = resample_ct_to_mr(ct, mr, registration)
    ct_head = ct_head_mask(ct_on_mr, thresholds.head_hu)
    if given_head_mask is not None:
        # An outline mask may be dilated; keeping only CT head voxels stops outside air becoming "air".
        ct_head = ct_head & sitk.Resample(given_head_mask, mr, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    labels = tissue_labels(ct_on_mr, patient_head_mask(ct_head, mr_head, tolerance_mm), thresholds)
    return labels, ct_head, ct_coverage, ct_on_mr


def label_mr_image(source: PatientSource, modality: str, ct: sitk.Image, settings: ConversionSettings,
                   clock: StageClock, given_head_mask: sitk.Image | None = None, accepted: bool = False,
                   other_cts: dict[str, sitk.Image] | None = None) -> LabelledImage:
    """Labels for the patient's ``modality`` ("T1" or "T2") image from its ``ct`` (HU, float32),
    timing the stages on ``clock``. ``given_head_mask`` (SynthRAD's outline mask, on the MR grid)
    limits the head mask further; ``other_cts`` (patient -> CT) are compared with ``ct`` on this image
    (:mod:`.other_patients`). Raises :class:`UserError` for bad input and when the registration
    failed, unless the user ``accepted`` this image after looking at it (the refusal is then recorded)."""
    mr_path = source.t1 if modality == "T1" else source.t2
    what = f"patient {source.patient}: {modality} {mr_path.name} with CT {source.ct.name}"
    with clock.stage("reading"):
        mr = read_mr(mr_path, source.patient)
    with clock.stage("registration"):
        mr_head = mr_head_mask(mr)
        if source.registered:
            registration, pose = identity_registration("the input layout provides registered images"), None
        else:
            problem = RegistrationProblem.prepare(mr, ct, mr_head, settings.registration)
            registration = register(problem, what)
    others = None
    with clock.stage("registration check"):
        if not source.registered:
            registration, pose = checked_registration(problem, registration, settings.quality.tolerance_mm(mr), what)
            if other_cts:
                others = fit_of_other_patients(problem, (registration.transform, pose.optimum), other_cts, what)
    with clock.stage("labelling"):
        tolerance = settings.quality.tolerance_mm(mr)
        labels, ct_head, ct_coverage, ct_on_mr = labels_from_ct(mr, mr_head, ct, registration, settings.thresholds,
                                                                tolerance, given_head_mask)
        quality = {**registration_quality(mr, mr_head, ct_head, labels, tolerance),
                   "ct_covers_mr_fraction": round(ct_coverage, 4)}
        if pose is not None:
            quality.update(pose.record())
        if others is not None:
            quality.update(others.record())
        refused = quality_problems(quality, settings.quality)
        if refused and not accepted:
            raise refusal(refused, what)
        if accepted:
            quality["accepted_by_user"] = {"refused_for": refused}
        facts = {
            "registration": registration.record(),
            "quality": quality,
            "label_volumes_ml": label_volumes_ml(labels),
            tissue_hu.CASE_KEY: tissue_hu.median_hu_per_label(ct_on_mr, labels),
        }
    return LabelledImage(mr, labels, facts, ct_on_mr)
