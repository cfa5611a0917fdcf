"""``nnunet-t1t2 study`` end to end on a tiny phantom: on a local Dask cluster, killed, resumed with a
failing strategy, finished on one worker; and its report.

One study serves every end-to-end test (tiny: six coarse phantom patients, three with T2, one epoch of two
iterations, five strategies covering every table and figure: no fine-tuning, FC and 3 conv layers
for the Fig. 5 line, hybrid, augmentation). It runs three times through the real commands, on the
CPU, in the study's own nnU-Net folders under a temporary folder:

1. started on a local cluster of 2 workers and stopped with SIGTERM to the study process alone (as
   ``kill`` does) once the T1 source model is trained and two T2 trainings are running: it must stop
   the commands its workers run before it ends; then its whole process group is killed (as a batch
   system's walltime does);
2. resumed on 2 workers with one strategy made to fail (an unreadable ``checkpoint_latest.pth`` for
   nnU-Net's ``--c``), which must leave the others trained, predicted, evaluated and in a report that
   names the failure. The failing strategy is one whose training the kill interrupted: which ones
   those are depends on the machine's speed and load, so the kill waits until one runs and the
   failure is injected into it;
3. the cause removed, finished on one worker (a sequential run) with every step of the study done.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from conftest import COARSE_MR
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.study.figures import FIGURE_FILES
from nnunet_t1t2.study.paper_values import COMPARISON_TABLES, FOLD_TABLES, PAPER_METRICS
from nnunet_t1t2.study.protocol import PRESETS, make_protocol
from nnunet_t1t2.study.steps import study_steps
from nnunet_t1t2.study.strategies import STRATEGIES

BIN = Path(sys.executable).parent
TINY_SCHEDULE = {"NNUNET_T1T2_EPOCHS": "1", "NNUNET_T1T2_ITERATIONS": "2", "NNUNET_T1T2_VAL_ITERATIONS": "1"}
RUN_STRATEGIES = ["no-ft", "fc", "ft3", "hybrid-mul", "augmentation"]
SOURCE_STEP = "train/seed_0/source/fold_0"
SOURCE_FOLD_FOLDER = "nnUNet_results/seed_0/Dataset501_PatientsT1/SEUNetTrainer__nnUNetPlans_demo__3d_fullres/fold_0"
#: The T2 strategies that train (no fine-tuning only validates the source): the failure goes into one of them.
TRAINED_T2 = [strategy for strategy in RUN_STRATEGIES if strategy not in ("no-ft", "augmentation")]
TIMEOUT_S = 1500
#: Two local workers, or one on a one-core machine (the study refuses more workers than cores).
WORKERS = min(2, len(os.sched_getaffinity(0)))


def environment() -> dict[str, str]:
    """The caller's environment without nnU-Net folders (the study brings its own), with the tiny schedule."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("nnUNet_", "NNUNET_T1T2_"))}
    return {**env, **TINY_SCHEDULE}


def study_command(data: Path, out: Path, *extra: str) -> list[str]:
    return [str(BIN / "nnunet-t1t2"), "study", "--data", str(data), "--out", str(out), "--preset", "demo",
            "--strategies", *RUN_STRATEGIES, "--device", "cpu", "--accept-unlearned-source", *extra]


def run(data: Path, out: Path, workers: int) -> subprocess.CompletedProcess:
    return subprocess.run(study_command(data, out, "--workers", str(workers)), env=environment(), capture_output=True,
                          encoding="utf-8", errors="replace", timeout=TIMEOUT_S)


def state(out: Path) -> dict:
    return json.loads((out / "study_state.json").read_text(encoding="utf-8"))


