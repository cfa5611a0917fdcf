"""Bulk-density pseudo-CT from predicted T2 labels against the true CT, next to a water-only one.

    python benchmarks/pseudo_ct.py                               # quick T2 model on a small phantom, CPU
    python benchmarks/pseudo_ct.py --model model.zip --phantom DIR  # a given model on a given phantom
    python benchmarks/pseudo_ct.py --epochs 30 --iterations 24   # a model that learns bone (results/)
    python benchmarks/pseudo_ct.py --model M --patients 3 --test-fraction 1  # no training at all

Without ``--model`` a T2 model is trained first, through the stock commands in temporary nnU-Net
folders (``SEUNetTrainer``, demo plans, fold ``all``, no test-time mirroring, 10 epochs of 20
iterations by default), on the T2 scans of the first 70 % of the phantom's patients with the
phantom's true labels. The other patients are the test patients: each one's T2 scan goes through
``nnunet-t1t2 predict``'s library with the default HU per class
(``nnunet_t1t2.prediction.pseudo_ct.DEFAULT_HU``, from the literature, not fitted to the phantom).

The reference is the phantom's own CT, brought onto the T2 grid with the true transform recorded
in ``phantom.json`` (``ct_from_t2 = ct_from_t1 @ inv(t2_from_t1)``, linear interpolation), so no
registration error enters. Mean absolute error (HU) inside the head (the phantom's true labels on
the T2 grid, not background) for:

* predicted: bulk HU of the predicted labels (what ``predict --pseudo-ct`` writes);
* true labels: the same bulk HU on the true labels (the best any bulk-density pseudo-CT with these
  HU can do, so the gap to it is the segmentation's share of the error);
* water: 0 HU everywhere inside the head.

Ratios are printed side by side in one run, with seconds per case (reading, inference, writing), and
each test patient's bone Dice, since the comparison only speaks for a model that has learned bone
(mean bone Dice at least :data:`LEARNED_BONE_DICE`; the results say whether it has). Results, with
date, commit and machine, go to ``benchmarks/results/pseudo_ct.json`` (``--json``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.reading import read_ct
from nnunet_t1t2.evaluation import confusion_counts, mean_absolute_error_hu, metrics_from_counts
from nnunet_t1t2.labels import BONE, LABELS
from nnunet_t1t2.prediction.inputs import Case
from nnunet_t1t2.prediction.model import check_model, default_cache, find_model, load_predictor
from nnunet_t1t2.prediction.pseudo_ct import DEFAULT_HU, choose_hu, pseudo_ct
from nnunet_t1t2.prediction.runner import Options, predict_cases

from provenance import provenance

BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "results" / "pseudo_ct.json"
#: The mean bone Dice of the test patients from which a model counts as having learned bone (issue 23).
LEARNED_BONE_DICE = 0.7
T2_ID = 932
PLANS, CONFIG, TRAINER, FOLD = "nnUNetPlans_demo", "3d_fullres", "SEUNetTrainer", "all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model zip or folder [train a quick T2 model]")
    parser.add_argument("--phantom", type=Path, help="phantom folder to use, or to create [temporary]")
    parser.add_argument("--patients", type=int, default=10, help="phantom patients, all with T2 [10]")
    parser.add_argument("--test-fraction", type=float, default=0.3, help="T2 patients held out [0.3]")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=20, help="per epoch [20]")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file [{RESULTS}]")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        environment = {**os.environ, "nnUNet_raw": str(scratch / "raw"),
                       "nnUNet_preprocessed": str(scratch / "preprocessed"),
                       "nnUNet_results": str(scratch / "results")}
        phantom = args.phantom or scratch / "phantom"
        if not phantom.is_dir() or not any(phantom.glob("phantom_*")):
            run(environment, "nnunet-t1t2", "phantom", "--out", str(phantom), "--n", str(args.patients),
                "--n-t2", str(args.patients), "--seed", "11", "--size", "small")
        with_t2 = sorted(p.name for p in phantom.glob("phantom_*") if (p / "t2.nii.gz").is_file())
        n_test = max(1, round(args.test_fraction * len(with_t2)))
        patients, training = with_t2[-n_test:], with_t2[:-n_test]
        model_folder = Path(args.model) if args.model else train_quick_model(environment, phantom, training, args)
        rows = evaluate(phantom, patients, model_folder, scratch / "predicted", args.device)
    report(rows, args)


def run(environment: dict, *command: str) -> None:
    print("$", " ".join(command), flush=True)
    result = subprocess.run([str(BIN / command[0]), *command[1:]], env=environment, capture_output=True,
                            encoding="utf-8", errors="replace")
    if result.returncode:
        raise SystemExit(f"{command[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def train_quick_model(environment: dict, phantom: Path, training: list[str], args) -> Path:
    """A T2 model trained from scratch with a short schedule on the CPU (demo plans), on the
    training patients' T2 scans with the phantom's true labels (the conversion's label definition,
    without its registration, which is not what this benchmark measures)."""
    from nnunetv2.dataset_conversion.generate_dataset_json import generate_dataset_json

    raw = Path(environment["nnUNet_raw"]) / f"Dataset{T2_ID}_PseudoCTT2"
    for folder in ("imagesTr", "labelsTr"):
        (raw / folder).mkdir(parents=True)
    for patient in training:
        shutil.copy(phantom / patient / "t2.nii.gz", raw / "imagesTr" / f"{patient}_0000.nii.gz")
        shutil.copy(phantom / patient / "truth_t2.nii.gz", raw / "labelsTr" / f"{patient}.nii.gz")
    generate_dataset_json(str(raw), {0: "T2"}, LABELS, len(training), ".nii.gz", dataset_name=raw.name)
    run(environment, "nnUNetv2_plan_and_preprocess", "-d", str(T2_ID), "-c", CONFIG, "-np", "1", "-npfp", "1")
    run(environment, "nnunet-t1t2", "plans", "demo", "-d", str(T2_ID))
    run(environment, "nnUNetv2_preprocess", "-d", str(T2_ID), "-plans_name", PLANS, "-c", CONFIG, "-np", "1")
    schedule = {"NNUNET_T1T2_EPOCHS": str(args.epochs), "NNUNET_T1T2_ITERATIONS": str(args.iterations),
                "NNUNET_T1T2_VAL_ITERATIONS": "2", "NNUNET_T1T2_MIRRORING": "0", "nnUNet_n_proc_DA": "0",
                "nnUNet_def_n_proc": "1", "nnUNet_compile": "f"}
    run({**environment, **schedule}, "nnUNetv2_train", str(T2_ID), CONFIG, FOLD, "-tr", TRAINER, "-p", PLANS,
        "-device", args.device)
    return next(Path(environment["nnUNet_results"]).glob(f"Dataset{T2_ID}_*/{TRAINER}__{PLANS}__{CONFIG}"))


def evaluate(phantom: Path, patients: list[str], model_path: Path, out: Path, device: str) -> list[dict]:
    model = check_model(find_model(str(model_path), None, None, None, None, default_cache()), None)
    predictor = load_predictor(model, device, use_mirroring=False)
    cases = [Case(p, phantom / p / "t2.nii.gz", "nifti") for p in patients]
    results = predict_cases(cases, predictor, model, Options(out, hu=choose_hu(), qc=False))
    rows = []
    for result in results:
        if result.error:
            raise SystemExit(result.error)
        patient = phantom / result.case.name
        true_ct = true_ct_on_t2_grid(patient)
        truth = sitk.GetArrayFromImage(sitk.ReadImage(str(patient / "truth_t2.nii.gz")))
        head = truth != LABELS["background"]
        ct = sitk.GetArrayFromImage(true_ct)[head]
        predicted = sitk.GetArrayFromImage(sitk.ReadImage(str(out / f"{result.case.name}_pseudo_ct.nii.gz")))[head]
        labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out / f"{result.case.name}.nii.gz")))
        bone = confusion_counts(labels, truth, BONE)
        from_truth = sitk.GetArrayFromImage(pseudo_ct(sitk.ReadImage(str(patient / "truth_t2.nii.gz")), LABELS,
                                                      DEFAULT_HU))[head]
        rows.append({
            "patient": result.case.name, "seconds": round(result.seconds, 2),
            "bone_dice": metrics_from_counts(bone["TP"], bone["FP"], bone["FN"])["Dice"],
            "mae_hu": {"predicted": mae(predicted, ct), "true_labels": mae(from_truth, ct),
                       "water": mae(np.zeros_like(ct), ct)},
            "true_ct_mean_hu_per_true_class": {
                name: round(float(sitk.GetArrayFromImage(true_ct)[truth == value].mean()), 1)
                for name, value in LABELS.items() if value and np.any(truth == value)},
        })
    return rows


def true_ct_on_t2_grid(patient: Path) -> sitk.Image:
    """The phantom's CT in HU resampled onto its T2 grid with the recorded (true) transform."""
    transforms = json.loads((patient / "phantom.json").read_text(encoding="utf-8"))["transforms"]
    ct_from_t2 = np.array(transforms["ct_from_t1"]["matrix"]) @ np.linalg.inv(transforms["t2_from_t1"]["matrix"])
    t2 = sitk.ReadImage(str(patient / "t2.nii.gz"))
    ct = read_ct(patient / "ct.nii.gz", patient.name)
    # An affine transform: the recorded matrices are rounded, too far from orthogonal for Euler3DTransform.
    transform = sitk.AffineTransform(ct_from_t2[:3, :3].ravel().tolist(), ct_from_t2[:3, 3].tolist())
    return sitk.Resample(ct, t2, transform, sitk.sitkLinear, -1000.0, sitk.sitkFloat32)


