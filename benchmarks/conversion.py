"""Conversion time per patient at the paper's geometry, every stage separately and all of them together.

    python benchmarks/conversion.py                          # 2 paper-size phantom patients, 2 threads
    python benchmarks/conversion.py --phantom /data/paper2   # reuse (or create) a phantom folder
    python benchmarks/conversion.py --size small --patients 8

The phantom's paper size copies the paper's scans (MR 256x256x250 at 0.86x0.86x1 mm, CT
512x512x150 at 0.97x0.97x1.5 mm). Every patient has a T1, one of them also a T2, so both kinds of
patient are timed. The conversion runs in one process (``-np 1``) with ``--threads`` SimpleITK
threads, into temporary nnU-Net folders, and the times are the pipeline's own per stage:

* reading: the CT and MR files, with their checks;
* registration: MR head mask and CT-to-MR registration, per MR image;
* registration check: restarts, sharpness, mirrored CT and the other patients' CTs, per MR image;
* labelling: CT resampled onto the MR grid, CT head mask, labels and quality figures;
* writing: the case's NIfTI files and QC overlay (into the T1 and the T1T2 data set).

Target: every stage together <= 15 s per patient on 2 cores. Wall-clock times on a shared
machine stretch with its load (printed alongside); the CPU seconds (both threads together) do not,
and bound the wall-clock time of an otherwise idle machine from above.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import SimpleITK as sitk

from nnunet_t1t2.conversion import DatasetIds, SplitProtocol, convert
from nnunet_t1t2.conversion.pipeline import STAGES
from nnunet_t1t2.phantom import generate_phantom

TARGET_SECONDS = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="paper", choices=["paper", "small"])
    parser.add_argument("--patients", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="SimpleITK threads [2]")
    parser.add_argument("--phantom", type=Path, help="phantom folder to reuse, or to create [temporary]")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.threads)

    with tempfile.TemporaryDirectory() as scratch:
        phantom = args.phantom or Path(scratch) / "phantom"
        if not phantom.is_dir() or not any(phantom.glob("phantom_*")):
            print(f"generating {args.patients} {args.size} phantom patients in {phantom} ...")
            generate_phantom(phantom, args.patients, seed=0, size=args.size, n_t2=1)
        for name in ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results"):
            os.environ[name] = str(Path(scratch) / name)
        load_before = os.getloadavg()[0]
        summary = convert(phantom, "paired", DatasetIds(t1=901, t1t2=903), name="Benchmark",
                          protocol=SplitProtocol(folds=1, t1_test_fraction=0.0))
        load_after = os.getloadavg()[0]
        images = {patient: 1 + (phantom / patient / "t2.nii.gz").is_file() for patient in summary.clocks}
    if summary.failed:
        raise SystemExit(summary.report())

    print(f"\n{args.size} phantom, {args.threads} SimpleITK threads, load average {load_before:.1f} -> "
          f"{load_after:.1f} on {os.cpu_count()} cores; seconds per patient, wall-clock (CPU, all threads):")
    print(f"{'patient':<14}{'MR':>3}" + "".join(f"{stage:>16}" for stage in STAGES) + f"{'all stages':>16}")
    rows = []
    for patient, clock in sorted(summary.clocks.items()):
        row = {"patient": patient, "mr_images": images[patient],
               "wall": {stage: round(clock.wall[stage], 2) for stage in STAGES},
               "cpu": {stage: round(clock.cpu[stage], 2) for stage in STAGES}}
        for kind in ("wall", "cpu"):
            row[kind]["all_stages"] = round(sum(row[kind][stage] for stage in STAGES), 2)
        rows.append(row)
        columns = (*STAGES, "all_stages")
        print(f"{patient:<14}{row['mr_images']:>3}"
              + "".join(f"{row['wall'][stage]:>9.1f} ({row['cpu'][stage]:>4.1f})" for stage in columns))
    worst = {kind: max(row[kind]["all_stages"] for row in rows) for kind in ("wall", "cpu")}
    print(f"every stage ({', '.join(STAGES)}) per patient: at most {worst['wall']:.1f} s wall-clock, {worst['cpu']:.1f} "
          f"CPU seconds (target <= {TARGET_SECONDS:g} s on 2 cores)")
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "threads": args.threads, "cores": os.cpu_count(),
                                         "load_average": [load_before, load_after], "patients": rows}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
