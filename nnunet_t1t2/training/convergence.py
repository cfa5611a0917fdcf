"""Time to convergence, read off nnU-Net's own epoch log.

nnU-Net logs per epoch the start and end time and the EMA of the validation pseudo Dice (its
model-selection signal). The study compares strategies by total compute time to convergence, so
every nnunet-t1t2 trainer writes ``convergence.json`` next to its checkpoints.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def convergence_record(epoch_starts: Sequence[float], epoch_ends: Sequence[float],
                       ema_dice: Sequence[float], stopped_early: bool) -> dict:
    """Epochs and seconds in total and up to the epoch of the best EMA pseudo Dice."""
    durations = np.asarray(epoch_ends, dtype=float) - np.asarray(epoch_starts[: len(epoch_ends)], dtype=float)
    epochs = len(durations)
    best_epoch = int(np.argmax(ema_dice[:epochs])) if epochs else None
    return {
        "epochs_trained": epochs,
        "stopped_early": stopped_early,
        "best_epoch": best_epoch,
        "best_ema_pseudo_dice": float(ema_dice[best_epoch]) if epochs else None,
        "epochs_to_convergence": best_epoch + 1 if epochs else 0,
        "seconds_per_epoch": float(durations.mean()) if epochs else 0.0,
        "seconds_total": float(durations.sum()),
        "seconds_to_convergence": float(durations[: best_epoch + 1].sum()) if epochs else 0.0,
    }
