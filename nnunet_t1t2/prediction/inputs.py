"""Finding the scans to segment and reading them, whatever form they arrive in.

Scanners and archives hand out DICOM series folders, ``.mha`` and ``.nrrd`` files as often as
NIfTI, while stock ``nnUNetv2_predict`` only reads ``<case>_0000.nii.gz``. Every input here becomes
a :class:`Case` with a name and a format; reading goes through the conversion's validated reader
(:func:`nnunet_t1t2.conversion.reading.read_mr`), so a truncated file, NaN voxels, a 2D slice or a
4D or multi-channel image is refused with the file named instead of being segmented as garbage.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import SimpleITK as sitk

from nnunet_t1t2.errors import UserError

#: File endings read as images (longest first, so ``.nii.gz`` wins over ``.gz``), with the format
#: name that ``--format input`` keeps.
IMAGE_ENDINGS = {".nii.gz": "nifti", ".nii": "nifti", ".mha": "mha", ".mhd": "mha", ".nrrd": "nrrd",
                 ".nhdr": "nrrd"}
DICOM = "dicom"
#: nnU-Net names the single channel of a case ``<case>_0000``; such a file gives the case ``<case>``,
#: so that outputs are named as ``nnUNetv2_predict`` names them.
NNUNET_CHANNEL_SUFFIX = "_0000"


@dataclass(frozen=True)
class Case:
    """One scan to segment: ``path`` is a file or a DICOM series folder, ``fmt`` one of
    :data:`IMAGE_ENDINGS`'s format names or :data:`DICOM`."""

    name: str
    path: Path
    fmt: str


def find_cases(inputs: list[str | Path]) -> list[Case]:
    """Every scan named by ``inputs`` (files, DICOM series folders, folders of those, at any depth),
    in a stable order. Refuses a missing input, a folder without any scan and two scans that would
    write to the same output name."""
    cases: list[Case] = []
    for given in map(Path, inputs):
        if not given.exists():
            raise UserError(f"input {given} does not exist")
        found = _cases_under(given) if given.is_dir() else [_file_case(given)]
        if not found:
            raise UserError(f"input folder {given} holds no DICOM series and no image files "
                            f"({', '.join(IMAGE_ENDINGS)})")
        cases.extend(found)
    by_name: dict[str, Case] = {}
    for case in cases:
        if case.name in by_name:
            raise UserError(f"{by_name[case.name].path} and {case.path} would both be written as case "
                            f"'{case.name}'; rename one or predict them into separate output folders")
        by_name[case.name] = case
    return cases


def read_case(case: Case) -> sitk.Image:
    """The case's image, checked to be a finite, non-constant, single-channel 3D volume."""
    from nnunet_t1t2.conversion.reading import read_mr

    return read_mr(case.path, case.name)


def _cases_under(folder: Path) -> list[Case]:
    """A folder holding a DICOM series is one case; any other folder is searched for image files
    and for sub-folders holding series."""
    if _holds_dicom_series(folder):
        return [Case(folder.name, folder, DICOM)]
    cases = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            cases.extend(_cases_under(entry))
        elif _ending(entry):
            cases.append(_file_case(entry))
    return cases


def _holds_dicom_series(folder: Path) -> bool:
    """Whether GDCM finds a series among the files directly in ``folder`` (DICOM files often have no
    ending at all, so every file that is not a known image is a candidate)."""
    if not any(p.is_file() and not _ending(p) for p in folder.iterdir()):
        return False
    warnings = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # GDCM warns about every folder without a series
    try:
        return bool(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warnings)


def _file_case(path: Path) -> Case:
    ending = _ending(path)
    if ending is None:
        # Not an error for the whole run: the case fails when read, with this message.
        return Case(path.name, path, "unknown")
    name = path.name[: -len(ending)]
    return Case(name.removesuffix(NNUNET_CHANNEL_SUFFIX) or name, path, IMAGE_ENDINGS[ending])


def _ending(path: Path) -> str | None:
    lower = path.name.lower()
    return next((e for e in IMAGE_ENDINGS if lower.endswith(e)), None)
