"""Writing files so that an interruption never leaves a half-written one where a reader looks.

Conversion, evaluation, the study and the trainers all write this way: first under a temporary
name in the destination folder (same file system), then renamed with :func:`os.replace`, which is
atomic. Temporary names start with a dot and end in ``.partial``, so nnU-Net, which lists
``*.nii.gz``, and the study, which looks for final names, never pick one up; the next run replaces
any that a killed run left behind.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def partial_name(path: Path) -> Path:
    """The hidden sibling a file (or folder) is written as before it is renamed to ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text``, leaving an identical file untouched (a re-run changes nothing)."""
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_name(path)
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_json_atomically(path: Path, data, indent: int = 2, sort_keys: bool = False) -> None:
    """``data`` as JSON, written with :func:`write_text_atomically`."""
    write_text_atomically(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")
