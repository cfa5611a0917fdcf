"""The one check every command that writes a folder makes first, so that a bad ``--out`` fails
with a one-line message before any work, not with a traceback half way through."""
from __future__ import annotations

import os
from pathlib import Path

from nnunet_t1t2.errors import UserError


def writable_folder(out: Path) -> Path:
    """Create ``out`` if needed and return it resolved; refuse a file, an uncreatable or an
    unwritable folder with a :class:`UserError` naming it."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the output folder {out}: {e.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError(f"the output folder {out} is not writable")
    return out
