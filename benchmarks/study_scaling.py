"""How the study scales with workers: measured on the CPU, extrapolated to the paper preset on GPUs.

    python benchmarks/study_scaling.py [--out study_scaling] [--strategies no-ft fc ft3] [--tiny]
    python benchmarks/study_scaling.py --state PAPER_STUDY/study_state.json   # only the extrapolation

1. The demo study (on the built-in phantom; by default reduced to the strategies given) is run
   twice from scratch, on a local Dask cluster of 1 and of 2 CPU workers, through
   ``nnunet-t1t2 study``; their wall times are printed side by side with the ratio.
2. From the step durations measured there (``study_state.json``; or those of ``--state``, e.g. a
   real paper-preset run), each kind of step (conversion, planning, link, source training,
   strategy training, T1+T2 training, prediction, evaluation) gets its mean duration; the paper
   preset's dependency graph (:mod:`nnunet_t1t2.study.graph`) with those durations is then laid out
   on 1, 4, 8 and 32 workers (one GPU each), greedily and trainings first as the runner submits
   them, giving the expected wall time, the speed-up over one GPU, and what bounds it: the
   critical path (the longest chain of dependent steps, named) or the number of workers.

Demo durations stand in for the paper's when no paper state is given: the ratios between step
kinds differ on GPUs with the paper's schedule, so the numbers are a shape, not a forecast.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean

from nnunet_t1t2.study.graph import dependencies
from nnunet_t1t2.study.protocol import make_protocol
from nnunet_t1t2.study.steps import study_steps

TINY = {"NNUNET_T1T2_EPOCHS": "1", "NNUNET_T1T2_ITERATIONS": "2", "NNUNET_T1T2_VAL_ITERATIONS": "1"}
GPU_COUNTS = (1, 4, 8, 32)


def run_study(out: Path, workers: int, strategies: list[str], tiny: bool) -> float:
    if out.exists():
        shutil.rmtree(out)  # a timing needs a study from scratch
    out.mkdir(parents=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("nnUNet_", "NNUNET_T1T2_"))}
    environment.update(TINY if tiny else {})
    command = [str(Path(sys.executable).parent / "nnunet-t1t2"), "study", "--data", "phantom", "--out", str(out),
               "--preset", "demo", "--strategies", *strategies, "--device", "cpu", "--workers", str(workers)]
    started = time.perf_counter()
    with open(out / "study.log", "w", encoding="utf-8") as log:
        status = subprocess.run(command, env=environment, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        raise SystemExit(f"the study with {workers} worker(s) failed (status {status}); see {out / 'study.log'}")
    return time.perf_counter() - started


def kind(key: str) -> str:
    """The kind of a step, from its key (``train/seed_0/source/fold_0`` -> ``train source``)."""
    parts = key.split("/")
    if parts[0] == "train":
        return {"source": "train source", "augmentation": "train T1+T2"}.get(parts[2], "train strategy")
    return parts[0]


def durations_by_kind(state_files: list[Path]) -> dict[str, float]:
    measured: dict[str, list[float]] = {}
    for file in state_files:
        for key, step in json.loads(file.read_text(encoding="utf-8"))["steps"].items():
            if step["seconds"] is not None:  # None: found finished after a killed run, duration unknown
                measured.setdefault(kind(key), []).append(step["seconds"])
    return {k: mean(v) for k, v in measured.items()}


def schedule(graph: dict[str, tuple[str, ...]], seconds: dict[str, float], workers: int) -> float:
    """The wall time of ``graph`` on ``workers`` workers: each step starts as soon as the steps it
    needs have finished and a worker is free, trainings first (the runner's priority)."""
    remaining = {key: set(needs) for key, needs in graph.items()}
    order = {key: i for i, key in enumerate(graph)}
    ready = [(not key.startswith("train/"), order[key], key) for key, needs in remaining.items() if not needs]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    now, free = 0.0, workers
    while ready or running:
        while ready and free:
            _, _, key = heapq.heappop(ready)
            heapq.heappush(running, (now + seconds[key], key))
            free -= 1
        now, finished = heapq.heappop(running)
        free += 1
        for key, needs in remaining.items():
            if finished in needs:
                needs.discard(finished)
                if not needs:
                    heapq.heappush(ready, (not key.startswith("train/"), order[key], key))
    return now


def critical_path(graph: dict[str, tuple[str, ...]], seconds: dict[str, float]) -> tuple[float, list[str]]:
    """The longest chain of dependent steps and its duration (the wall time on unlimited workers)."""
    finish: dict[str, tuple[float, list[str]]] = {}

    def longest(key: str) -> tuple[float, list[str]]:
        if key not in finish:
            before = max((longest(n) for n in graph[key]), default=(0.0, []), key=lambda t: t[0])
            finish[key] = (before[0] + seconds[key], [*before[1], key])
        return finish[key]

    return max((longest(key) for key in graph), key=lambda t: t[0])


def extrapolate(by_kind: dict[str, float]) -> None:
    protocol = make_protocol("paper")
    graph = dependencies(study_steps(protocol, generate_phantom=False))
    if "train T1+T2" not in by_kind and "train source" in by_kind:
        by_kind["train T1+T2"] = by_kind["train source"]  # the same trainer and schedule
        print("no T1+T2 training measured: counted as long as the source training")
    missing = sorted({kind(k) for k in graph} - set(by_kind))
    if missing:
        print(f"no measured duration for: {', '.join(missing)} (counted as 0 s)")
    seconds = {key: by_kind.get(kind(key), 0.0) for key in graph}
    total = sum(seconds.values())
    path_seconds, path = critical_path(graph, seconds)
    longest = max(path, key=lambda key: seconds[key])
    print(f"\npaper preset: {len(graph)} steps, {sum(k.startswith('train/') for k in graph)} of them trainings; "
          "mean measured seconds per kind: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(by_kind.items())))
    print(f"critical path {path_seconds / 3600:.2f} h (longest step on it: {longest}, {seconds[longest]:.0f} s): "
          + " -> ".join(path))
    print(f"{'GPUs':>5} {'wall time (h)':>14} {'speed-up':>9} {'work/GPUs (h)':>14}  bounded by")
    one = schedule(graph, seconds, 1)
    for gpus in GPU_COUNTS:
        wall, share = schedule(graph, seconds, gpus), total / gpus
        bound = "the critical path" if path_seconds >= share else "the number of GPUs"
        print(f"{gpus:>5} {wall / 3600:>14.2f} {one / wall:>9.2f} {share / 3600:>14.2f}  {bound}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("study_scaling"))
    parser.add_argument("--strategies", nargs="+", default=["no-ft", "fc", "ft3"],
                        help="strategies of the reduced demo study [no-ft fc ft3]")
    parser.add_argument("--tiny", action="store_true", help="one epoch of two iterations per training")
    parser.add_argument("--state", type=Path, nargs="+",
                        help="study_state.json files to extrapolate from (skips the CPU timing)")
    args = parser.parse_args()

    if args.state:
        extrapolate(durations_by_kind(args.state))
        return
    print(f"demo study reduced to the strategies {' '.join(args.strategies)}"
          f"{' with one epoch of two iterations per training' if args.tiny else ''}, CPU, "
          f"{len(os.sched_getaffinity(0))} cores")
    walls = {workers: run_study(args.out / f"workers_{workers}", workers, args.strategies, args.tiny)
             for workers in (1, 2)}
    print(f"{'workers':>8} {'wall time (s)':>14}")
    for workers, wall in walls.items():
        print(f"{workers:>8} {wall:>14.0f}")
    print(f"ratio 1 worker / 2 workers: {walls[1] / walls[2]:.2f}")
    extrapolate(durations_by_kind([args.out / f"workers_{w}" / "study_state.json" for w in walls]))


if __name__ == "__main__":
    main()
