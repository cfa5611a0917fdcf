"""Where and when a benchmark ran: date, commit, machine and its load, recorded beside its results.

Timings on a machine shared with other work stretch with its load, and results belong to a version
of the code; a results file without these is not a measurement anyone can compare with.
"""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def commit() -> str:
    """The checked-out commit, with ``+changes`` when tracked files differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPOSITORY, capture_output=True,
                          encoding="utf-8", check=True).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=REPOSITORY).returncode != 0
    return head + ("+changes" if dirty else "")


def machine() -> dict:
    return {"host": platform.node(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version()}


def provenance() -> dict:
    """Date, commit, machine and the 1-minute load average now."""
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "commit": commit(),
            "machine": machine(), "load_1min": os.getloadavg()[0]}
