"""Where each patient's images are in the two supported input layouts.

* ``paired``: ``DIR/<patient>/{t1,t2,ct}``, each an image file (.nii.gz, .nii, .mha, .nrrd) or a
  folder holding one DICOM series. T2 is optional; T1 and CT are required.
* ``synthrad``: SynthRAD2023 Task 1 brain, ``DIR/1BAxxx/{mr,ct,mask}.nii.gz``. The MR is taken as T1,
  the images are already registered to each other and ``mask`` is the patient outline.

A patient folder is a sub-folder that holds at least one of the layout's images; other folders
(SynthRAD's ``overview/``, say) are ignored. Finding only part of a patient's images is that
patient's failure, reported with the others at the end, not a reason to stop.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nnunet_t1t2.errors import UserError

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".mha", ".nrrd")
LAYOUTS = ("paired", "synthrad")


@dataclass(frozen=True)
class PatientSource:
    """One patient's input images. ``t2`` and ``head_mask`` may be missing; ``registered`` says that
    MR and CT are already on a common grid (SynthRAD), so no registration is done."""

    patient: str
    folder: Path
    t1: Path
    ct: Path
    t2: Path | None = None
    head_mask: Path | None = None
    registered: bool = False


@dataclass(frozen=True)
class DiscoveryProblem:
    """A patient folder that cannot be converted, with the reason."""

    patient: str
    message: str


def sanitize_identifier(text: str) -> str:
    """``text`` reduced to letters, digits, ``-`` and ``_`` (runs of anything else become ``_``), so that
    it is safe in nnU-Net case identifiers and file names."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")


def discover_patients(input_dir: Path, layout: str) -> tuple[list[PatientSource], list[DiscoveryProblem]]:
    """The patients under ``input_dir``, sorted by identifier, and the folders that cannot be used."""
    if layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not input_dir.is_dir():
        raise UserError(f"input folder {input_dir} does not exist")
    roles = {"paired": ("t1", "t2", "ct"), "synthrad": ("mr", "ct", "mask")}[layout]
    patients: list[PatientSource] = []
    problems: list[DiscoveryProblem] = []
    seen: dict[str, Path] = {}
    for folder in sorted(p for p in input_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        patient = sanitize_identifier(folder.name)
        named = patient or folder.name  # for messages
        try:
            found = {role: _find_image(named, folder, role) for role in roles}
            if not any(found.values()):
                continue
            if not patient:
                raise UserError(f"patient {named}: {folder}: the folder name has no letters or digits to name "
                                f"the case by; rename it")
            if patient in seen:
                raise UserError(f"patient {patient}: {folder}: gives the same case identifier as "
                                f"{seen[patient]}; rename one of them")
            seen[patient] = folder
            patients.append(_patient_source(patient, folder, layout, found))
        except UserError as e:
            problems.append(DiscoveryProblem(named, str(e)))
    if not patients and not problems:
        raise UserError(f"no patient folders in {input_dir}: expected sub-folders holding "
                        f"{'/'.join(roles)} images (layout {layout!r})")
    return patients, problems


def _patient_source(patient: str, folder: Path, layout: str, found: dict[str, Path | None]) -> PatientSource:
    if layout == "synthrad":
        _require(patient, folder, found, ("mr", "ct", "mask"))
        return PatientSource(patient, folder, t1=found["mr"], ct=found["ct"], head_mask=found["mask"],
                             registered=True)
    _require(patient, folder, found, ("t1", "ct"))
    return PatientSource(patient, folder, t1=found["t1"], ct=found["ct"], t2=found["t2"])


def _require(patient: str, folder: Path, found: dict[str, Path | None], required: tuple[str, ...]) -> None:
    missing = [role for role in required if found[role] is None]
    if missing:
        raise UserError(f"patient {patient}: {folder}: has no {' and no '.join(missing)} image (expected "
                        f"{missing[0]}{IMAGE_SUFFIXES[0]} or another of {', '.join(IMAGE_SUFFIXES[1:])}, "
                        f"or a DICOM folder named {missing[0]})")


def _find_image(patient: str, folder: Path, role: str) -> Path | None:
    """The one file ``<role><suffix>`` or DICOM folder ``<role>`` in ``folder`` (names compared
    case-insensitively); None if there is none, an error if there are several."""
    candidates = [entry for entry in folder.iterdir()
                  if (entry.is_dir() and entry.name.lower() == role)
                  or (entry.is_file() and entry.name.lower() in {role + suffix for suffix in IMAGE_SUFFIXES})]
    if len(candidates) > 1:
        names = ", ".join(sorted(c.name for c in candidates))
        raise UserError(f"patient {patient}: {folder}: has several {role} images ({names}); keep one")
    return candidates[0] if candidates else None
