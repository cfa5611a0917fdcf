"""The study's Dask side without running a study: the dependency graph, the state lock, the batch
systems' job scripts, the cluster options and stopping one study's commands. The study itself runs
on a local cluster of 2 workers in tests/test_study.py (trainings side by side, a failure that stops
only its branch, stop, kill and resume).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.study.cluster import ClusterOptions, job_options, split
from nnunet_t1t2.study.commands import CommandFailed, CommandRunner, stop_commands
from nnunet_t1t2.study.graph import dependencies
from nnunet_t1t2.study.protocol import make_protocol
from nnunet_t1t2.study.state import StudyLock
from nnunet_t1t2.study.steps import ReportStep, study_steps

BIN = Path(sys.executable).parent


def test_every_step_needs_only_steps_of_the_study_and_the_graph_has_no_cycle():
    protocol = make_protocol("paper", seeds=[0, 1])
    steps = study_steps(protocol, generate_phantom=True)
    graph = dependencies(steps)
    assert set(graph) == {s.key for s in steps if not isinstance(s, ReportStep)}
    assert graph["check/seed_0/source/fold_0"] == ("train/seed_0/source/fold_0",)
    assert graph["link"] == ("check/seed_0/source/fold_0",)
    # the paper preset sweeps the T2 training size: every training waits for the step that checks the sizes
    assert graph["train/seed_1/open/fold_2"] == ("link", "check/seed_1/source/fold_0", "split/t2-sizes")
    assert graph["train/seed_1/open/size_2/fold_2"] == ("link", "check/seed_1/source/fold_0", "split/t2-sizes")
    assert graph["train/seed_0/augmentation/fold_0"] == ("plan/T1T2", "split/t2-sizes")
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
                            capture_output=True, encoding="utf-8", errors="replace")
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


def test_a_step_found_finished_after_a_kill_is_recorded_without_a_made_up_duration(tmp_path):
    """A training that a killed run finished, but did not record, is taken as done by its files; the state
    then names it with its end time and no duration, and the report's Steps table says so."""
    from nnunet_t1t2.study.markdown import MISSING
    from nnunet_t1t2.study.report import steps_table
    from nnunet_t1t2.study.state import StudyState

    state = StudyState.open(tmp_path / "study_state.json", {"data": "phantom"})
    state.record("convert", "converting", 12.0, "worker-0 on vm")
    state.record_found("train/seed_0/no-ft/fold_0", "training NoFineTuneTrainer fold 0 seed 0", 1_700_000_000.0)
    reopened = StudyState.open(tmp_path / "study_state.json", {"data": "phantom"})
    found = reopened.steps["train/seed_0/no-ft/fold_0"]
    assert found["seconds"] is None and "stopped before recording" in found["worker"] and found["finished"]
    table = steps_table(tmp_path / "study_state.json")
    assert f"| training NoFineTuneTrainer fold 0 seed 0 | {MISSING} |" in table and "12 s" in table


def stop_once_running(study: str) -> int:
    """:func:`stop_commands` as soon as it finds the study's command (a thread is starting it)."""
    deadline = time.monotonic() + 60
    while not (stopped := stop_commands(study)):
        assert time.monotonic() < deadline, "the command did not start"
        time.sleep(0.1)
    return stopped


def test_stopping_a_study_stops_its_commands_and_no_other_studys(tmp_path):
    names = ("this", "other")
    runners = {name: CommandRunner.for_study(tmp_path / name / "raw", tmp_path / name / "pre",
                                             tmp_path / name / "res", "cpu") for name in names}
    sleep = [Path(sys.executable).name, "-c", "import time; time.sleep(60)"]
    outcomes: dict[str, BaseException | int] = {}

    def run(name: str) -> None:
        try:
            outcomes[name] = runners[name].run(sleep, tmp_path / f"{name}.log")
        except CommandFailed as e:
            outcomes[name] = e

    threads = {name: threading.Thread(target=run, args=(name,)) for name in names}
    for thread in threads.values():
        thread.start()
    assert stop_once_running(runners["this"].study) == 1
    threads["this"].join(30)
    assert isinstance(outcomes["this"], CommandFailed) and "status -15" in str(outcomes["this"])
    assert threads["other"].is_alive()  # the other study's command runs on
    assert stop_once_running(runners["other"].study) == 1 and stop_commands(runners["other"].study) == 0
    threads["other"].join(30)
    assert isinstance(outcomes["other"], CommandFailed)


SIGTERM_IN_A_STUDY = """
import os, signal, time
from nnunet_t1t2.study.runner import sigterm_interrupts
with sigterm_interrupts():
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    time.sleep(0.5)
    os.kill(child, signal.SIGTERM)  # as multiprocessing's pools end their workers
    print("child", os.waitpid(child, 0)[1])
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    except KeyboardInterrupt:
        print("interrupted")
print("default again", signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
"""


def test_sigterm_interrupts_the_study_process_and_still_ends_a_process_forked_from_it():
    result = subprocess.run([sys.executable, "-c", SIGTERM_IN_A_STUDY], capture_output=True, encoding="utf-8",
                            timeout=60)
    assert result.stdout.split("\n")[:3] == [f"child {signal.SIGTERM.value}", "interrupted", "default again True"], \
        result.stdout + result.stderr
