"""False-reject and false-accept rates of the conversion's registration check over phantom acquisitions.

For every acquisition (MR voxel size and slice thickness) a few phantom patients are generated; each
of their MR images (T1 and T2, bias field, noise, head rest on the CT) is registered as the
conversion does it, and the check then judges:

* the pose the registration found ("none"), and that pose moved by 3, 5, 10, 20 mm (random
  direction) or rotated by 5, 10, 20 degrees about the head (random axis): a registration that
  ended there;
* another patient's CT, registered as the conversion would, in two data sets: one where the two
  patients' CTs are swapped (the MR's own CT is among the other patients' CTs it is compared with),
  and one where the MR's own CT is missing (only CTs of other heads to compare with); and the
  left-right flipped CT.

Every MR image is compared with the CTs of the other patients in its data set, as the conversion
does (``--compare-with``, all of them here); their fits do not depend on the pose judged.

Every pose's true error (mean displacement over the head against the phantom's recorded
transform) decides what the right answer was: within one MR voxel (largest edge) it must be
accepted; at 10 mm or 10 degrees and more, another patient or flipped it must be refused.

    python benchmarks/registration_qc.py [--patients 4] [--acquisitions 1x1 2x2 3x3 4x4 1x6 4x6] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion import ConversionSettings
from nnunet_t1t2.conversion.case import checked_registration, labels_from_ct
from nnunet_t1t2.conversion.other_patients import OtherPatientsFit, fit_of_other_patients
from nnunet_t1t2.conversion.quality import quality_problems, registration_quality
from nnunet_t1t2.conversion.reading import read_ct, read_mr
from nnunet_t1t2.conversion.registration import Registration, RegistrationProblem, register
from nnunet_t1t2.conversion.registration_check import head_points, mean_displacement, moved_pose, check_pose, \
    mirrored_left_right
from nnunet_t1t2.conversion.tissue import mr_head_mask
from nnunet_t1t2.phantom import PhantomVariation, generate_phantom

from provenance import provenance

SHIFTS_MM = (3, 5, 10, 20)
ROTATIONS_DEG = (5, 10, 20)
SWAPPED, MISSING = "other CT, swapped", "other CT, own missing"
FOUND = (SWAPPED, MISSING, "flipped CT")
MUST_REFUSE = {"shift 10 mm", "shift 20 mm", "rotation 10 deg", "rotation 20 deg", SWAPPED, MISSING, "flipped CT"}


def true_transform(patient: Path, modality: str) -> sitk.AffineTransform:
    """MR physical point -> CT physical point, from the phantom's record."""
    transforms = json.loads((patient / "phantom.json").read_text(encoding="utf-8"))["transforms"]
    matrix = np.array(transforms["ct_from_t1"]["matrix"])
    if modality == "t2":
        matrix = matrix @ np.linalg.inv(np.array(transforms["t2_from_t1"]["matrix"]))
    return sitk.AffineTransform(matrix[:3, :3].ravel().tolist(), matrix[:3, 3].tolist())


def judged(problem: RegistrationProblem, registration: Registration, others: OtherPatientsFit,
           settings: ConversionSettings, found: bool) -> tuple[list, dict, Registration]:
    """The verdict on a pose; a pose the registration ``found`` is checked as the conversion checks it
    (continuing from a better optimum the restarts find), a given one as it is. ``others`` holds the
    other patients' fits; the CT's own (at the pose or the optimum its check found) is measured here."""
    tolerance = settings.quality.tolerance_mm(problem.mr)
    if found:
        registration, pose = checked_registration(problem, registration, tolerance, "benchmark")
    else:
        pose = check_pose(problem, registration, tolerance, "benchmark")
    others = replace(others, fit=max(problem.similarity(t) for t in (registration.transform, pose.optimum)))
    labels, head, _, _ = labels_from_ct(problem.mr, problem.mr_head, problem.ct, registration, settings.thresholds,
                                        tolerance)
    quality = registration_quality(problem.mr, problem.mr_head, head, labels, tolerance)
    figures = {**pose.record(), **others.record()}
    return quality_problems({**quality, **figures}, settings.quality), figures, registration


def compared(problem: RegistrationProblem, registration: Registration, cts: list[sitk.Image], indices: list[int],
             seconds: list[float]) -> OtherPatientsFit:
    """The fits of the CTs ``indices`` of ``cts`` to the problem's MR, timed per CT into ``seconds``."""
    started = time.process_time()
    others = fit_of_other_patients(problem, [registration.transform], {str(i): cts[i] for i in indices}, "benchmark")
    seconds += [(time.process_time() - started) / max(1, len(indices))] * len(indices)
    return others


