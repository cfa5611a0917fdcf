"""Run nnU-Net's and nnunet-t1t2's commands in the study's environment, each into its step's log.

Every command sees the study's own nnU-Net folders, our trainers folder as ``nnUNet_extTrainer``
and, on the CPU, nnU-Net's settings that keep two cores busy with work instead of worker processes;
a training also its model's schedule and mirroring variables. The commands are the console scripts installed next to
this Python, so the study runs them from whichever environment it was started in.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Mapping

from nnunet_t1t2.environment import environment_set
from nnunet_t1t2.errors import UserError

#: On the CPU: no compilation, one export process in nnU-Net's validation (it starts 8 otherwise).
CPU_SETTINGS = {"nnUNet_compile": "f", "nnUNet_def_n_proc": "1"}
#: On the CPU, training only: augmentation in the training process. (Not for planning, where
#: nnU-Net passes the value to torch.set_num_threads, which refuses 0.)
CPU_TRAINING_SETTINGS = {"nnUNet_n_proc_DA": "0"}
LOG_TAIL_LINES = 15
NNUNET_FOLDERS = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results")
#: Variables the study sets itself: nnU-Net's, and nnunet-t1t2's schedule, mirroring and source override.
STUDY_OWNED_PREFIXES = ("nnUNet_", "NNUNET_T1T2_")
#: Set by the study's cluster for each Dask worker (its GPUs and its share of the cores): a command
#: takes them from the worker that runs it, never from the process that started the study.
WORKER_VARIABLES = ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "nnUNet_n_proc_DA",
                    "nnUNet_def_n_proc")
#: Seconds a stopped command has to end after SIGTERM before it is killed.
STOP_GRACE_S = 10

_running: dict[str, set[subprocess.Popen]] = defaultdict(set)
_running_lock = threading.Lock()


class CommandFailed(UserError):
    """A command of a step exited with an unexpected status; the message points at its log."""


@dataclass(frozen=True)
class CommandRunner:
    environment: Mapping[str, str]
    device: str

    @classmethod
    def for_study(cls, raw: Path, preprocessed: Path, results: Path, device: str) -> CommandRunner:
        """The caller's environment with its nnU-Net and nnunet-t1t2 variables replaced by the study's."""
        from nnunet_t1t2.discovery import trainers_folder

        environment = {k: v for k, v in os.environ.items() if not k.startswith(STUDY_OWNED_PREFIXES)}
        environment.update(nnUNet_raw=str(raw), nnUNet_preprocessed=str(preprocessed), nnUNet_results=str(results),
                           nnUNet_extTrainer=str(trainers_folder()))
        if device == "cpu":
            environment.update(CPU_SETTINGS)
        return cls(environment, device)

    @property
    def study(self) -> str:
        """The study these commands work for, named by its ``nnUNet_raw`` folder."""
        return self.environment["nnUNet_raw"]

    def run(self, command: list[str], log: Path, accepted_exit_codes: tuple[int, ...] = (0,),
            training: Mapping[str, str] | None = None, variables: Mapping[str, str] | None = None) -> int:
        """Run ``command`` (its first word a console script of this environment), appending its
        output to ``log``; return its exit status, or raise :class:`CommandFailed`. A training
        passes its schedule variables as ``training``; ``variables`` are others of this command
        alone (a seed's ``nnUNet_results``)."""
        environment = {**self.environment, **(variables or {})}
        if training is not None:
            environment.update(training)
            if self.device == "cpu":
                environment.update(CPU_TRAINING_SETTINGS)
        argv = [str(executable(command[0])), *command[1:]]
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as output:
            output.write(f"\n$ {shlex.join(command)}\n")
            output.flush()
            process = subprocess.Popen(argv, env=environment, stdout=output, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
            with _running_lock:
                _running[self.study].add(process)
            try:
                status = process.wait()
            finally:
                with _running_lock:
                    _running[self.study].discard(process)
        if status not in accepted_exit_codes:
            raise CommandFailed(f"`{shlex.join(command)}` exited with status {status}; its output is in {log}:\n"
                                + tail(log))
        return status

    def on_worker(self) -> CommandRunner:
        """This runner as the Dask worker it is running on needs it: the worker's own
        :data:`WORKER_VARIABLES` instead of the study process's."""
        environment = {k: v for k, v in self.environment.items() if k not in WORKER_VARIABLES}
        environment.update({k: os.environ[k] for k in WORKER_VARIABLES if k in os.environ})
        if self.device == "cpu":
            environment.update(CPU_SETTINGS)
        return replace(self, environment=environment)

    @contextmanager
    def nnunet_folders_in_process(self) -> Iterator[None]:
        """The study's nnU-Net folders in this process's environment, for the few library calls
        the study makes itself (re-installing splits); restored afterwards."""
        with environment_set({k: v for k, v in self.environment.items() if k in NNUNET_FOLDERS}):
            yield


def stop_commands(study: str) -> int:
    """Stop the commands of ``study`` that run in this process (a Dask worker): SIGTERM, SIGKILL after
    :data:`STOP_GRACE_S`; return how many were running. A study that is interrupted calls it on
    every worker before it releases its lock: a worker's command is not its child, and would otherwise go
    on writing into the study's folders while a re-run starts the same step."""
    with _running_lock:
        processes = list(_running.pop(study, ()))
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return len(processes)


def executable(name: str) -> Path:
    """The console script ``name`` installed beside the running Python."""
    path = Path(sys.executable).parent / name
    if not path.is_file():
        raise UserError(f"{name} is not installed in this Python environment ({path.parent}); "
                        f"install nnunetv2 and nnunet-t1t2 into it")
    return path


def tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()[-lines:]
    return "\n".join("    " + line[-300:] for line in text)
