"""Where each patient's images are, in the supported input layouts (``--layout``).

* ``paired``: ``DIR/<patient>/{t1,t2,ct}``, each an image file (.nii.gz, .nii, .mha, .nrrd) or a
  folder holding one DICOM series. T2 is optional; T1 and CT are required.
* ``synthrad``: SynthRAD2023 and SynthRAD2025 Task 1, ``DIR/<patient>/{mr,ct,mask}.{nii.gz,mha}``, or
  ``DIR/<region>/<patient>/...`` when ``DIR`` holds region folders (2023: ``brain``, ``pelvis``; 2025:
  ``HN``, ``TH``, ``AB``); patient ids are unique across regions. The MR is taken as T1, the images
  are already registered to each other and ``mask`` is the patient outline.
* ``rire``: RIRE-style, ``DIR/<patient>/{ct,mr_T1,mr_T2}/<one file>.mhd`` (or .mha); the distortion
  corrected ``mr_T1_rectified``/``mr_T2_rectified`` folders are preferred when both are there.
* ``bids``: ``DIR/sub-<id>/[ses-<id>/]anat/*_T1w.nii[.gz]``, ``*_T2w.nii[.gz]``, CT as
  ``*_ct.nii[.gz]`` (or ``_CT``) in ``anat/`` or ``ct/``. One patient per subject, or per subject
  and session (``sub-X_ses-Y``) when there are sessions. Of several runs (``run-<n>``) of an image
  otherwise named alike, the last is taken; images that differ in other entities are refused.
* ``auto``: whichever of these the folder's contents match (:func:`detect_layout`).

A patient folder is a folder that holds at least one of the layout's images; other folders
(SynthRAD's ``overview/``, BIDS ``derivatives/``) are ignored. Finding only part of a patient's
images is that patient's failure, reported with the others at the end, not a reason to stop. Only
names are looked at here; the images are read (and checked) during the conversion.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from nnunet_t1t2.errors import UserError

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".mha", ".nrrd")


@dataclass(frozen=True)
class PatientSource:
    """One patient's input images. ``t2`` and ``head_mask`` may be missing; ``registered`` says that
    MR and CT are already on a common grid (SynthRAD), so no registration is done; ``notes`` say
    which image was chosen where the layout offered several."""

    patient: str
    folder: Path
    t1: Path
    ct: Path
    t2: Path | None = None
    head_mask: Path | None = None
    registered: bool = False
    notes: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        """The person: the patient id without a BIDS session (the sessions of a subject share one head)."""
        return self.patient.split("_ses-")[0]


@dataclass(frozen=True)
class DiscoveryProblem:
    """A patient folder that cannot be converted, with the reason."""

    patient: str
    message: str


@dataclass(frozen=True)
class Layout:
    """How one layout finds patient folders and their images. ``patient`` gets the identifier (for
    messages) and the folder, and returns None for a folder without any of the layout's images."""

    expects: str
    folders: Callable[[Path], Iterator[tuple[str, Path]]]
    patient: Callable[[str, Path], PatientSource | None]