def cases(mr: sitk.Image, cts: list[sitk.Image], own: int, rng: np.random.Generator, seconds: list[float],
          costs: dict[str, list[float]]):
    """(name, problem, registration, other patients' fits) for every pose the benchmark judges on one
    MR image of patient ``own`` of the data set whose CTs are ``cts``; the time of each comparison with
    another patient's CT goes to ``seconds``, the CPU seconds of the registration and of the check as
    the conversion runs it (with ``ConversionSettings().quality.compared_patients`` other CTs) to ``costs``."""
    head = mr_head_mask(mr)
    settings = ConversionSettings()
    ct, wrong = cts[own], (own + 1) % len(cts)
    started = time.process_time()
    problem = RegistrationProblem.prepare(mr, ct, head, settings.registration)
    registered = register(problem, "benchmark")
    costs["registration"].append(time.process_time() - started)
    # the pose the conversion ends with (continued from a better optimum where the restarts found one)
    started = time.process_time()
    found, _ = checked_registration(problem, registered, settings.quality.tolerance_mm(mr), "benchmark")
    checked = time.process_time() - started
    others = compared(problem, found, cts, [i for i in range(len(cts)) if i != own], seconds)
    costs["check"].append(checked + settings.quality.compared_patients * seconds[-1])
    yield "none", problem, found, others
    centre = problem.head_centre()
    for shift in SHIFTS_MM:
        direction = rng.normal(size=3)
        yield (f"shift {shift} mm", problem,
               Registration(moved_pose(found.transform, centre, shift * direction / np.linalg.norm(direction), direction, 0)),
               others)
    for angle in ROTATIONS_DEG:
        yield (f"rotation {angle} deg", problem,
               Registration(moved_pose(found.transform, centre, np.zeros(3), rng.normal(size=3), angle)), others)
    other = RegistrationProblem.prepare(mr, cts[wrong], head, problem.settings)
    registered = register(other, "benchmark")
    # The data set either holds the MR's own CT under the other patient's name, or not at all.
    yield SWAPPED, other, registered, compared(other, registered, cts, [i for i in range(len(cts)) if i != wrong], [])
    yield MISSING, other, registered, compared(other, registered, cts,
                                               [i for i in range(len(cts)) if i not in (own, wrong)], [])
    flipped = RegistrationProblem.prepare(mr, mirrored_left_right(ct), head, problem.settings)
    yield "flipped CT", flipped, register(flipped, "benchmark"), others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=4,
                        help="patients per acquisition (half with T2; at least 3, so that a CT from outside is "
                             "compared with another) [4]")
    parser.add_argument("--acquisitions", nargs="+", default=["1x1", "2x2", "3x3", "4x4", "1x6", "4x6"],
                        help="MR in-plane voxel x slice thickness in mm [1x1 2x2 3x3 4x4 1x6 4x6]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every verdict and cost here")
    parser.add_argument("--baseline", type=Path,
                        help="a --json file of another version of the check on the same settings: its verdicts "
                             "and costs are printed beside this run's")
    args = parser.parse_args()
    settings = ConversionSettings()
    rng = np.random.default_rng(args.seed)
    outcomes: dict[str, list[bool]] = defaultdict(list)
    by_truth: dict[str, list[bool]] = defaultdict(list)
    seconds, comparison_seconds = [], []
    costs: dict[str, list[float]] = defaultdict(list)
    verdicts = []
    print(f"{'acquisition':<12} {'image':<16} {'case':<22} {'true error mm':>13} {'uncertainty':>11} "
          f"{'sharpness':>9} {'mirror':>7} {'other/own':>9}  verdict")
    with tempfile.TemporaryDirectory() as tmp:
        for acquisition in args.acquisitions:
            voxel, slice_mm = (float(v) for v in acquisition.split("x"))
            folder = Path(tmp) / acquisition
            patients = generate_phantom(folder, args.patients, seed=args.seed + 11, size="small",
                                        n_t2=max(1, args.patients // 2),
                                        variation=PhantomVariation(mr_voxel_mm=voxel, slice_mm=slice_mm))
            cts = [read_ct(patient / "ct.nii.gz", patient.name) for patient in patients]
            for index, patient in enumerate(patients):
                for modality in ("t1", "t2"):
                    if not (patient / f"{modality}.nii.gz").is_file():
                        continue
                    mr = read_mr(patient / f"{modality}.nii.gz", patient.name)
                    points = head_points(mr_head_mask(mr))
                    voxel_edge = max(mr.GetSpacing())
                    for name, problem, registration, others in cases(mr, cts, index, rng, comparison_seconds, costs):
                        started = time.process_time()
                        problems, figures, registration = judged(problem, registration, others, settings,
                                                                 found=name in FOUND)
                        seconds.append(time.process_time() - started)
                        refused = bool(problems)
                        error = None
                        if name not in FOUND:
                            error = mean_displacement(registration.transform, true_transform(patient, modality),
                                                       points)
                            if error <= voxel_edge:
                                by_truth["within one voxel (must accept)"].append(refused)
                        if name in MUST_REFUSE:
                            by_truth["10 mm / 10 deg / wrong / flipped (must refuse)"].append(refused)
                        outcomes[name].append(refused)
                        verdicts.append({"acquisition": acquisition, "image": f"{patient.name} {modality}",
                                         "case": name, "problems": problems, "figures": figures})
                        closest = max((s for s in others.others.values() if s is not None), default=float("nan"))
                        print(f"{acquisition:<12} {patient.name + ' ' + modality:<16} {name:<22} "
                              f"{'' if error is None else f'{error:.2f}':>13} {figures['uncertainty_mm']:>11.2f} "
                              f"{figures['sharpness']:>9.3f} {figures['mirror_gain']:>7.3f} "
                              f"{closest / figures['similarity']:>9.3f}  {'REFUSED' if refused else 'accepted'}",
                              flush=True)
    print("\nRefusal rate per case (all acquisitions):")
    for name, refusals in outcomes.items():
        print(f"  {name:<22} {100 * np.mean(refusals):5.1f} % of {len(refusals)}")
    print("\nAgainst the truth:")
    accept = by_truth["within one voxel (must accept)"]
    refuse = by_truth["10 mm / 10 deg / wrong / flipped (must refuse)"]
    print(f"  false-reject rate (within one voxel, refused): {100 * np.mean(accept):.1f} % of {len(accept)} (target 0 %)")
    print(f"  false-accept rate (must refuse, accepted):     {100 * (1 - np.mean(refuse)):.1f} % of {len(refuse)} "
          f"(target 0 %)")
    print(f"\nCPU seconds per check: median {np.median(seconds):.1f}, max {np.max(seconds):.1f}; per comparison "
          f"with another patient's CT: median {np.median(comparison_seconds):.1f}, max {np.max(comparison_seconds):.1f}")
    print(f"CPU seconds per MR image: registration median {np.median(costs['registration']):.2f}, check as the "
          f"conversion runs it median {np.median(costs['check']):.2f}")
    results = {"provenance": provenance(), "costs": costs, "false_reject": [int(np.sum(accept)), len(accept)],
               "false_accept": [int(len(refuse) - np.sum(refuse)), len(refuse)], "verdicts": verdicts}
    if args.baseline:
        print_beside(json.loads(args.baseline.read_text(encoding="utf-8")), results)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **results}, indent=1),
                             encoding="utf-8")


