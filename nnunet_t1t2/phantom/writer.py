"""Write a simulated patient to disk, byte-for-byte reproducibly and never half-way.

SimpleITK's ``.nii.gz`` output is deterministic (zlib writes a zero timestamp), but SimpleITK cannot
set the NIfTI rescale fields. A CT stored as uint16 needs ``scl_inter = -1024``, so such files are
written uncompressed, patched in the header, and gzipped here with a zero timestamp.

A patient folder appears under its final name only when complete: it is written into a hidden
sibling folder and renamed into place (an atomic rename within one file system).
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import struct
from pathlib import Path

import SimpleITK as sitk

from nnunet_t1t2.phantom.patient import PatientPhantom, Volume

NIFTI1_SCL_OFFSET = 112  # float32 scl_slope, then float32 scl_inter


def write_volume(volume: Volume, path: Path) -> None:
    image = volume.grid.to_image(volume.array)
    if volume.rescale_intercept == 0.0:
        sitk.WriteImage(image, str(path), useCompression=True)
        return
    raw_path = path.with_name(path.name.removesuffix(".gz"))
    sitk.WriteImage(image, str(raw_path), useCompression=False)
    header_and_data = bytearray(raw_path.read_bytes())
    header_and_data[NIFTI1_SCL_OFFSET:NIFTI1_SCL_OFFSET + 8] = struct.pack("<ff", 1.0, volume.rescale_intercept)
    path.write_bytes(gzip.compress(bytes(header_and_data), compresslevel=6, mtime=0))
    raw_path.unlink()


def write_json(data: dict, path: Path) -> None:
    """Indented JSON with short lists of numbers (vectors, matrix rows) kept on one line."""
    text = json.dumps(data, indent=2)
    text = re.sub(r"\[\s+([-+0-9.e,\s]+?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    path.write_text(text + "\n", encoding="utf-8")


def partial_folder(final: Path) -> Path:
    """The hidden sibling a patient is written into before being renamed to ``final``."""
    return final.with_name(f".{final.name}.partial")


def write_patient(patient: PatientPhantom, final: Path) -> None:
    """Write ``patient`` to the folder ``final``, replacing any earlier one, atomically."""
    partial = partial_folder(final)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        for name, volume in patient.volumes.items():
            write_volume(volume, partial / f"{name}.nii.gz")
        write_json(patient.legend, partial / "tissue_legend.json")
        write_json(patient.record, partial / "phantom.json")
        _replace_folder(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _replace_folder(source: Path, target: Path) -> None:
    if not target.exists():
        os.rename(source, target)
        return
    retired = target.with_name(f".{target.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    os.rename(target, retired)
    os.rename(source, target)
    shutil.rmtree(retired)