def span(step: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(step["started"]), datetime.fromisoformat(step["finished"])


@dataclass
class Study:
    out: Path
    data: Path
    source_checkpoint_mtime: float
    interrupted: list[str]
    """The T2 strategies whose training the kill interrupted."""
    failing: str
    """The interrupted strategy made to fail on resuming."""
    terminated_status: int
    terminated_output: str
    left_running: list[int]
    """Processes working in the study's folders after the study process ended on SIGTERM."""
    with_failure: subprocess.CompletedProcess
    state_with_failure: dict
    report_with_failure: str
    finished: subprocess.CompletedProcess


def started_t2_trainings(out: Path) -> list[str]:
    return [strategy for strategy in RUN_STRATEGIES if strategy != "augmentation"
            and (out / "logs" / f"train_seed_0_{strategy}_fold_0.log").is_file()]


def fold_folder(out: Path, strategy: str) -> Path:
    trainer = STRATEGIES[strategy].trainer_name("")
    return out / "nnUNet_results" / "seed_0" / "Dataset502_PatientsT2" / f"{trainer}__nnUNetPlans_demo__3d_fullres" / \
        "fold_0"


def unfinished_t2_trainings(out: Path) -> list[str]:
    """The T2 strategies whose training started and has not saved its final checkpoint."""
    return [strategy for strategy in started_t2_trainings(out)
            if not (fold_folder(out, strategy) / "checkpoint_final.pth").is_file()]


def t2_training_running(out: Path) -> bool:
    """Two T2 trainings started, and one that trains on T2 still runs (the failure goes into it)."""
    return len(started_t2_trainings(out)) >= 2 and any(s in TRAINED_T2 for s in unfinished_t2_trainings(out))


def processes_working_in(out: Path) -> list[int]:
    """The processes whose environment points at the study's nnU-Net folders (its steps' commands)."""
    marker = f"nnUNet_raw={out / 'nnUNet_raw'}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:  # ended meanwhile
            pass
    return pids


def processes_left_working_in(out: Path, grace_s: float = 20) -> list[int]:
    """:func:`processes_working_in` after at most ``grace_s`` for them to end (a stopped command's own
    worker processes, nnU-Net's export pool, end when they find their parent gone)."""
    deadline = time.monotonic() + grace_s
    while (left := processes_working_in(out)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def wait_for(condition, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the study ended (status {process.returncode}) before {what}:\n"
                                 f"{log.read_text(encoding='utf-8')[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Study:
    root = tmp_path_factory.mktemp("study")
    data, out = root / "patients", root / "out"
    subprocess.run([str(BIN / "nnunet-t1t2"), "phantom", "--out", str(data), "--n", "6", "--n-t2", "3",
                    "--seed", "1", "--size", "small", *COARSE_MR], env=environment(), check=True, capture_output=True)

    log = root / "killed_run.log"
    with open(log, "w", encoding="utf-8") as stream:
        first = subprocess.Popen(study_command(data, out, "--workers", str(WORKERS)), env=environment(), stdout=stream,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: (out / "study_state.json").is_file() and SOURCE_STEP in state(out)["steps"],
                     "the source training finished", first, log)
            wait_for(lambda: t2_training_running(out), "two T2 trainings started, one of them still running",
                     first, log)
        finally:
            first.send_signal(signal.SIGTERM)
            try:
                terminated_status = first.wait(120)
            except subprocess.TimeoutExpired:
                terminated_status = None
            left_running = processes_left_working_in(out)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    interrupted = unfinished_t2_trainings(out)
    failing = next((strategy for strategy in interrupted if strategy in TRAINED_T2), None)
    assert failing, f"the kill interrupted no T2 training ({interrupted}):\n{log.read_text(encoding='utf-8')[-3000:]}"
    source_mtime = (out / SOURCE_FOLD_FOLDER / "checkpoint_final.pth").stat().st_mtime

    unreadable = fold_folder(out, failing) / "checkpoint_latest.pth"
    unreadable.parent.mkdir(parents=True, exist_ok=True)
    unreadable.write_bytes(b"not a checkpoint")
    os.utime(unreadable, (time.time() + 86400, time.time() + 86400))  # newer than the source: --c is used
    with_failure = run(data, out, WORKERS)
    assert (out / "report.md").is_file(), with_failure.stdout[-3000:] + with_failure.stderr[-3000:]
    state_with_failure = state(out)
    report_with_failure = (out / "report.md").read_text(encoding="utf-8")

    unreadable.unlink()
    finished = run(data, out, 1)
    assert finished.returncode == 0, f"the last run failed:\n{finished.stdout[-4000:]}\n{finished.stderr[-4000:]}"
    return Study(out, data, source_mtime, interrupted, failing, terminated_status, log.read_text(encoding="utf-8"),
                 left_running, with_failure, state_with_failure, report_with_failure, finished)


def test_a_terminated_study_stops_its_running_commands_before_it_ends(study):
    assert study.terminated_status == 130, study.terminated_output[-3000:]
    assert study.left_running == []
    stopped = re.search(r"stopped the commands of (\d+) running step", study.terminated_output)
    assert stopped and int(stopped.group(1)) >= len(study.interrupted) >= 1, study.terminated_output[-3000:]


def test_a_failed_strategy_leaves_the_others_finished_and_the_report_written(study):
    result, steps, failing = study.with_failure, study.state_with_failure["steps"], study.failing
    trainer = STRATEGIES[failing].trainer_name("")
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"training {trainer} fold 0 seed 0 failed" in result.stderr
    assert f"train_seed_0_{failing}_fold_0.log" in result.stderr and "run the same command again" in result.stderr
    log = (study.out / "logs" / f"train_seed_0_{failing}_fold_0.log").read_text(encoding="utf-8")
    assert f"-tr {trainer} -p nnUNetPlans_demo -device cpu --c" in log  # continued from checkpoint_latest
    for strategy in (s for s in RUN_STRATEGIES if s != failing):
        for prefix in ("train", "predict", "evaluate"):
            assert any(key.startswith(f"{prefix}/seed_0/{strategy}/") for key in steps), (prefix, strategy)
    assert not any(f"/{failing}/" in key for key in steps)
    assert f"predicting the T2 test set with {trainer} fold 0 seed 0 ... not run" in result.stdout
    assert list(study.state_with_failure["failed"]) == [f"train/seed_0/{failing}/fold_0"]
    assert "## Failed steps" in study.report_with_failure
    assert trainer in study.report_with_failure.split("## Failed steps")[1].split("##")[0]


@pytest.mark.skipif(WORKERS < 2, reason="one core: the study runs one worker")
def test_two_workers_run_two_trainings_at_once(study):
    steps = study.state_with_failure["steps"]
    ran = [steps[f"train/seed_0/{s}/fold_0"] for s in ["source", *RUN_STRATEGIES] if s != study.failing]
    trainings = [span(step) + (step["worker"],) for step in ran if step["seconds"] is not None]  # not found done
    overlapping = [(a, b) for i, a in enumerate(trainings) for b in trainings[i + 1:]
                   if a[0] < b[1] and b[0] < a[1] and a[2] != b[2]]
    assert overlapping, trainings
    progress = [line for line in study.with_failure.stdout.splitlines() if " on worker-" in line]
    assert progress and all("running" in line and "waiting" in line and "dashboard" in line for line in progress)


def test_the_killed_study_resumes_and_ends_with_every_step_of_a_sequential_run(study):
    lines = study.with_failure.stdout.splitlines()
    assert any("training T1 source SEUNetTrainer fold 0 seed 0 ... skipped (done)" in line for line in lines)
    assert study.interrupted
    for strategy in study.interrupted:  # started over (or continued), not taken as done
        trainer = STRATEGIES[strategy].trainer_name("")
        assert any(f"training {trainer} fold 0 seed 0 ... done in" in line or
                   (strategy == study.failing and f"training {trainer} fold 0 seed 0 ... failed" in line)
                   for line in lines)
    assert (study.out / SOURCE_FOLD_FOLDER / "checkpoint_final.pth").stat().st_mtime == study.source_checkpoint_mtime
    final = state(study.out)
    protocol = make_protocol("demo", RUN_STRATEGIES, environ=TINY_SCHEDULE)
    assert set(final["steps"]) == {step.key for step in study_steps(protocol, generate_phantom=False)}
    assert final["failed"] == {}
    assert study.finished.stdout.rstrip().endswith(f"report: {study.out / 'report.md'}")
    report = (study.out / "report.md").read_text(encoding="utf-8")
    assert "## Failed steps" not in report and "| Worker | Started | Finished |" in report
    assert not (study.out / ".study.lock").exists()


def test_every_training_records_its_compute_time(study):
    folders = list((study.out / "nnUNet_results").glob("seed_0/Dataset*/*/fold_0"))
    assert len(folders) == 1 + len(RUN_STRATEGIES)
    for folder in folders:
        record = json.loads((folder / "convergence.json").read_text(encoding="utf-8"))
        assert record["seconds_total"] >= 0 and record["epochs_trained"] in (0, 1)


def test_report_has_every_table_with_ours_and_the_papers_rows(study):
    report = (study.out / "report.md").read_text(encoding="utf-8")
    for title in ("Table 3", "Table 4", "Table 5", "Table 6", "Table 7", "Table 8", "Table 9",
                  "Dice per test patient", "Compute time"):
        assert title in report
    for strategy in STRATEGIES.values():
        if strategy.key in RUN_STRATEGIES and strategy.on_t2:
            assert f"| ours | {strategy.label} | 0 |" in report
    assert f"| ours | {STRATEGIES['open'].label} | — | not run |" in report
    assert "| ours | T2 | T1 and T2 |" in report and "| paper | T2 | T1 and T2 | 0.72 ± 0.0006 |" in report
    for rows in FOLD_TABLES.values():
        for row in rows:
            assert f"| paper | {STRATEGIES[row.strategy].label} | {row.fold or '—'} | " in report
    for _, rows in COMPARISON_TABLES.values():
        first = rows[0]
        assert f"| paper | {STRATEGIES[first.strategy].label} | {first.values[PAPER_METRICS[0]]:.4f} ± " in report
    assert "Dataset501_PatientsT1" in report and "Folds: 0 of 1" in report and "Training seeds: 0" in report
    pseudo_cts = report.split("## Pseudo-CT error, T2 test set", 1)[1].split("\n## ", 1)[0]
    assert "Water only inside the head (reference)" in pseudo_cts and "HU per class: " in pseudo_cts
    for strategy in (STRATEGIES[key] for key in RUN_STRATEGIES if STRATEGIES[key].on_t2):
        assert f"| {strategy.label} | " in pseudo_cts  # the conversion's test CTs, scored by the evaluation step
    surfaces = report.split("## Surface distances, T2 test set", 1)[1].split("\n## ", 1)[0]
    for strategy in (STRATEGIES[key] for key in RUN_STRATEGIES if STRATEGIES[key].on_t2):
        assert f"| {strategy.label} | Bone | " in surfaces and f"| {strategy.label} | Air inside the head | " in surfaces


def test_report_opens_with_findings_built_from_the_evaluations(study):
    from nnunet_t1t2.study.findings import findings
    from nnunet_t1t2.study.layout import StudyLayout
    from nnunet_t1t2.study.results import StudyResults

    report = (study.out / "report.md").read_text(encoding="utf-8")
    sections = [line for line in report.splitlines() if line.startswith("## ")]
    assert sections[0] == "## Findings"
    protocol = make_protocol("demo", strategies=RUN_STRATEGIES, environ=TINY_SCHEDULE)
    results = StudyResults(StudyLayout(study.out, "Patients", protocol.plans_name), protocol)
    assert results.estimate("hybrid-mul", "T2", "1") is not None
    assert findings(results) in report  # the same sentences, from the evaluation files on disk
    assert "On T2 soft tissue, hybrid multiplication" in report


def test_report_figures_are_png_images(study):
    import matplotlib.image

    report = (study.out / "report.md").read_text(encoding="utf-8")
    for name, file in FIGURE_FILES.items():
        path = study.out / "figures" / file
        if name == "sizes":  # drawn only where the T2 training size varies (tests/test_t2_sizes.py)
            assert not path.exists() and file not in report
            continue
        assert f"](figures/{file})" in report
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width, _ = matplotlib.image.imread(path).shape
        assert height > 200 and width > 200


def test_continuing_with_another_setup_is_refused(study):
    result = subprocess.run(study_command(study.data, study.out, "--plans", "nnUNetPlans"), env=environment(),
                            capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 2
    assert "another set-up" in result.stderr and "plans" in result.stderr


@pytest.mark.slow
def test_a_failed_step_names_itself_and_its_log(tmp_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run(study_command(tmp_path / "empty", tmp_path / "out"), env=environment(),
                            capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 2
    assert "step [1/" in result.stderr and "converting the patients" in result.stderr
    assert str(tmp_path / "out" / "logs" / "convert.log") in result.stderr
    assert "run the same command again" in result.stderr


@pytest.mark.slow
def test_a_study_without_t2_test_patients_stops_before_any_training(tmp_path):
    """The conversion's options reach the study; a split that leaves no T2 test patient stops the study
    right after the conversion, naming the data set and what is missing, with no model trained."""
    subprocess.run([str(BIN / "nnunet-t1t2"), "phantom", "--out", str(tmp_path / "patients"), "--n", "4",
                    "--n-t2", "2", "--seed", "2"], env=environment(), check=True, capture_output=True)
    result = subprocess.run(study_command(tmp_path / "patients", tmp_path / "out", "--t2-test-fraction", "0"),
                            env=environment(), capture_output=True, encoding="utf-8", errors="replace")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Dataset502_PatientsT2: there is no test case" in output and "nothing was trained" in output, output
    assert not list((tmp_path / "out" / "logs").glob("train*")) and not list(tmp_path.rglob("checkpoint_*.pth"))
    # handed to `convert` as a file, not as options turned back into strings
    handed = json.loads((tmp_path / "out" / "conversion_settings.json").read_text(encoding="utf-8"))
    assert handed == {"layout": None, "settings": {"folds": 1, "t2_test_fraction": 0.0}, "accept": []}
    convert_command = (tmp_path / "out" / "logs" / "convert.log").read_text(encoding="utf-8").splitlines()[1]
    assert "--settings" in convert_command and "fraction" not in convert_command


@pytest.mark.parametrize("arguments, message", [
    (["--strategies", "open", "ft4"], "unknown strategy ft4"),
    (["--folds", "2"], "no fold 2"),
    (["--seeds", "-1"], "seeds are non-negative"),
    (["--data", "/nonexistent/patients"], "no such folder"),
    (["--min-head-dice", "2"], "--min-head-dice must lie in [0, 1], not 2"),
])
def test_bad_arguments_are_user_errors(tmp_path, arguments, message):
    command = [str(BIN / "nnunet-t1t2"), "study", "--data", str(tmp_path), "--out", str(tmp_path / "out"),
               "--preset", "demo", *arguments]
    result = subprocess.run(command, env=environment(), capture_output=True, encoding="utf-8", errors="replace")
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_an_unwritable_output_folder_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("", encoding="utf-8")
    result = subprocess.run(study_command(tmp_path, tmp_path / "file"), env=environment(), capture_output=True,
                            encoding="utf-8", errors="replace")
    assert result.returncode == 2 and "is not a folder" in result.stderr


def test_demo_preset_is_representative():
    demo = {s.family for s in PRESETS["demo"].strategies}
    assert demo == {"none", "open", "conservative", "hybrid", "augmentation"}
    assert PRESETS["paper"].strategies == tuple(STRATEGIES.values()) and PRESETS["paper"].folds == (0, 1, 2)


def test_environment_schedule_overrides_the_preset():
    protocol = make_protocol("demo", environ={"NNUNET_T1T2_EPOCHS": "3"})
    assert protocol.schedule["NNUNET_T1T2_EPOCHS"] == "3" and protocol.source_schedule["NNUNET_T1T2_EPOCHS"] == "3"
    assert protocol.schedule["NNUNET_T1T2_ITERATIONS"] == "12"
    assert protocol.source_schedule["NNUNET_T1T2_VAL_ITERATIONS"] == "4"  # the preset's own for the source
    assert protocol.source_schedule["NNUNET_T1T2_PATIENCE"] == "4"
    assert protocol.source_schedule["NNUNET_T1T2_ITERATIONS"] == "24"  # twice the strategies' steps per epoch
    overridden = make_protocol("demo", environ={"NNUNET_T1T2_ITERATIONS": "2"})
    assert overridden.source_schedule["NNUNET_T1T2_ITERATIONS"] == "2"  # the caller's variables win
    assert protocol.training_environment("source", 0).items() >= protocol.source_schedule.items()
    assert protocol.training_environment("augmentation", 0).items() >= protocol.source_schedule.items()
    assert protocol.training_environment("open", 2).items() >= {**protocol.schedule, "NNUNET_T1T2_SEED": "2"}.items()
    with pytest.raises(UserError):
        make_protocol("demo", environ={"NNUNET_T1T2_ITERATIONS": "0"})


def test_paper_comparison_tables_repeat_the_fold_tables():
    """Tables 6 to 8 repeat rows of Tables 3 to 5: a check of the transcription."""
    averages = {row.strategy: row.values for rows in FOLD_TABLES.values() for row in rows if row.fold in ("", "avg")}
    for tissue, (_, rows) in COMPARISON_TABLES.items():
        for row in rows:
            assert averages[row.strategy][tissue] == row.values, (tissue, row.strategy)
