"""Generate a set of phantom patients into a folder (the ``nnunet-t1t2 phantom`` verb)."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.output_folder import writable_folder
from nnunet_t1t2.phantom.ct import CT_DTYPES
from nnunet_t1t2.phantom.patient import simulate_patient
from nnunet_t1t2.phantom.sizes import SIZES, varied_size
from nnunet_t1t2.phantom.variation import PhantomVariation
from nnunet_t1t2.phantom.writer import write_patient

T2_FRACTION = 0.28  # the paper has T2 for 14 of its 50 patients
PATIENT_FOLDER = re.compile(r"phantom_(\d{3,})")
LEFTOVER_FOLDER = re.compile(r"\.phantom_\d{3,}\.(partial|old)")  # from an interrupted run


def default_n_t2(n: int) -> int:
    return max(1, round(T2_FRACTION * n))


def choose_t2_patients(seed: int, n: int, n_t2: int) -> list[int]:
    """Which of the ``n`` patients get a T2: ``n_t2`` of them, drawn from (seed, n, n_t2)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, n, n_t2]))
    return sorted(int(i) for i in rng.choice(n, size=n_t2, replace=False))


def generate_phantom(
    out_dir: str | os.PathLike,
    n: int,
    seed: int = 0,
    size: str = "small",
    n_t2: int | None = None,
    overwrite: bool = False,
    ct_dtype: str = "int16",
    progress: Callable[[str], None] | None = None,
    variation: PhantomVariation = PhantomVariation(),
) -> list[Path]:
    """Write ``n`` paired head phantoms to ``out_dir/phantom_000``, ... and return their folders.

    Every patient has T1, CT and their truth; ``n_t2`` of them (default ``round(0.28 n)``, at
    least 1) also have a T2. The same arguments give byte-identical files. A patient's anatomy
    and images depend only on (seed, index); only whether it gets a T2 depends on ``n`` and
    ``n_t2``. ``variation`` makes other heads and acquisitions than the default phantom's
    (:mod:`nnunet_t1t2.phantom.variation`): other voxels and slices, skull, marrow contrast, noise,
    bias field or head size, of the same patients. With ``overwrite``, an existing folder is reused:
    patient folders this call writes are replaced, and stale ``phantom_NNN`` folders from an
    earlier, larger set are removed; nothing else in it is touched.
    """
    n_t2 = default_n_t2(n) if n_t2 is None else n_t2
    _check_arguments(n, seed, size, n_t2, ct_dtype)
    acquisition = varied_size(SIZES[size], variation)
    out = Path(out_dir)
    _prepare_folder(out, n, overwrite)
    with_t2 = set(choose_t2_patients(seed, n, n_t2))
    folders = []
    for index in range(n):
        started = time.perf_counter()
        patient = simulate_patient(seed, index, acquisition, index in with_t2, ct_dtype, variation)
        folder = out / patient.patient_id
        try:
            write_patient(patient, folder)
        except OSError as e:  # disk full, read-only file system, ...: nothing half-written stays
            raise UserError(f"cannot write {folder}: {e.strerror or e}") from e
        folders.append(folder)
        if progress:
            scans = "T1, T2, CT" if index in with_t2 else "T1, CT"
            progress(f"{folder} ({scans}) {time.perf_counter() - started:.1f} s")
    return folders


def _check_arguments(n: int, seed: int, size: str, n_t2: int, ct_dtype: str) -> None:
    if n < 1:
        raise UserError(f"the number of patients must be at least 1 (got {n})")
    if seed < 0:
        raise UserError(f"the seed must be a non-negative integer (got {seed})")
    if size not in SIZES:
        raise UserError(f"unknown phantom size {size!r}; choose one of {', '.join(SIZES)}")
    if not 0 <= n_t2 <= n:
        raise UserError(f"the number of patients with T2 must be between 0 and {n} (got {n_t2})")
    if ct_dtype not in CT_DTYPES:
        raise UserError(f"unknown CT storage type {ct_dtype!r}; choose one of {', '.join(CT_DTYPES)}")


def _prepare_folder(out: Path, n: int, overwrite: bool) -> None:
    writable_folder(out)
    leftovers = [e for e in out.iterdir() if LEFTOVER_FOLDER.fullmatch(e.name)]
    if len(leftovers) < len(list(out.iterdir())) and not overwrite:
        raise UserError(f"the output folder {out} is not empty; pass --overwrite to replace the phantom in it")
    for entry in out.iterdir():
        patient = PATIENT_FOLDER.fullmatch(entry.name)
        stale = patient and int(patient.group(1)) >= n and (entry / "phantom.json").is_file()
        if stale or entry in leftovers:
            shutil.rmtree(entry)