def print_beside(baseline: dict, results: dict) -> None:
    """The verdicts that differ between ``baseline`` and this run, and both runs' error counts and costs."""
    before = {(v["acquisition"], v["image"], v["case"]): v for v in baseline["verdicts"]}
    print(f"\nBeside the baseline ({baseline.get('provenance', {}).get('commit', 'unknown commit')}):")
    for verdict in results["verdicts"]:
        old = before.get((verdict["acquisition"], verdict["image"], verdict["case"]))
        if old is not None and bool(old["problems"]) != bool(verdict["problems"]):
            print(f"  {verdict['acquisition']} {verdict['image']} {verdict['case']}: baseline "
                  f"{'REFUSED' if old['problems'] else 'accepted'}, now {'REFUSED' if verdict['problems'] else 'accepted'}")
    same = sum(1 for v in results["verdicts"] if (key := (v["acquisition"], v["image"], v["case"])) in before
               and bool(before[key]["problems"]) == bool(v["problems"]))
    print(f"  same verdict on {same} of {len(results['verdicts'])} cases")
    print(f"  {'':<28}{'baseline':>12}{'this run':>12}")
    for name in ("false_reject", "false_accept"):
        print(f"  {name.replace('_', '-') + 's':<28}" + "".join(f"{r[name][0]:>7} of {r[name][1]:<2}" for r in (baseline, results)))
    for name in ("registration", "check"):
        print(f"  {'CPU s per image, ' + name:<28}" + "".join(f"{np.median(r['costs'][name]):>12.2f}"
                                                             for r in (baseline, results)))


if __name__ == "__main__":
    main()
