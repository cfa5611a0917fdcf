"""Where a case's results go, and writing them so that a failed case leaves nothing behind.

Per case, in the output folder: ``<case>.nii.gz`` (labels, named as ``nnUNetv2_predict`` names
them), ``<case>_pseudo_ct.nii.gz`` and ``<case>_pseudo_ct.json`` (its HU and their sources) with
``--pseudo-ct``, ``qc/<case>.png``, and one row of
``volumes.csv``. All of a case's files are written into a hidden staging folder first and renamed
into place (atomic within one file system) only when every one of them is complete; a re-run
replaces them the same way, and ``volumes.csv`` keeps the rows of cases it did not touch.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import SimpleITK as sitk

from nnunet_t1t2.atomic import PARTIAL_SUFFIX, partial_name, write_text_atomically
from nnunet_t1t2.prediction.formats import output_ending
from nnunet_t1t2.prediction.inputs import Case

VOLUMES_FILE = "volumes.csv"
QC_FOLDER = "qc"
PSEUDO_CT_SUFFIX = "_pseudo_ct"


def label_path(out: Path, case: Case, fmt: str) -> Path:
    return out / f"{case.name}{output_ending(case.fmt, fmt)}"


def pseudo_ct_path(out: Path, case: Case, fmt: str) -> Path:
    return out / f"{case.name}{PSEUDO_CT_SUFFIX}{output_ending(case.fmt, fmt)}"


def pseudo_ct_record_path(out: Path, case: Case) -> Path:
    """The pseudo-CT's sidecar: its HU per class and where each came from."""
    return out / f"{case.name}{PSEUDO_CT_SUFFIX}.json"


def qc_path(out: Path, case: Case) -> Path:
    return out / QC_FOLDER / f"{case.name}.png"


class CaseWriter:
    """Collects a case's files in a staging folder; :meth:`publish` moves them all into place,
    :meth:`discard` (also on leaving a ``with`` block by an exception) removes them."""

    def __init__(self, out: Path, case: Case):
        self.out = out
        self.staging = partial_name(out / case.name)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        self._staged: dict[Path, Path] = {}

    def staged(self, final: Path) -> Path:
        """The staging path to write ``final``'s content to (same ending, so SimpleITK and matplotlib
        pick the same format)."""
        path = self.staging / f"{len(self._staged)}_{final.name}"
        self._staged[path] = final
        return path

    def write_image(self, image: sitk.Image, final: Path) -> None:
        sitk.WriteImage(image, str(self.staged(final)), useCompression=True)

    def publish(self) -> list[Path]:
        for staged, final in self._staged.items():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
        self.discard()
        return list(self._staged.values())

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> "CaseWriter":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.discard()


def remove_leftovers(out: Path) -> None:
    """Staging folders and partial files of a run that was killed before it could remove them."""
    for leftover in out.glob(f".*{PARTIAL_SUFFIX}"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def update_volumes_csv(out: Path, rows: Iterable[dict[str, object]]) -> Path:
    """Write ``volumes.csv`` (one row per case: case, input, ``<class>_ml`` ...) with ``rows``
    replacing the rows of the same cases and the other cases' rows kept, atomically."""
    path = out / VOLUMES_FILE
    merged: dict[str, dict[str, object]] = {}
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as f:
            merged = {row["case"]: row for row in csv.DictReader(f)}
    merged.update({str(row["case"]): row for row in rows})
    columns = ["case", "input"]
    for row in merged.values():
        columns += [c for c in row if c not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(merged[name] for name in sorted(merged))
    write_text_atomically(path, text.getvalue())
    return path
