"""``OUT/study_state.json``: the study's set-up and every finished step with its duration.

A step is recorded only after it succeeded, and the file is replaced atomically, so a study killed
at any moment leaves a state that names exactly the steps that finished. The set-up a study
started with is kept: continuing it with other data, plans or schedule would mix results, so that
is refused.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from nnunet_t1t2.atomic import write_json_atomically
from nnunet_t1t2.errors import UserError


class StudyState:
    def __init__(self, path: Path, setup: dict, steps: dict[str, dict]):
        self.path = path
        self.setup = setup
        self.steps = steps

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
        return cls(path, setup, steps)

    def is_recorded(self, key: str) -> bool:
        return key in self.steps

    def record(self, key: str, title: str, seconds: float) -> None:
        self.steps[key] = {"title": title, "seconds": round(seconds, 1),
                           "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.save()

    def save(self) -> None:
        write_json_atomically(self.path, {"setup": self.setup, "steps": self.steps})
