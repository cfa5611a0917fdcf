"""Is the demo's finding stable? Run ``nnunet-t1t2 demo`` once per seed and print, per run, the
wall time, whether the from-scratch models learned bone, and the T2 bone verdicts of each hybrid
against no fine-tuning (paired Dice difference, bootstrap 95 % interval, Wilcoxon p); then the
same comparison over all the seeds' trainings together, as a study with ``--seeds 0 1 2`` states it
(the phantom is the same in every run, so are the test patients).

    python benchmarks/demo_stability.py [--seeds 0 1 2] [--out demo_stability]

Each seed is a separate demo (its own folder, ``--seeds S``), as a user would run it; a run that
exists already is continued (finished steps are skipped, so its wall time is then not a timing).
Beside the wall time, the CPU time of the demo's processes (user + system): on a machine shared
with other work the wall time grows with the load, the CPU time much less.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from nnunet_t1t2.conversion.pipeline import default_name
from nnunet_t1t2.study.classes import BONE_CLASS
from nnunet_t1t2.study.findings import TEST_SET, verdict
from nnunet_t1t2.study.layout import StudyLayout
from nnunet_t1t2.study.learning import learning_failures
from nnunet_t1t2.study.protocol import make_protocol
from nnunet_t1t2.study.results import StudyResults
from nnunet_t1t2.study.runner import PHANTOM
from nnunet_t1t2.study.statistics import paired_comparison
from nnunet_t1t2.study.strategies import STRATEGIES

BONE = BONE_CLASS.key
BASELINE = "no-ft"


def cpu_seconds_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_demo(seed: int, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one demo."""
    started, cpu_before = time.perf_counter(), cpu_seconds_of_children()
    command = [str(Path(sys.executable).parent / "nnunet-t1t2"), "demo", "--out", str(out), "--seeds", str(seed)]
    with open(out.with_suffix(".log"), "w", encoding="utf-8") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        raise SystemExit(f"the demo with seed {seed} failed (status {status}); see {out.with_suffix('.log')}")
    return time.perf_counter() - started, cpu_seconds_of_children() - cpu_before


def summary(seed: int, out: Path, seconds: float, cpu_seconds: float) -> list[str]:
    results = results_of(seed, out)
    protocol = results.protocol
    lines = [f"seed {seed}: {seconds / 60:.1f} min wall, {cpu_seconds / 60:.1f} min CPU"]
    for role in ("source", "augmentation"):
        bone = results.estimate(role, "T1", BONE)
        lines.append(f"  {role}: T1 test bone Dice {bone.mean:.3f}" if bone else f"  {role}: not evaluated")
    lines += [f"  learned nothing: {f.model.name}, {f.class_name} (validation Dice {f.dice:.3f})"
              for f in learning_failures(results)]
    for strategy in protocol.t2_strategies:
        if strategy.family == "hybrid":
            comparison = results.comparison(strategy.key, BASELINE, TEST_SET, BONE)
            lines.append("  " + (verdict("T2 bone", strategy.short_name, STRATEGIES[BASELINE].short_name, comparison)
                                 if comparison else f"{strategy.key}: not evaluated"))
    return lines


def results_of(seed: int, out: Path) -> StudyResults:
    protocol = make_protocol("demo", seeds=[seed], environ={})
    return StudyResults(StudyLayout(out, default_name(out / PHANTOM), protocol.plans_name), protocol)


def pooled_verdicts(runs: dict[int, Path]) -> list[str]:
    """Each hybrid against no fine-tuning over every seed's trainings (paired by seed and patient)."""
    protocol = make_protocol("demo", environ={})
    lines = [f"all seeds together ({', '.join(map(str, runs))}):"]
    for strategy in protocol.t2_strategies:
        if strategy.family != "hybrid":
            continue
        values = {role: {run: patients for seed, out in runs.items()
                         for run, patients in results_of(seed, out).per_patient_values(role, TEST_SET, BONE).items()}
                  for role in (strategy.key, BASELINE)}
        comparison = paired_comparison(values[strategy.key], values[BASELINE])
        lines.append("  " + (verdict("T2 bone", strategy.short_name, STRATEGIES[BASELINE].short_name, comparison)
                             if comparison else f"{strategy.key}: not evaluated"))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("demo_stability"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs = {seed: args.out / f"seed_{seed}" for seed in args.seeds}
    for seed, out in runs.items():
        seconds, cpu_seconds = run_demo(seed, out)
        print("\n".join(summary(seed, out, seconds, cpu_seconds)), flush=True)
    if len(runs) > 1:
        print("\n".join(pooled_verdicts(runs)), flush=True)


if __name__ == "__main__":
    main()
