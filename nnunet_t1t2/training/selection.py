"""The model a training leaves is the one of its best epoch, not of its last.

A short training can learn a class and lose it again: on a data set unlike our phantom, the T1
source model's bone pseudo Dice rose and fell back to zero within a few epochs
(``benchmarks/source_variants.py`` records such curves), and the model it left (its last epoch's)
segmented no bone, so every T2 strategy started from a model without bone.
So every nnunet-t1t2 training ends by putting the weights of its *selected* epoch into
``checkpoint_final.pth`` (what nnU-Net's validation, ``nnUNetv2_predict``, export and our ``link``
use), and keeps the last epoch's full state as :data:`LAST_CHECKPOINT`.

The selected epoch is a pure function of the logged history (like the plateau rules): the best epoch
of the value the training is judged by (:func:`selection_signal`), the first to reach it by more
than the plateau's ``min_delta``; where that value never reached :data:`STARTED_DICE` nothing was
learned to select on, and the last epoch is kept. The weights of the best epoch so far travel with
``checkpoint_latest.pth`` in :data:`LATEST_SELECTION` (written with it), so that after ``--c`` the
epochs before the interruption compete as they would have.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from nnunet_t1t2.training.patience import STARTED_DICE, monitored_history, patience_epochs
from nnunet_t1t2.training.plateau import plateau_state

LAST_CHECKPOINT = "checkpoint_last.pth"
LATEST_CHECKPOINT = "checkpoint_latest.pth"
FINAL_CHECKPOINT = "checkpoint_final.pth"
#: The best weights so far, beside ``checkpoint_latest.pth`` and written with it.
LATEST_SELECTION = "checkpoint_latest_selection.pth"
EMA_SIGNAL = "ema_fg_dice"


def selection_signal(logger, labels: Mapping[str, int], foreground_labels: Sequence[int],
                     environ: Mapping[str, str] | None = None) -> tuple[str, list[float]]:
    """The value a training is judged by and its per-epoch history: with ``NNUNET_T1T2_PATIENCE``,
    the class it stops on (bone's pseudo Dice); otherwise nnU-Net's EMA pseudo Dice, which also
    picks its ``checkpoint_best.pth`` and the paper schedule's plateau."""
    patience = patience_epochs() if environ is None else patience_epochs(environ)
    if patience is not None:
        name, values = monitored_history(logger.get_value("dice_per_class_or_region", None), labels,
                                         foreground_labels)
        return f"{name} pseudo Dice", values
    return "EMA pseudo Dice", [float(v) for v in logger.get_value(EMA_SIGNAL, None)]


def selected_epoch(history: Sequence[float]) -> int | None:
    """The epoch whose weights the training leaves (None for a training of no epoch)."""
    if not history:
        return None
    best = plateau_state(history, lr_patience=len(history) + 1).best_epoch
    return best if history[best] >= STARTED_DICE else len(history) - 1


def weights_snapshot(network: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``network``'s state on the CPU, unaffected by further training."""
    return {key: value.detach().to("cpu", copy=True) for key, value in network.state_dict().items()}
