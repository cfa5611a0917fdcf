"""``OUT/study_state.json``: the study's set-up and every finished step with its duration.

A step is recorded only after it succeeded, and the file is replaced atomically, so a study killed
at any moment leaves a state that names exactly the steps that finished. The set-up a study
started with is kept: continuing it with other data, plans or schedule would mix results, so that
is refused.

Only the process that runs the study (the Dask client) writes the state, as each task's result
comes back, so concurrent task completions never race; a lock file next to it keeps a second
study out of the same folder.
"""
from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from nnunet_t1t2.atomic import write_json_atomically
from nnunet_t1t2.errors import UserError

#: The worker recorded for a step a run finished but was stopped before recording (:meth:`StudyState.record_found`).
FOUND_AFTER_A_STOP = "an earlier run, stopped before recording it"
#: The worker recorded for the report, which the study process writes itself.
STUDY_PROCESS = "study process"


class StudyState:
    def __init__(self, path: Path, setup: dict, steps: dict[str, dict], failed: dict[str, dict] | None = None):
        self.path = path
        self.setup = setup
        self.steps = steps
        self.failed = failed or {}

    @classmethod
    def open(cls, path: Path, setup: dict) -> StudyState:
        """The state in ``path`` if it was made with ``setup``, a new one if there is none."""
        if not path.is_file():
            state = cls(path, setup, {})
            state.save()
            return state
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
            recorded, steps = content["setup"], content["steps"]
        except (ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path} is not a study state ({type(e).__name__}: {e}); delete it to start the "
                            f"study over in {path.parent}") from None
        differences = [f"{key}: {recorded.get(key)!r} before, {setup.get(key)!r} now"
                       for key in sorted(set(recorded) | set(setup)) if recorded.get(key) != setup.get(key)]
        if differences:
            raise UserError(f"{path.parent} holds a study with another set-up ({'; '.join(differences)}). "
                            f"Use another --out, or the same options as before to continue it.")
        return cls(path, setup, steps, content.get("failed"))

    def is_recorded(self, key: str) -> bool:
        return key in self.steps

    def record(self, key: str, title: str, seconds: float, worker: str = "", started: float | None = None) -> None:
        """A finished step: its duration, the Dask worker that ran it and its start and end times."""
        finished = time.time()
        self.steps[key] = {"title": title, "seconds": round(seconds, 1), "worker": worker,
                           "started": timestamp(finished - seconds if started is None else started),
                           "finished": timestamp(finished)}
        self.failed.pop(key, None)
        self.save()

    def record_found(self, key: str, title: str, finished: float) -> None:
        """A step whose results a run left finished on disk but was stopped before recording it (its
        duration and worker are unknown; ``finished`` is when its output was last written)."""
        self.steps[key] = {"title": title, "seconds": None, "worker": FOUND_AFTER_A_STOP,
                           "started": "", "finished": timestamp(finished)}
        self.failed.pop(key, None)
        self.save()

    def record_failure(self, key: str, title: str, error: str) -> None:
        """A step that failed in this run (kept until it succeeds), for the report to name."""
        self.failed[key] = {"title": title, "error": error, "failed": timestamp(time.time())}
        self.save()

    def forget_failures(self) -> None:
        """At the start of a run: the failures it reports are its own."""
        self.failed.clear()
        self.save()

    def save(self) -> None:
        write_json_atomically(self.path, {"setup": self.setup, "steps": self.steps, "failed": self.failed})


def timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))


class StudyLock:
    """``OUT/.study.lock``: held while a study runs in ``OUT``, so that two studies never write
    the same state and the same nnU-Net folders at once.

    Created with ``O_EXCL`` (atomic, also on NFS v3+) and naming its holder's host and process. A
    lock whose holder on this host no longer runs (a killed study) is taken over; one held from
    another host cannot be checked from here, so the message says how to remove it.
    """

    def __init__(self, folder: Path):
        self.path = folder / ".study.lock"

    def __enter__(self) -> StudyLock:
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": timestamp(time.time())}
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale():
                    raise UserError(self._held_message()) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w", encoding="utf-8") as lock:
                json.dump(holder, lock)
            return self
        raise UserError(self._held_message())

    def __exit__(self, *exception) -> None:
        self.path.unlink(missing_ok=True)

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # being written this instant, or not ours

    def _stale(self) -> bool:
        holder = self._holder()
        if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
            return False
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _held_message(self) -> str:
        holder = self._holder()
        return (f"{self.path.parent} is in use by another study (host {holder.get('host', '?')}, process "
                f"{holder.get('pid', '?')}, since {holder.get('since', '?')}). Wait for it to finish, or use another "
                f"--out; if that study no longer runs, delete {self.path}")
