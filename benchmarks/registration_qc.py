"""False-reject and false-accept rates of the conversion's registration check over phantom acquisitions.

For every acquisition (MR voxel size and slice thickness) a few phantom patients are generated; each
of their MR images (T1 and T2, bias field, noise, head rest on the CT) is registered as the
conversion does it, and the check then judges:

* the pose the registration found ("none"), and that pose moved by 3, 5, 10, 20 mm (random
  direction) or rotated by 5, 10, 20 degrees about the head (random axis): a registration that
  ended there;
* another patient's CT and the left-right flipped CT, each registered as the conversion would.

Every pose's true error (mean displacement over the head against the phantom's recorded
transform) decides what the right answer was: within one MR voxel (largest edge) it must be
accepted; at 10 mm or 10 degrees and more, another patient or flipped it must be refused.

    python benchmarks/registration_qc.py [--patients 2] [--acquisitions 1x1 2x2 3x3 4x4 1x6 4x6] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion import ConversionSettings
from nnunet_t1t2.conversion.case import checked_registration, labels_from_ct
from nnunet_t1t2.conversion.quality import quality_problems, registration_quality
from nnunet_t1t2.conversion.reading import read_ct, read_mr
from nnunet_t1t2.conversion.registration import Registration, RegistrationProblem, register
from nnunet_t1t2.conversion.registration_check import head_points, mean_displacement, moved_pose, check_pose, \
    mirrored_left_right
from nnunet_t1t2.conversion.tissue import mr_head_mask
from nnunet_t1t2.phantom import generate_phantom

SHIFTS_MM = (3, 5, 10, 20)
ROTATIONS_DEG = (5, 10, 20)
MUST_REFUSE = {"shift 10 mm", "shift 20 mm", "rotation 10 deg", "rotation 20 deg", "wrong patient", "flipped CT"}


def true_transform(patient: Path, modality: str) -> sitk.AffineTransform:
    """MR physical point -> CT physical point, from the phantom's record."""
    transforms = json.loads((patient / "phantom.json").read_text(encoding="utf-8"))["transforms"]
    matrix = np.array(transforms["ct_from_t1"]["matrix"])
    if modality == "t2":
        matrix = matrix @ np.linalg.inv(np.array(transforms["t2_from_t1"]["matrix"]))
    return sitk.AffineTransform(matrix[:3, :3].ravel().tolist(), matrix[:3, 3].tolist())


def judged(problem: RegistrationProblem, registration: Registration, settings: ConversionSettings,
           found: bool) -> tuple[list, dict]:
    """The verdict on a pose; a pose the registration ``found`` is checked as the conversion checks it
    (continuing from a better optimum the restarts find), a given one as it is."""
    tolerance = settings.quality.tolerance_mm(problem.mr)
    if found:
        registration, pose = checked_registration(problem, registration, tolerance, "benchmark")
    else:
        pose = check_pose(problem, registration, tolerance, "benchmark")
    labels, head, _ = labels_from_ct(problem.mr, problem.ct, registration, settings.thresholds)
    quality = registration_quality(problem.mr, problem.mr_head, head, labels)
    return quality_problems(quality, pose, settings.quality), pose.record(), registration


