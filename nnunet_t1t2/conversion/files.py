"""Writing files so that an interruption never leaves a half-written one where nnU-Net looks.

Everything is first written under a temporary name in its destination folder (same file system)
and then renamed with :func:`os.replace`, which is atomic. Temporary names start with a dot and end
in ``.partial``, so nnU-Net, which lists ``*.nii.gz``, never picks one up, and the next conversion
removes any that a killed run left behind.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def partial_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{PARTIAL_SUFFIX}")


def write_json_atomically(path: Path, data) -> None:
    """Write ``data`` as JSON, leaving an identical file untouched (a re-run changes nothing)."""
    text = json.dumps(data, indent=2) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_name(path)
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def install_files(staged_to_final: Mapping[Path, Path]) -> None:
    """Copy staged files to their final paths as one unit: all are copied to temporary names first
    (a failure there removes the copies and leaves the destinations untouched), then renamed in the
    order given, so the file that makes a case visible to nnU-Net (its image) can come last."""
    partials: list[tuple[Path, Path]] = []
    try:
        for staged, final in staged_to_final.items():
            final.parent.mkdir(parents=True, exist_ok=True)
            partials.append((partial_name(final), final))
            shutil.copyfile(staged, partials[-1][0])
    except BaseException:
        for partial, _ in partials:
            partial.unlink(missing_ok=True)
        raise
    for partial, final in partials:
        os.replace(partial, final)
