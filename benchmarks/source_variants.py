"""Does the demo's T1 source schedule learn bone on heads unlike the built-in phantom's?

    nice -n 10 python benchmarks/source_variants.py [--variants default thin-skull ...] [--seeds 0 1] [--jobs 2]
    python benchmarks/source_variants.py --quick          # one variant, one seed, a two-epoch schedule

For every variant (:data:`VARIANTS`, each a :class:`~nnunet_t1t2.phantom.PhantomVariation` of the
demo's phantom) the demo's patients are generated with it, and the demo study's own steps run on
them (:mod:`nnunet_t1t2.study.steps`, the same command lines): conversion, planning with the demo
plans, then per seed the T1 source training under ``PRESETS["demo"].source_schedule``, the
prediction of the T1 test patients and their evaluation. It prints, per variant and seed, the T1
test bone Dice, the source training's wall time, its epochs and the validation pseudo Dice of bone
per epoch (how bone comes and goes), and writes them with date, commit, machine and load to
``benchmarks/results/source_variants.json``. ``--jobs`` variants run side by side, each on its own
share of the cores as the study's local workers are (nnU-Net's CPU training starts a thread per core of
the machine; unpinned, trainings side by side stall each other), so its times are those of a
training on that share.

A schedule tuned on one phantom setting is what this guards against: the demo's source schedule
has to learn bone on every variant, not just on the default.
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from queue import SimpleQueue
from statistics import fmean

from nnunet_t1t2.atomic import write_json_atomically
from nnunet_t1t2.checkpoints import load_checkpoint
from nnunet_t1t2.conversion.pipeline import default_name
from nnunet_t1t2.labels import BONE, LABELS
from nnunet_t1t2.phantom import PhantomVariation, generate_phantom
from nnunet_t1t2.study.cluster import available_cores, split
from nnunet_t1t2.study.commands import CommandRunner
from nnunet_t1t2.study.context import StudyContext
from nnunet_t1t2.study.layout import StudyLayout, source_model
from nnunet_t1t2.study.protocol import PRESETS, make_protocol
from nnunet_t1t2.study.results import StudyResults
from nnunet_t1t2.study.runner import MAX_PREPROCESSING_PROCESSES
from nnunet_t1t2.study.steps import ConvertStep, EvaluateStep, PlanStep, PredictStep, TrainStep
from nnunet_t1t2.training.patience import monitored_history

from provenance import provenance

VARIANTS = {
    "default": PhantomVariation(),
    "1.5mm-isotropic": PhantomVariation(mr_voxel_mm=1.5, slice_mm=1.5),
    "3x3x6mm-slices": PhantomVariation(mr_voxel_mm=3.0, slice_mm=6.0),
    "thin-skull": PhantomVariation(skull_scale=0.6),
    "dark-marrow-wide-diploe": PhantomVariation(marrow_t1_contrast=0.25, table_scale=0.5),
    "noise-x3-bias-x3": PhantomVariation(noise_scale=3.0, bias_scale=3.0),
    "small-head-2.6mm": PhantomVariation(head_scale=0.85, mr_voxel_mm=2.6, slice_mm=3.0),
    "large-head": PhantomVariation(head_scale=1.15),
}
QUICK_VARIANT = "thin-skull"
QUICK_SCHEDULE = {"NNUNET_T1T2_EPOCHS": "2", "NNUNET_T1T2_ITERATIONS": "2", "NNUNET_T1T2_VAL_ITERATIONS": "1"}
RESULTS = Path(__file__).resolve().parent / "results" / "source_variants.json"
BONE_KEY = str(BONE)


def study_context(out: Path, seeds: list[int], environ: dict[str, str]) -> StudyContext:
    """The demo study's context for a phantom in ``out/phantom``, as ``nnunet-t1t2 study`` builds it."""
    protocol = make_protocol("demo", seeds=seeds, environ=environ)
    layout = StudyLayout(out, default_name(out / "phantom"), protocol.plans_name)
    runner = CommandRunner.for_study(layout.raw, layout.preprocessed, layout.results, "cpu")
    return StudyContext(protocol, layout, runner, layout.phantom,
                        workers=min(os.cpu_count() or 1, MAX_PREPROCESSING_PROCESSES))


def prepare(context: StudyContext, variation: PhantomVariation) -> None:
    """The demo's phantom with ``variation``, converted and planned (T1) as the demo study does it."""
    spec = context.protocol.phantom
    generate_phantom(context.data, spec.patients, seed=spec.seed, size=spec.size, n_t2=spec.t2_patients,
                     overwrite=True, variation=variation)
    ConvertStep().run(context)
    PlanStep("T1").run(context)