def mae(estimate: np.ndarray, reference: np.ndarray) -> float:
    return round(mean_absolute_error_hu(estimate, reference), 1)


def report(rows: list[dict], args) -> None:
    hu = ", ".join(f"{k} {v:+d}" for k, v in DEFAULT_HU.items())
    print(f"\nbulk HU: {hu}; MAE (HU) inside the head against the true CT; {len(rows)} T2 test patients")
    print(f"{'patient':<14}{'bone Dice':>10}{'predicted':>10}{'true labels':>12}{'water':>8}{'water/pred':>11}"
          f"{'s/case':>8}")
    for row in rows:
        m = row["mae_hu"]
        print(f"{row['patient']:<14}{row['bone_dice'] or 0:>10.3f}{m['predicted']:>10.1f}{m['true_labels']:>12.1f}"
              f"{m['water']:>8.1f}{m['water'] / m['predicted']:>11.2f}{row['seconds']:>8.1f}")
    mean = {k: float(np.mean([r["mae_hu"][k] for r in rows])) for k in ("predicted", "true_labels", "water")}
    seconds = float(np.mean([r["seconds"] for r in rows]))
    bone_dice = float(np.mean([r["bone_dice"] or 0.0 for r in rows]))
    print(f"{'mean':<14}{bone_dice:>10.3f}{mean['predicted']:>10.1f}{mean['true_labels']:>12.1f}{mean['water']:>8.1f}"
          f"{mean['water'] / mean['predicted']:>11.2f}{seconds:>8.1f}")
    print(f"predicted / true-label pseudo-CT MAE: {mean['predicted'] / mean['true_labels']:.2f}; "
          f"true CT mean HU per true class (first patient): {rows[0]['true_ct_mean_hu_per_true_class']}")
    learned = bone_dice >= LEARNED_BONE_DICE
    if not learned:
        print(f"the model has not learned bone (mean bone Dice {bone_dice:.3f} < {LEARNED_BONE_DICE}): "
              f"train longer (--epochs, --iterations) for a comparison that speaks for a working model")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({**provenance(), "rows": rows, "mean_mae_hu": mean, "mean_bone_dice": bone_dice,
                                     "learned_bone": learned, "seconds_per_case": seconds, "hu": DEFAULT_HU,
                                     "model": args.model or "quick", "epochs": args.epochs,
                                     "iterations": args.iterations, "patients": args.patients}, indent=2) + "\n",
                         encoding="utf-8")
    print(f"results in {args.json}")


if __name__ == "__main__":
    main()
