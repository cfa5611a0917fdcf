"""The tissue HU a conversion measured on its training patients' CTs (``predict --hu-from``).

``nnunet-t1t2 convert`` records in each data set's ``conversion.json`` the median HU of the
registered CT inside each label, per case and over the training cases
(:mod:`nnunet_t1t2.conversion.tissue_hu`). A pseudo-CT made with these values uses the user's own
scanner, voxel size and label definition instead of literature values.
"""
from __future__ import annotations

import json
from pathlib import Path

from nnunet_t1t2.conversion.manifest import MANIFEST
from nnunet_t1t2.conversion.tissue_hu import DATASET_KEY
from nnunet_t1t2.errors import UserError


def conversion_manifest(dataset: str) -> Path:
    """The ``conversion.json`` that ``dataset`` names: the file itself, a data set folder holding it,
    or a data set id or name under ``$nnUNet_raw``."""
    path = Path(dataset)
    if path.is_file():
        return path
    if path.is_dir():
        return path / MANIFEST
    if not dataset.isdigit() and not dataset.startswith("Dataset"):
        raise UserError(f"--hu-from {dataset}: no such file or folder, and not a data set id or name")
    from nnunetv2.paths import nnUNet_raw

    from nnunet_t1t2.nnunet_paths import dataset_name

    if not nnUNet_raw.is_set():
        raise UserError(f"--hu-from {dataset}: $nnUNet_raw is not set, so the data set cannot be found; "
                        f"give the path of its {MANIFEST} instead")
    return Path(nnUNet_raw.get()) / dataset_name(dataset) / MANIFEST


def training_hu(manifest: Path) -> dict[str, int]:
    """Class name -> the median HU over the training cases that ``manifest`` records."""
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"--hu-from: cannot read {manifest} ({type(e).__name__}: {e})") from None
    summary = recorded.get(DATASET_KEY) if isinstance(recorded, dict) else None
    if not isinstance(summary, dict) or not summary.get("cases"):
        raise UserError(f"--hu-from: {manifest} records no tissue HU of training cases (converted by an "
                        f"older nnunet-t1t2, or without training cases); remove it and run nnunet-t1t2 "
                        f"convert again to measure them")
    missing = sorted(name for name, value in summary["hu"].items() if value is None)
    if missing:
        raise UserError(f"--hu-from: {manifest}: no training case has {', '.join(missing)}, so there is no "
                        f"HU to take for it")
    return {name: int(value) for name, value in summary["hu"].items()}