def sanitize_identifier(text: str) -> str:
    """``text`` reduced to letters, digits, ``-`` and ``_`` (runs of anything else become ``_``), so that
    it is safe in nnU-Net case identifiers and file names."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")


def discover_patients(input_dir: Path, layout: str) -> tuple[list[PatientSource], list[DiscoveryProblem]]:
    """The patients under ``input_dir``, sorted by identifier, and the folders that cannot be used.
    ``layout`` may be ``auto``; :func:`resolve_layout` tells which layout that is."""
    if layout not in LAYOUT_CHOICES:
        raise UserError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUT_CHOICES)}")
    if not input_dir.is_dir():
        raise UserError(f"input folder {input_dir} does not exist")
    layout, _ = resolve_layout(input_dir, layout)
    rules = LAYOUTS[layout]
    patients: list[PatientSource] = []
    problems: list[DiscoveryProblem] = []
    seen: dict[str, Path] = {}
    for name, folder in rules.folders(input_dir):
        patient = sanitize_identifier(name)
        named = patient or name  # for messages
        try:
            source = rules.patient(named, folder)
            if source is None:
                continue
            if not patient:
                raise UserError(f"patient {named}: {folder}: the folder name has no letters or digits to name "
                                f"the case by; rename it")
            if patient in seen:
                raise UserError(f"patient {patient}: {folder}: gives the same case identifier as "
                                f"{seen[patient]}; rename one of them")
            seen[patient] = folder
            patients.append(replace(source, patient=patient))
        except UserError as e:
            problems.append(DiscoveryProblem(named, str(e)))
    if not patients and not problems:
        raise UserError(f"no patient folders in {input_dir}: expected {rules.expects} (layout {layout!r})")
    return sorted(patients, key=lambda source: source.patient), problems


def resolve_layout(input_dir: Path, layout: str) -> tuple[str, str | None]:
    """``layout``, or for ``auto`` the detected layout and a note saying so (for the summary)."""
    if layout != "auto":
        return layout, None
    detected = detect_layout(input_dir)
    return detected, f"layout {detected} detected in {input_dir} ({LAYOUTS[detected].expects})"


def detect_layout(input_dir: Path) -> str:
    """The one layout whose patient folders ``input_dir`` holds: the one layout with complete
    patients, else (all patients incomplete) the one that finds images in the most folders. A folder
    with complete patients of several layouts is ambiguous. Only names are looked at, so this is cheap."""
    if not input_dir.is_dir():
        raise UserError(f"input folder {input_dir} does not exist")
    complete, partial = {}, {}
    for name, rules in LAYOUTS.items():
        for identifier, folder in rules.folders(input_dir):
            try:
                is_patient = rules.patient(identifier, folder) is not None
                complete[name] = complete.get(name, 0) + is_patient
                partial[name] = partial.get(name, 0) + is_patient
            except UserError:
                partial[name] = partial.get(name, 0) + 1
    for counts, complete_only in ((complete, True), (partial, False)):
        matching = {name: count for name, count in counts.items() if count}
        most = max(matching.values(), default=0)
        leaders = [name for name, count in matching.items() if count == most]
        if len(matching) == 1 or (matching and not complete_only and len(leaders) == 1):
            return leaders[0]
        if matching:
            found = ", ".join(f"{name} ({count} patient folders)" for name, count in matching.items())
            raise UserError(f"cannot tell the layout of {input_dir}: it matches {found}; choose one with "
                            f"--layout:\n{_expectations()}")
    raise UserError(f"cannot tell the layout of {input_dir}: no sub-folder holds the images of any known "
                    f"layout. Expected one of:\n{_expectations()}")


def _expectations() -> str:
    return "\n".join(f"    {name}: {rules.expects}" for name, rules in LAYOUTS.items())


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _require(patient: str, folder: Path, found: dict[str, Path | None], required: tuple[str, ...],
             expected: Callable[[str], str]) -> None:
    missing = [role for role in required if found[role] is None]
    if missing:
        raise UserError(f"patient {patient}: {folder}: has no {' and no '.join(missing)} image "
                        f"(expected {expected(missing[0])})")


# --- paired and SynthRAD: one file (or DICOM folder) per role, named after the role ---------------

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


def _named_file(role: str) -> str:
    return f"{role}{IMAGE_SUFFIXES[0]} or another of {', '.join(IMAGE_SUFFIXES[1:])}, or a DICOM folder named {role}"


def _paired_patient(patient: str, folder: Path) -> PatientSource | None:
    found = {role: _find_image(patient, folder, role) for role in ("t1", "t2", "ct")}
    if not any(found.values()):
        return None
    _require(patient, folder, found, ("t1", "ct"), _named_file)
    return PatientSource(patient, folder, t1=found["t1"], ct=found["ct"], t2=found["t2"])


def _synthrad_patient(patient: str, folder: Path) -> PatientSource | None:
    found = {role: _find_image(patient, folder, role) for role in ("mr", "ct", "mask")}
    if not any(found.values()):
        return None
    _require(patient, folder, found, ("mr", "ct", "mask"), _named_file)
    return PatientSource(patient, folder, t1=found["mr"], ct=found["ct"], head_mask=found["mask"], registered=True)


def _patient_folders(input_dir: Path) -> Iterator[tuple[str, Path]]:
    for folder in _subfolders(input_dir):
        yield folder.name, folder


def _synthrad_folders(input_dir: Path) -> Iterator[tuple[str, Path]]:
    """Patient folders of ``input_dir``, or of its region folders: a sub-folder without any SynthRAD
    image of its own is a region (or ``overview/``, which holds no patient folders)."""
    images = {role + suffix for role in ("mr", "ct", "mask") for suffix in IMAGE_SUFFIXES}
    for folder in _subfolders(input_dir):
        if any(entry.name.lower() in images for entry in folder.iterdir()):
            yield folder.name, folder
        else:
            yield from _patient_folders(folder)


# --- RIRE: one folder per modality, holding one MetaImage ----------------------------------------

#: Folders of each role, in order of preference: the rectified MR is corrected for the scanner's
#: geometric distortion, so it matches the CT better.
RIRE_FOLDERS = {"t1": ("mr_T1_rectified", "mr_T1"), "t2": ("mr_T2_rectified", "mr_T2"), "ct": ("ct",)}
RIRE_SUFFIXES = (".mhd", ".mha")


def _rire_patient(patient: str, folder: Path) -> PatientSource | None:
    subfolders = {sub.name.lower(): sub for sub in _subfolders(folder)}
    found: dict[str, Path | None] = {}
    notes = []
    for role, names in RIRE_FOLDERS.items():
        present = [subfolders[name.lower()] for name in names if name.lower() in subfolders]
        found[role] = _single_image(patient, present[0]) if present else None
        if len(present) > 1:
            notes.append(f"patient {patient}: {role.upper()} from {present[0].name}/, preferred over "
                         f"{present[1].name}/ (corrected for geometric distortion)")
    if not any(found.values()):
        return None
    _require(patient, folder, found, ("t1", "ct"),
             lambda role: f"a folder {' or '.join(RIRE_FOLDERS[role])} holding one {' or '.join(RIRE_SUFFIXES)} file")
    return PatientSource(patient, folder, t1=found["t1"], ct=found["ct"], t2=found["t2"], notes=tuple(notes))


def _single_image(patient: str, folder: Path) -> Path:
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(RIRE_SUFFIXES))
    if len(images) != 1:
        held = f"{len(images)} ({', '.join(p.name for p in images)})" if images else "none"
        raise UserError(f"patient {patient}: {folder}: should hold one {' or '.join(RIRE_SUFFIXES)} image, "
                        f"holds {held}")
    return images[0]


# --- BIDS: entities in file names, one patient per subject (and session) --------------------------

BIDS_SUFFIXES = {"t1": ("T1w",), "t2": ("T2w",), "ct": ("ct", "CT")}
BIDS_FOLDERS = ("anat", "ct")
BIDS_EXTENSIONS = (".nii.gz", ".nii")


def _bids_folders(input_dir: Path) -> Iterator[tuple[str, Path]]:
    for subject in _subfolders(input_dir):
        if not subject.name.startswith("sub-"):
            continue
        sessions = [session for session in _subfolders(subject) if session.name.startswith("ses-")]
        if sessions:
            for session in sessions:
                yield f"{subject.name}_{session.name}", session
        else:
            yield subject.name, subject


def _bids_patient(patient: str, folder: Path) -> PatientSource | None:
    files = [file for name in BIDS_FOLDERS if (folder / name).is_dir()
             for file in sorted((folder / name).iterdir())
             if file.is_file() and file.name.endswith(BIDS_EXTENSIONS)]
    found, notes = {}, []
    for role, suffixes in BIDS_SUFFIXES.items():
        candidates = [file for file in files if _bids_entities(file)[1] in suffixes]
        found[role] = _bids_choice(patient, folder, role, candidates, notes)
    if not any(found.values()):
        return None
    _require(patient, folder, found, ("t1", "ct"),
             lambda role: f"a file *_{BIDS_SUFFIXES[role][0]}.nii.gz in {' or '.join(f + '/' for f in BIDS_FOLDERS)}")
    return PatientSource(patient, folder, t1=found["t1"], ct=found["ct"], t2=found["t2"], notes=tuple(notes))


def _bids_entities(file: Path) -> tuple[dict[str, str], str]:
    """The key-value entities and the suffix of a BIDS file name (``sub-1_run-2_T1w.nii.gz``)."""
    stem = file.name[: -len(next(e for e in BIDS_EXTENSIONS if file.name.endswith(e)))]
    *pairs, suffix = stem.split("_")
    return dict(pair.partition("-")[::2] for pair in pairs), suffix


def _bids_choice(patient: str, folder: Path, role: str, candidates: list[Path], notes: list[str]) -> Path | None:
    """The one image of ``role``; of several runs of the same acquisition, the last run."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    names = ", ".join(file.name for file in candidates)
    entities = [_bids_entities(file)[0] for file in candidates]
    others = {tuple(sorted((k, v) for k, v in e.items() if k != "run")) for e in entities}
    runs = [e.get("run", "") for e in entities]
    if len(others) > 1 or not all(run.isdigit() for run in runs):
        raise UserError(f"patient {patient}: {folder}: has several {role.upper()} images ({names}) that are not "
                        f"runs of one acquisition; keep one (or move the others out of "
                        f"{' and '.join(BIDS_FOLDERS)}/)")
    chosen = max(zip(map(int, runs), candidates))[1]
    notes.append(f"patient {patient}: {role.upper()} from {chosen.name}, the last of {len(candidates)} runs ({names})")
    return chosen


LAYOUTS: dict[str, Layout] = {
    "paired": Layout("<patient>/{t1,t2,ct} (.nii.gz, .nii, .mha, .nrrd or a DICOM folder; t2 optional)",
                     _patient_folders, _paired_patient),
    "synthrad": Layout("[<region>/]<patient>/{mr,ct,mask}.nii.gz or .mha (SynthRAD2023/2025, registered)",
                       _synthrad_folders, _synthrad_patient),
    "rire": Layout("<patient>/{ct,mr_T1,mr_T2}/*.mhd (or mr_T1_rectified, mr_T2_rectified; mr_T2 optional)",
                   _patient_folders, _rire_patient),
    "bids": Layout("sub-<id>/[ses-<id>/]anat/*_T1w.nii.gz, *_T2w.nii.gz (optional), CT *_ct.nii.gz in anat/ "
                   "or ct/", _bids_folders, _bids_patient),
}
LAYOUT_CHOICES = (*LAYOUTS, "auto")