def validation_bone_dice(context: StudyContext, seed: int) -> list[float]:
    """The validation pseudo Dice of bone per epoch, from nnU-Net's log in the final checkpoint."""
    folder = context.layout.fold_folder(source_model(context.protocol, seed))
    logged = load_checkpoint(folder / "checkpoint_final.pth")["logging"]
    foreground = [value for name, value in LABELS.items() if name != "background"]
    return [round(d, 3) for d in monitored_history(logged["dice_per_class_or_region"], LABELS, foreground)[1]]


def train_and_test(context: StudyContext, seed: int) -> dict:
    """One seed's source training, timed, and its T1 test bone Dice."""
    model = source_model(context.protocol, seed)
    started = time.perf_counter()
    TrainStep(model, None).run(context)
    seconds = time.perf_counter() - started
    PredictStep(model, "T1").run(context)
    EvaluateStep(model, "T1").run(context)
    results = StudyResults(context.layout, context.protocol)
    patients = results.per_patient_values("source", "T1", BONE_KEY)[(seed, model.fold)]
    convergence = results.convergence(model)
    return {"seed": seed, "bone_dice": round(fmean(v for v in patients.values() if v is not None), 4),
            "bone_dice_per_patient": {case: None if v is None else round(v, 4) for case, v in patients.items()},
            "train_seconds": round(seconds, 1), "epochs": convergence["epochs_trained"],
            "validation_bone_dice_per_epoch": validation_bone_dice(context, seed)}


def run_variant(name: str, out: Path, seeds: list[int], environ: dict[str, str]) -> list[dict]:
    context = study_context(out / name, seeds, environ)
    started = time.perf_counter()
    prepare(context, VARIANTS[name])
    print(f"{name}: phantom, conversion and planning {time.perf_counter() - started:.0f} s", flush=True)
    rows = []
    for seed in seeds:
        row = {"variant": name, **train_and_test(context, seed)}
        print(f"{name}, seed {seed}: bone Dice {row['bone_dice']:.3f}, source training {row['train_seconds']:.0f} s, "
              f"{row['epochs']} epochs, validation bone per epoch {row['validation_bone_dice_per_epoch']}",
              flush=True)
        rows.append(row)
    return rows


def pin_to_a_share(shares: SimpleQueue) -> None:
    """A job's thread takes one share of the cores; the commands it starts inherit it (Linux sets the
    affinity of the calling thread, and a child process starts with its parent thread's)."""
    os.sched_setaffinity(0, shares.get())


def table(rows: list[dict]) -> str:
    lines = [f"{'variant':<26}{'seed':>5}{'bone Dice':>11}{'train [s]':>11}{'epochs':>8}"]
    lines += [f"{r['variant']:<26}{r['seed']:>5}{r['bone_dice']:>11.3f}{r['train_seconds']:>11.0f}{r['epochs']:>8}"
              for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--quick", action="store_true",
                        help=f"only {QUICK_VARIANT}, seed 0, {QUICK_SCHEDULE} (checks the benchmark itself)")
    parser.add_argument("--jobs", type=int, default=1, help="variants run side by side [1]")
    parser.add_argument("--out", type=Path, default=Path("source_variants"), help="working folder (kept)")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"results file [{RESULTS}]")
    args = parser.parse_args()
    variants, seeds, environ = (([QUICK_VARIANT], [0], QUICK_SCHEDULE) if args.quick
                                else (args.variants, args.seeds, {}))
    record = {**provenance(), "quick": args.quick,
              "source_schedule": dict(make_protocol("demo", environ=environ).source_schedule),
              "plans": PRESETS["demo"].plans_name,
              "phantom": asdict(PRESETS["demo"].phantom),
              "variants": {name: VARIANTS[name].to_json() for name in variants}}
    started = time.perf_counter()
    rows = []
    args.results.parent.mkdir(parents=True, exist_ok=True)
    cores, shares = split(available_cores(), args.jobs), SimpleQueue()
    for share in cores:
        shares.put(share)
    with ThreadPoolExecutor(args.jobs, initializer=pin_to_a_share, initargs=(shares,)) as pool:
        runs = [pool.submit(run_variant, name, args.out, seeds, environ) for name in variants]
        for run in as_completed(runs):  # rewritten after each variant: a long run stopped early keeps what it measured
            rows += run.result()
            record.update(rows=rows, total_seconds=round(time.perf_counter() - started),
                          jobs={"jobs": args.jobs, "cores": cores},
                          load_1min_after=os.getloadavg()[0], complete=len(rows) == len(variants) * len(seeds))
            write_json_atomically(args.results, record)
    print(table(rows))
    print(f"results in {args.results}")


if __name__ == "__main__":
    main()
