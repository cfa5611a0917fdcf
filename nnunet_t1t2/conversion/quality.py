"""Is a registration good enough to take labels from? The checks, their limits, the verdict.

Each check is one entry of :data:`QUALITY_CHECKS`: its limits (settings with their ``convert``
options), the figures of the case's quality record it judges, the reasons it refuses an image for,
and its words in the QC overlay's title. The limits' options, their place in ``conversion.json``
(``quality_limits``) and the title follow from the entry.

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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.registration_check import RESTART_ANGLE_DEG, RESTART_SHIFT_MM, SIMILARITY_NOISE
from nnunet_t1t2.conversion.tissue import LABELS, dice, within_mm
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.options import Setting, known_settings

Figures = Mapping[str, Any]
"""A case's quality record (``conversion.json``): the figures the checks judge."""


@dataclass(frozen=True)
class QualityCheck:
    name: str
    limits: tuple[Setting, ...]
    figures: tuple[str, ...]
    """The record's figures it judges; a check applies to a case whose record holds them (the pose
    checks not to registered input, the other-patients check not with ``--compare-with 0``)."""
    problems: Callable[[Figures, QualityLimits], list[str]]
    """Why it refuses the image, in words; empty if it accepts it."""
    words: Callable[[Figures, QualityLimits], str | None]
    """What the QC overlay's title says of it."""


def _pose_problems(q: Figures, limits: QualityLimits) -> list[str]:
    if q["best_restart_gain"] > SIMILARITY_NOISE and q["best_restart_mm"] > q["tolerance_mm"]:
        return [f"restarted from poses around the result, the registration found a pose {q['best_restart_mm']:.1f} mm "
                f"from it on average over the head (more than the tolerance of {q['tolerance_mm']:.1f} mm) that "
                f"fits {100 * q['best_restart_gain']:.0f}% better: the result is not the optimum"]
    if q["uncertainty_mm"] > q["tolerance_mm"]:
        return [f"restarted from poses {RESTART_SHIFT_MM:g} mm and {RESTART_ANGLE_DEG:g} degrees around the result, the "
                f"registration ends {q['uncertainty_mm']:.1f} mm from it on average over the head (more than the "
                f"tolerance of {q['tolerance_mm']:.1f} mm): the result is not a clear optimum"]
    return []


def _sharpness_problems(q: Figures, limits: QualityLimits) -> list[str]:
    if q["sharpness"] >= limits.min_sharpness:
        return []
    return [f"the CT matches the MR only {q['sharpness']:.2f} times as sharply as the MR matches itself (less "
            f"than {limits.min_sharpness:g}): no pose of this CT fits the MR well. Is the CT of this patient?"]


def _mirror_problems(q: Figures, limits: QualityLimits) -> list[str]:
    if q["mirror_gain"] <= limits.max_mirror_gain:
        return []
    return [f"the left-right mirrored CT fits this MR better than the CT as stored (by {100 * q['mirror_gain']:.1f}% "
            f"of the similarity, more than {100 * limits.max_mirror_gain:g}%): the CT or the MR appears left-right "
            f"flipped"]


def _other_fits(q: Figures) -> dict[str, float]:
    return {patient: fit for patient, fit in q["other_patients_similarity"].items() if fit is not None}


def _other_patients_problems(q: Figures, limits: QualityLimits) -> list[str]:
    rivals = {p: s for p, s in _other_fits(q).items() if s > q["similarity"] * (1 + limits.max_other_patient_gain)}
    return [f"the CT of patient {patient} fits this MR image better than the CT given for it (similarity "
            f"{similarity:.3f} against {q['similarity']:.3f}; another head fits worse than the patient's own): are the "
            f"CTs of the patients mixed up?" for patient, similarity in sorted(rivals.items())]


def _other_patients_words(q: Figures, limits: QualityLimits) -> str | None:
    fits = _other_fits(q)
    return (f"best other patient's CT fits {max(fits.values()) / q['similarity']:.2f} as well "
            f"(most {1 + limits.max_other_patient_gain:g})" if fits else None)


def _head_mask_problems(q: Figures, limits: QualityLimits) -> list[str]:
    if q["head_mask_dice"] >= limits.min_head_dice:
        return []
    return [f"the head masks of the MR and of the registered CT overlap with Dice {q['head_mask_dice']:.2f} < "
            f"{limits.min_head_dice:g}"]


def _bone_signal_words(q: Figures, limits: QualityLimits) -> str | None:
    ratio = q["bone_signal_ratio"]
    return None if ratio is None else f"MR signal in bone {ratio:.2f} of soft tissue's"


