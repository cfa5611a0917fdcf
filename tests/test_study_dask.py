"""The study as a Dask graph: trainings side by side, a failure that stops only its branch, kill and
resume under a local cluster, the state lock, and the batch-system job scripts.

One real study (tiny phantom, one epoch of two iterations, three strategies, CPU) runs three
times through the real commands: started on a local cluster of 2 workers and killed once the
T2 trainings are running; resumed on 2 workers with one strategy made to fail (an unreadable
``checkpoint_latest.pth`` for nnU-Net's ``--c``), which must leave the other two trained, predicted,
evaluated and in a report that names the failure; then, the cause removed, finished on one worker
(a sequential run) with every step of the study done.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.study.cluster import ClusterOptions, job_options, split
from nnunet_t1t2.study.graph import dependencies
from nnunet_t1t2.study.protocol import make_protocol
from nnunet_t1t2.study.state import StudyLock
from nnunet_t1t2.study.steps import ReportStep, study_steps

BIN = Path(sys.executable).parent
TINY_SCHEDULE = {"NNUNET_T1T2_EPOCHS": "1", "NNUNET_T1T2_ITERATIONS": "2", "NNUNET_T1T2_VAL_ITERATIONS": "1"}
STRATEGIES = ["no-ft", "fc", "ft3"]
FAILING = "ft3"
FAILING_FOLD = "nnUNet_results/seed_0/Dataset502_PatientsT2/FineTune3ConvTrainer__nnUNetPlans_demo__3d_fullres/fold_0"
SOURCE_FOLD = "nnUNet_results/seed_0/Dataset501_PatientsT1/SEUNetTrainer__nnUNetPlans_demo__3d_fullres/fold_0"
TIMEOUT_S = 1500


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("nnUNet_", "NNUNET_T1T2_"))}
    return {**env, **TINY_SCHEDULE}


def study_command(data: Path, out: Path, workers: int) -> list[str]:
    return [str(BIN / "nnunet-t1t2"), "study", "--data", str(data), "--out", str(out), "--preset", "demo",
            "--strategies", *STRATEGIES, "--device", "cpu", "--workers", str(workers)]


def run(data: Path, out: Path, workers: int) -> subprocess.CompletedProcess:
    return subprocess.run(study_command(data, out, workers), env=environment(), capture_output=True,
                          encoding="utf-8", errors="replace", timeout=TIMEOUT_S)


def state(out: Path) -> dict:
    return json.loads((out / "study_state.json").read_text(encoding="utf-8"))


def span(step: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(step["started"]), datetime.fromisoformat(step["finished"])


@dataclass
class ClusterStudy:
    out: Path
    source_mtime: float
    with_failure: subprocess.CompletedProcess
    state_with_failure: dict
    report_with_failure: str
    finished: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def cluster_study(tmp_path_factory) -> ClusterStudy:
    root = tmp_path_factory.mktemp("cluster_study")
    data, out = root / "patients", root / "out"
    subprocess.run([str(BIN / "nnunet-t1t2"), "phantom", "--out", str(data), "--n", "6", "--n-t2", "3",
                    "--seed", "1", "--size", "small"], env=environment(), check=True, capture_output=True)

    with open(root / "killed_run.log", "w", encoding="utf-8") as log:
        first = subprocess.Popen(study_command(data, out, 2), env=environment(), stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + TIMEOUT_S
            while len(list((out / "logs").glob("train_seed_0_f*_fold_0.log"))) + \
                    len(list((out / "logs").glob("train_seed_0_no-ft_fold_0.log"))) < 2:
                assert first.poll() is None, (root / "killed_run.log").read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "timed out waiting for the T2 trainings"
                time.sleep(0.5)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    source_mtime = (out / SOURCE_FOLD / "checkpoint_final.pth").stat().st_mtime

    unreadable = out / FAILING_FOLD / "checkpoint_latest.pth"
    unreadable.parent.mkdir(parents=True, exist_ok=True)
    unreadable.write_bytes(b"not a checkpoint")
    os.utime(unreadable, (time.time() + 86400, time.time() + 86400))  # newer than the source: --c is used
    with_failure = run(data, out, 2)
    assert (out / "report.md").is_file(), with_failure.stdout[-3000:] + with_failure.stderr[-3000:]
    state_with_failure = state(out)
    report_with_failure = (out / "report.md").read_text(encoding="utf-8")

    unreadable.unlink()
    finished = run(data, out, 1)
    return ClusterStudy(out, source_mtime, with_failure, state_with_failure, report_with_failure, finished)


def test_a_failed_strategy_leaves_the_others_finished_and_the_report_written(cluster_study):
    result, steps = cluster_study.with_failure, cluster_study.state_with_failure["steps"]
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "training FineTune3ConvTrainer fold 0 seed 0 failed" in result.stderr
    assert "train_seed_0_ft3_fold_0.log" in result.stderr and "run the same command again" in result.stderr
    log = (cluster_study.out / "logs" / "train_seed_0_ft3_fold_0.log").read_text(encoding="utf-8")
    assert "-tr FineTune3ConvTrainer -p nnUNetPlans_demo -device cpu --c" in log  # continued from checkpoint_latest
    for strategy in ("no-ft", "fc"):
        for prefix in ("train", "predict", "evaluate"):
            assert any(key.startswith(f"{prefix}/seed_0/{strategy}/") for key in steps), (prefix, strategy)
    assert not any(f"/{FAILING}/" in key for key in steps)
    assert "predicting the T2 test set with FineTune3ConvTrainer fold 0 seed 0 ... not run" in result.stdout
    assert list(cluster_study.state_with_failure["failed"]) == [f"train/seed_0/{FAILING}/fold_0"]
    assert "## Failed steps" in cluster_study.report_with_failure
    assert "FineTune3ConvTrainer" in cluster_study.report_with_failure.split("## Failed steps")[1].split("##")[0]


def test_two_workers_run_two_trainings_at_once(cluster_study):
    steps = cluster_study.state_with_failure["steps"]
    trainings = [steps[f"train/seed_0/{s}/fold_0"] for s in ("no-ft", "fc")]
    (start_a, end_a), (start_b, end_b) = map(span, trainings)
    assert start_a < end_b and start_b < end_a, trainings
    assert trainings[0]["worker"] != trainings[1]["worker"]
    progress = [line for line in cluster_study.with_failure.stdout.splitlines() if " on worker-" in line]
    assert progress and all("running" in line and "waiting" in line and "dashboard" in line for line in progress)


def test_the_killed_study_resumes_and_ends_with_every_step_of_a_sequential_run(cluster_study):
    result = cluster_study.finished
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    final = state(cluster_study.out)
    protocol = make_protocol("demo", STRATEGIES, environ=TINY_SCHEDULE)
    expected = {step.key for step in study_steps(protocol, generate_phantom=False)}
    assert set(final["steps"]) == expected and final["failed"] == {}
    assert (cluster_study.out / SOURCE_FOLD / "checkpoint_final.pth").stat().st_mtime == cluster_study.source_mtime
    assert "training T1 source SEUNetTrainer fold 0 seed 0 ... skipped (done)" in cluster_study.with_failure.stdout
    report = (cluster_study.out / "report.md").read_text(encoding="utf-8")
    assert "## Failed steps" not in report and "| Worker | Started | Finished |" in report
    assert not (cluster_study.out / ".study.lock").exists()


def test_every_step_needs_only_steps_of_the_study_and_the_graph_has_no_cycle():
    protocol = make_protocol("paper", seeds=[0, 1])
    steps = study_steps(protocol, generate_phantom=True)
    graph = dependencies(steps)
    assert set(graph) == {s.key for s in steps if not isinstance(s, ReportStep)}
    assert graph["link"] == ("train/seed_0/source/fold_0",)
    assert graph["train/seed_1/open/fold_2"] == ("link", "train/seed_1/source/fold_0")
    assert graph["train/seed_0/augmentation/fold_0"] == ("plan/T1T2",)
    assert graph["evaluate/seed_1/hybrid-mul/fold_1/T2"] == ("predict/seed_1/hybrid-mul/fold_1/T2",)
    done: set[str] = set()
    while len(done) < len(graph):  # a topological order exists
        ready = {key for key, needs in graph.items() if key not in done and set(needs) <= done}
        assert ready, "cycle"
        done |= ready


def test_a_second_study_in_the_same_folder_is_refused_and_a_dead_holders_lock_is_taken_over(tmp_path):
    with StudyLock(tmp_path):
        with pytest.raises(UserError, match=f"in use by another study .*process {os.getpid()}"):
            StudyLock(tmp_path).__enter__()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    holder = {"host": os.uname().nodename, "pid": int(dead.stdout), "since": "earlier"}
    (tmp_path / ".study.lock").write_text(json.dumps(holder), encoding="utf-8")
    with StudyLock(tmp_path):
        assert json.loads((tmp_path / ".study.lock").read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert not (tmp_path / ".study.lock").exists()


@pytest.mark.parametrize("system, expected", [
    ("slurm", ["#SBATCH --gres=gpu:2", "#SBATCH -p gpu", "#SBATCH -t 02:00:00", "#SBATCH -A lab",
               "#SBATCH --mem=60G"]),
    ("lsf", ['#BSUB -gpu "num=2"', "#BSUB -q gpu", "#BSUB -W 02:00", '#BSUB -P "lab"']),
])
def test_job_scripts_carry_gpus_walltime_and_queue(tmp_path, system, expected):
    import dask_jobqueue

    options = ClusterOptions(cluster=system, gpus_per_training=2, queue="gpu", walltime="02:00:00", account="lab",
                             cores=8, memory="64GB")
    cluster_class = {"slurm": dask_jobqueue.SLURMCluster, "lsf": dask_jobqueue.LSFCluster}[system]
    with cluster_class(**job_options(options, "cuda", tmp_path)) as cluster:
        script = cluster.job_script()
    for line in expected:
        assert line in script, script
    assert "--resources training=1" in script and f"{sys.executable} -m distributed.cli.dask_worker" in script
    assert "export OMP_NUM_THREADS=8" in script and "export nnUNet_n_proc_DA=8" in script


def test_bad_cluster_options_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no --queue"):
        job_options(ClusterOptions(cluster="htcondor", queue="gpu"), "cuda", tmp_path)
    result = subprocess.run([str(BIN / "nnunet-t1t2"), "study", "--data", "phantom", "--out", str(tmp_path / "o"),
                             "--preset", "demo", "--device", "cpu", "--gpus-per-training", "2"],
                            env=environment(), capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 2 and "needs --device cuda" in result.stderr, result.stderr


def test_cores_are_shared_without_overlap():
    assert split([0, 1, 2, 3, 4], 2) == [[0, 1, 2], [3, 4]]
    assert split([0, 1], 2) == [[0], [1]]


def test_an_existing_cluster_must_offer_the_training_resource(tmp_path):
    from distributed import LocalCluster

    from nnunet_t1t2.study.cluster import study_client

    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None) as plain:
        with pytest.raises(UserError, match="--resources training=1"):
            with study_client(ClusterOptions(scheduler=plain.scheduler_address), "cpu", tmp_path):
                pass
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None,
                      resources={"training": 1}) as ready:
        with study_client(ClusterOptions(scheduler=ready.scheduler_address), "cpu", tmp_path) as client:
            assert client.submit(sum, [1, 2], resources={"training": 1}).result(timeout=60) == 3
