"""Installing a converted case's files as one unit (see :mod:`nnunet_t1t2.atomic` for the naming)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from nnunet_t1t2.atomic import partial_name


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