#: In the order of the QC title. The pose figures come from :mod:`.registration_check`, the other
#: patients' from :mod:`.other_patients`, the head mask's and bone signal's from :func:`registration_quality`.
QUALITY_CHECKS: dict[str, QualityCheck] = {check.name: check for check in (
    QualityCheck(
        "pose", (Setting("tolerance_voxels", 1.5, "--tolerance-voxels", bounds=(0, None),
                         help="registration uncertainty allowed, in MR voxels (their largest edge)"),
                 Setting("tolerance_min_mm", 2.0, "--tolerance-min-mm", "... but at least this many mm", bounds=(0, None))),
        ("uncertainty_mm", "tolerance_mm", "best_restart_mm", "best_restart_gain"), _pose_problems,
        lambda q, limits: f"registration uncertainty {q['uncertainty_mm']:.1f} mm (tolerance {q['tolerance_mm']:.1f})"),
    QualityCheck(
        "sharpness", (Setting("min_sharpness", 0.25, "--min-sharpness", bounds=(0, None),
                              help="how sharply the CT must match the MR at least, relative to the MR itself"),),
        ("sharpness",), _sharpness_problems,
        lambda q, limits: f"sharpness {q['sharpness']:.2f} (least {limits.min_sharpness:g})"),
    QualityCheck(
        "mirror", (Setting("max_mirror_gain", SIMILARITY_NOISE, "--max-mirror-gain", bounds=(0, None),
                           help="most the left-right mirrored CT may fit better, as a fraction of the similarity"),),
        ("mirror_gain",), _mirror_problems,
        lambda q, limits: f"mirror gain {100 * q['mirror_gain']:+.1f}% (most {100 * limits.max_mirror_gain:g}%)"),
    QualityCheck(
        "other patients",
        (Setting("compared_patients", 3, "--compare-with", type=int, metavar="N", bounds=(0, None),
                 help="compare each MR image with the CTs of N other patients: refused where one fits it clearly "
                      "better than its own CT (pairs mixed up); 0: compare with none"),
         Setting("max_other_patient_gain", SIMILARITY_NOISE, "--max-other-patient-gain", bounds=(0, None),
                 help="most another patient's CT may fit an MR image better than its own, as a fraction of the "
                      "similarity")),
        ("similarity", "other_patients_similarity"), _other_patients_problems, _other_patients_words),
    QualityCheck(
        "head mask", (Setting("min_head_dice", 0.8, "--min-head-dice", bounds=(0, 1),
                              help="least Dice of the MR's and the registered CT's head masks"),),
        ("head_mask_dice",), _head_mask_problems,
        lambda q, limits: f"head-mask Dice {q['head_mask_dice']:.3f} (least {limits.min_head_dice:g})"),
    QualityCheck(
        "bone signal", (), ("bone_signal_ratio",),
        lambda q, limits: ([] if q["bone_signal_ratio"] is not None else
                           ["no bone or no soft tissue with MR signal inside the head after registration"]),
        _bone_signal_words),
)}


def quality_limit_settings() -> list[Setting]:
    """Every check's limits, in the order of :data:`QUALITY_CHECKS`."""
    return [limit for check in QUALITY_CHECKS.values() for limit in check.limits]


@dataclass(frozen=True)
class QualityLimits:
    """The checks' limits by name (``nnunet-t1t2 convert`` options of the same names), read as
    attributes: ``limits.min_head_dice``.

    The tolerance is 1.5 MR voxels (largest edge), at least 2 mm: a pose within one voxel must never be
    refused, and the uncertainty estimate itself carries a few tenths of a millimetre. The mirrored CT,
    or another patient's, may fit up to 0.5 % better than the patient's CT as stored (two
    optimisations of the same similarity differ by about a tenth of that) before the CT is called
    flipped or not this patient's. The CT must match at least a quarter as sharply as the MR matches
    itself: the limit lies well below what the patient's own CT reaches on the phantom at every voxel
    size ``benchmarks/registration_qc.py`` covers, a margin for real images, whose tissues are less
    uniform. Each image is also compared with the CTs of ``compared_patients`` other patients
    (:mod:`.other_patients`); 0 compares with none."""

    values: Mapping[str, Any] = field(default_factory=lambda: {s.name: s.default for s in quality_limit_settings()})

    @classmethod
    def with_values(cls, **given: Any) -> QualityLimits:
        """The defaults with ``given`` limits instead."""
        return cls({**cls().values, **given})

    def __post_init__(self) -> None:
        settings = quality_limit_settings()
        known_settings(self.values, settings, "registration check limits")  # refuses an unknown name
        for s in settings:
            if s.name in self.values:
                s.check(self.values[s.name])

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    def tolerance_mm(self, mr: sitk.Image) -> float:
        """``tolerance_voxels`` MR voxels (their largest edge), at least ``tolerance_min_mm``."""
        return max(self.tolerance_min_mm, self.tolerance_voxels * max(mr.GetSpacing()))

    def as_dict(self) -> dict:
        return dict(self.values)


def applicable_checks(quality: Figures) -> list[QualityCheck]:
    """The checks whose figures the record holds."""
    return [check for check in QUALITY_CHECKS.values() if all(f in quality for f in check.figures)]


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


def quality_problems(quality: Figures, limits: QualityLimits) -> list[str]:
    """Why a registration is refused, in words, by every check that applies to the record; empty if it
    is accepted."""
    return [problem for check in applicable_checks(quality) for problem in check.problems(quality, limits)]


def qc_title(patient: str, modality: str, quality: Figures, limits: QualityLimits) -> str:
    """The QC overlay's title: what each check that applies says, and whether the user kept the image."""
    words = [w for check in applicable_checks(quality) if (w := check.words(quality, limits)) is not None]
    accepted = " - kept by --accept" if "accepted_by_user" in quality else ""
    return f"{patient} {modality}: {', '.join(words)}{accepted}"


def refusal(problems: list[str], what: str) -> UserError:
    """The error that leaves a refused image out, naming the case and every figure that refuses it."""
    return UserError(f"{what}: registration failed: {'; '.join(problems)}. This image is left out; look at its "
                     f"overlay and keep it with --accept if it is right")