def cases(mr: sitk.Image, ct: sitk.Image, other_ct: sitk.Image, rng: np.random.Generator):
    """(name, problem, registration) for every pose the benchmark judges on one MR image."""
    head = mr_head_mask(mr)
    settings = ConversionSettings()
    problem = RegistrationProblem.prepare(mr, ct, head, settings.registration)
    # the pose the conversion ends with (continued from a better optimum where the restarts found one)
    found, _ = checked_registration(problem, register(problem, "benchmark"), settings.quality.tolerance_mm(mr),
                                    "benchmark")
    yield "none", problem, found
    centre = problem.head_centre()
    for shift in SHIFTS_MM:
        direction = rng.normal(size=3)
        yield (f"shift {shift} mm", problem,
               Registration(moved_pose(found.transform, centre, shift * direction / np.linalg.norm(direction), direction, 0)))
    for angle in ROTATIONS_DEG:
        yield (f"rotation {angle} deg", problem,
               Registration(moved_pose(found.transform, centre, np.zeros(3), rng.normal(size=3), angle)))
    for name, moving in (("wrong patient", other_ct), ("flipped CT", mirrored_left_right(ct))):
        other = RegistrationProblem.prepare(mr, moving, head, problem.settings)
        yield name, other, register(other, "benchmark")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2, help="patients per acquisition (half with T2) [2]")
    parser.add_argument("--acquisitions", nargs="+", default=["1x1", "2x2", "3x3", "4x4", "1x6", "4x6"],
                        help="MR in-plane voxel x slice thickness in mm [1x1 2x2 3x3 4x4 1x6 4x6]")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = ConversionSettings()
    rng = np.random.default_rng(args.seed)
    outcomes: dict[str, list[bool]] = defaultdict(list)
    by_truth: dict[str, list[bool]] = defaultdict(list)
    seconds = []
    print(f"{'acquisition':<12} {'image':<16} {'case':<16} {'true error mm':>13} {'uncertainty':>11} "
          f"{'sharpness':>9} {'mirror':>7}  verdict")
    with tempfile.TemporaryDirectory() as tmp:
        for acquisition in args.acquisitions:
            voxel, slice_mm = (float(v) for v in acquisition.split("x"))
            folder = Path(tmp) / acquisition
            patients = generate_phantom(folder, args.patients, seed=args.seed + 11, size="small",
                                        n_t2=max(1, args.patients // 2), mr_voxel_mm=voxel, slice_mm=slice_mm)
            for index, patient in enumerate(patients):
                ct = read_ct(patient / "ct.nii.gz", patient.name)
                other_ct = read_ct(patients[(index + 1) % len(patients)] / "ct.nii.gz", "other")
                for modality in ("t1", "t2"):
                    if not (patient / f"{modality}.nii.gz").is_file():
                        continue
                    mr = read_mr(patient / f"{modality}.nii.gz", patient.name)
                    points = head_points(mr_head_mask(mr))
                    voxel_edge = max(mr.GetSpacing())
                    for name, problem, registration in cases(mr, ct, other_ct, rng):
                        started = time.process_time()
                        problems, figures, registration = judged(problem, registration, settings,
                                                                 found=name in ("wrong patient", "flipped CT"))
                        seconds.append(time.process_time() - started)
                        refused = bool(problems)
                        error = None
                        if name not in ("wrong patient", "flipped CT"):
                            error = mean_displacement(registration.transform, true_transform(patient, modality),
                                                       points)
                            if error <= voxel_edge:
                                by_truth["within one voxel (must accept)"].append(refused)
                        if name in MUST_REFUSE:
                            by_truth["10 mm / 10 deg / wrong / flipped (must refuse)"].append(refused)
                        outcomes[name].append(refused)
                        print(f"{acquisition:<12} {patient.name + ' ' + modality:<16} {name:<16} "
                              f"{'' if error is None else f'{error:.2f}':>13} {figures['uncertainty_mm']:>11.2f} "
                              f"{figures['sharpness']:>9.3f} {figures['mirror_gain']:>7.3f}  "
                              f"{'REFUSED' if refused else 'accepted'}", flush=True)
    print("\nRefusal rate per case (all acquisitions):")
    for name, refusals in outcomes.items():
        print(f"  {name:<18} {100 * np.mean(refusals):5.1f} % of {len(refusals)}")
    print("\nAgainst the truth:")
    accept = by_truth["within one voxel (must accept)"]
    refuse = by_truth["10 mm / 10 deg / wrong / flipped (must refuse)"]
    print(f"  false-reject rate (within one voxel, refused): {100 * np.mean(accept):.1f} % of {len(accept)} (target 0 %)")
    print(f"  false-accept rate (must refuse, accepted):     {100 * (1 - np.mean(refuse)):.1f} % of {len(refuse)} "
          f"(target 0 %)")
    print(f"\nCPU seconds per check: median {np.median(seconds):.1f}, max {np.max(seconds):.1f}")


if __name__ == "__main__":
    main()
