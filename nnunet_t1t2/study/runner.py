"""Run a study: set up its folder, then its steps as a dependency graph on a Dask cluster.

Each step becomes a Dask task once the steps it needs have finished (:mod:`.graph`) and it is
not done already; a worker runs it as stock ``nnUNetv2_*`` / ``nnunet-t1t2`` commands, each into
the step's log. Only this process records finished steps, one progress line each. A failed step
stops only the steps that need it; the rest finish, the report is written from what exists and
names what failed, and the study then ends with a message naming each failed step and its log.
Running the same command again skips what finished and picks up where each branch stopped.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator, TextIO

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.output_folder import writable_folder
from nnunet_t1t2.study.cluster import (RESOURCE, ClusterOptions, dashboard_link, pin_worker_to_its_cores,
                                       study_client, worker_cores)
from nnunet_t1t2.study.commands import CommandRunner, stop_commands
from nnunet_t1t2.study.context import StudyContext
from nnunet_t1t2.study.graph import dependencies
from nnunet_t1t2.study.layout import StudyLayout
from nnunet_t1t2.study.markdown import duration
from nnunet_t1t2.study.protocol import Protocol
from nnunet_t1t2.study.state import STUDY_PROCESS, StudyLock, StudyState
from nnunet_t1t2.study.steps import ReportStep, Step, TrainStep, study_steps

PHANTOM = "phantom"
#: nnU-Net's preprocessing processes per step, at most (as many as the worker has cores, up to this).
MAX_PREPROCESSING_PROCESSES = 8


def run_study(protocol: Protocol, data: str, out: Path, device: str | None = None,
              stream: TextIO = sys.stdout, cluster: ClusterOptions = ClusterOptions()) -> Path:
    """Run (or continue) the study of ``protocol`` on ``data`` (a folder of patients, or "phantom")
    in ``out`` on the Dask cluster ``cluster`` describes; return the report's path."""
    from nnunet_t1t2.conversion.pipeline import default_name

    out = writable_folder(out)
    data_dir = out / PHANTOM if data == PHANTOM else existing_data_folder(data)
    layout = StudyLayout(out, default_name(data_dir), protocol.plans_name)
    device = device or default_device()
    runner = CommandRunner.for_study(layout.raw, layout.preprocessed, layout.results, device)
    with StudyLock(out), sigterm_interrupts():
        state = StudyState.open(layout.state, protocol.setup(PHANTOM if data == PHANTOM else str(data_dir)))
        state.forget_failures()
        context = StudyContext(protocol, layout, runner, data_dir,
                               workers=min(os.cpu_count() or 1, MAX_PREPROCESSING_PROCESSES),
                               gpus_per_training=cluster.gpus_per_training)
        steps = study_steps(protocol, generate_phantom=data == PHANTOM)
        print(f"study in {out} ({protocol.preset} preset, device {device}); logs in {out / 'logs'}", file=stream)
        started = time.perf_counter()
        with study_client(cluster, device, out / "logs" / "dask", stream) as client:
            failed = StudyExecution(client, steps, context, state, stream).run()
        failed.update(write_report(steps, context, state, stream))
        print(f"study finished in {duration(time.perf_counter() - started)}", file=stream)
    if failed:
        numbers = {step.key: number for number, step in enumerate(steps, 1)}
        raise UserError("\n".join(f"step [{numbers[key]}/{len(steps)}] {title} failed: {error}"
                                  for key, (title, error) in failed.items())
                        + f"\nThe report {layout.report} shows what finished. Fix the cause and run the same command "
                          f"again; finished steps are skipped.")
    return layout.report


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``kill``, a batch system's stop) ends the study as Ctrl-C does, through its clean-up:
    the steps' commands stopped, the cluster closed, the lock released. In this process only: a
    process forked from it gets the default back (multiprocessing's pools end their workers with SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    study_process = os.getpid()

    def interrupt(signum, frame):
        if os.getpid() != study_process:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop_running_commands(client, study: str, stream: TextIO) -> None:
    """Stop the commands the study's steps run on every worker of ``client``'s cluster (other studies'
    on a shared cluster go on)."""
    try:
        answers = client.run(stop_commands, study, on_error="return").values()
    except Exception as e:  # the cluster is going away itself: nothing more to do
        print(f"could not reach the workers to stop the running steps' commands: {e}", file=stream)
        return
    stopped = sum(answer for answer in answers if isinstance(answer, int))
    print(f"stopped the commands of {stopped} running step(s)", file=stream, flush=True)


def run_step_on_worker(step: Step, context: StudyContext) -> dict:
    """The Dask task of ``step``: run it with this worker's share of the machine."""
    from distributed import get_worker

    pin_worker_to_its_cores()
    context = replace(context, runner=context.runner.on_worker(),
                      workers=min(worker_cores(), MAX_PREPROCESSING_PROCESSES))
    started = time.time()
    step.run(context)
    return {"worker": f"{get_worker().name} on {socket.gethostname()}", "started": started,
            "seconds": time.time() - started}


class StudyExecution:
    """Submits each step when the steps it needs have finished, records what comes back."""

    def __init__(self, client, steps: list[Step], context: StudyContext, state: StudyState, stream: TextIO):
        from distributed import as_completed

        self.client, self.context, self.state, self.stream = client, context, state, stream
        self.steps = {step.key: step for step in steps}
        self.numbers = {step.key: number for number, step in enumerate(steps, 1)}
        self.total = len(steps)
        self.waiting = dependencies(steps)
        self.done: set[str] = set()
        self.failed: dict[str, tuple[str, str]] = {}
        self.not_run: set[str] = set()
        self.in_flight: dict = {}
        self.completed = as_completed()
        self.dashboard = dashboard_link(client)

    def run(self) -> dict[str, tuple[str, str]]:
        """Run every step; return the failed ones as key -> (title, error)."""
        try:
            return self.run_until_done()
        except BaseException:  # Ctrl-C, SIGTERM: no step may go on once the study has released its lock
            self.client.cancel(list(self.in_flight))  # the queued ones must not start
            stop_running_commands(self.client, self.context.runner.study, self.stream)
            raise

    def run_until_done(self) -> dict[str, tuple[str, str]]:
        self.submit_ready()
        for future in self.completed:
            key = self.in_flight.pop(future)
            step = self.steps[key]
            if future.status == "finished":
                result = future.result()
                self.state.record(key, step.title, result["seconds"], result["worker"], result["started"])
                self.done.add(key)
                outcome = f"done in {result['seconds']:.0f} s on {result['worker']}"
            else:
                message = failure(future)
                self.state.record_failure(key, step.title, message)
                self.failed[key] = (step.title, message)
                outcome = f"failed (log: {self.context.layout.log_file(key)})"
            future.release()
            self.progress(key, outcome)
            self.submit_ready()
        return self.failed

    def submit_ready(self) -> None:
        """Skip what is done, give up on what needs a failed step, submit what can run now."""
        changed = True
        while changed:
            changed = False
            for key, needs in list(self.waiting.items()):
                blocked = [n for n in needs if n in self.failed or n in self.not_run]
                if blocked:
                    del self.waiting[key]
                    self.not_run.add(key)
                    self.line(key, f"not run: it needs {self.steps[blocked[0]].title}, which did not finish")
                    changed = True
                elif all(n in self.done for n in needs):
                    del self.waiting[key]
                    changed = True
                    step = self.steps[key]
                    if step.is_done(self.context, self.state):
                        self.done.add(key)
                        if not self.state.is_recorded(key):  # judged by its files: a killed run finished it
                            log = self.context.layout.log_file(key)
                            finished = log.stat().st_mtime if log.is_file() else time.time()
                            self.state.record_found(key, step.title, finished)
                        self.line(key, "skipped (done)")
                        continue
                    future = self.client.submit(run_step_on_worker, step, self.context, key=key, pure=False,
                                                resources={RESOURCE: 1}, priority=int(isinstance(step, TrainStep)))
                    self.in_flight[future] = key
                    self.completed.add(future)

    def progress(self, key: str, outcome: str) -> None:
        workers = len(self.client.scheduler_info().get("workers", {}))
        running = min(len(self.in_flight), workers)
        waiting = len(self.in_flight) - running + len(self.waiting)
        self.line(key, f"{outcome} (running {running}, done {len(self.done)}, failed {len(self.failed)}, "
                       f"waiting {waiting}; dashboard {self.dashboard})")

    def line(self, key: str, outcome: str) -> None:
        print(f"[{self.numbers[key]}/{self.total}] {self.steps[key].title} ... {outcome}", file=self.stream,
              flush=True)


def failure(future) -> str:
    """What went wrong in a task: a step's own message, or what Dask says (a lost worker, a cancel)."""
    if future.cancelled():
        return "cancelled (the Dask cluster lost it)"
    error = future.exception()
    return str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"


def write_report(steps: list[Step], context: StudyContext, state: StudyState,
                 stream: TextIO) -> dict[str, tuple[str, str]]:
    """The report, from whatever finished (also after failures); its own failure if it fails."""
    report = next(step for step in steps if isinstance(step, ReportStep))
    number = f"[{len(steps)}/{len(steps)}] {report.title} ..."
    started = time.time()
    try:
        report.run(context)
    except Exception as e:  # the study's other results stay valid; say why the report is missing
        message = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        state.record_failure(report.key, report.title, message)
        print(f"{number} failed: {message}", file=stream, flush=True)
        return {report.key: (report.title, message)}
    seconds = time.time() - started
    state.record(report.key, report.title, seconds, STUDY_PROCESS, started)
    print(f"{number} done in {seconds:.0f} s", file=stream, flush=True)
    return {}


def existing_data_folder(data: str) -> Path:
    folder = Path(data).resolve()
    if not folder.is_dir():
        raise UserError(f"--data {data}: no such folder. Give a folder of patients <patient>/{{t1,t2,ct}} "
                        f"(see `nnunet-t1t2 convert --help`), or `--data phantom` for the built-in phantom")
    return folder


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
