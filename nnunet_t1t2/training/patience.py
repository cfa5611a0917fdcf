"""Train until a class stops improving: ``NNUNET_T1T2_PATIENCE=<epochs>``.

A fixed number of iterations tuned on one data set does not transfer: on another data set the same
schedule stopped the T1 source model before it had learned any bone, and every strategy starting
from it scored 0. With a time budget instead (``NNUNET_T1T2_EPOCHS`` as the most epochs), the
training stops once the monitored class's validation pseudo Dice has not improved for
``NNUNET_T1T2_PATIENCE`` epochs.

The monitored class is bone where the data set has a ``bone`` label (the class the T1-to-T2
transfer is about, and the slowest to learn), else the mean over the foreground classes. The
signal is nnU-Net's own per-epoch ``dice_per_class_or_region`` (pseudo Dice on the validation
patches, logged and stored in every checkpoint, so ``--c`` continues with the same history). The
patience only starts counting once the class is learned at all (a best value of at least
:data:`STARTED_DICE`): a class still at zero is not a plateau, and such a training runs to its
budget.
"""
from __future__ import annotations

import os
from statistics import fmean
from typing import Mapping, Sequence

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.training.paper_schedule import EarlyStop
from nnunet_t1t2.training.plateau import plateau_state

PATIENCE_VARIABLE = "NNUNET_T1T2_PATIENCE"
MONITORED_LABEL = "bone"
#: Pseudo Dice a class must have reached before its patience counts (below: not learned yet).
STARTED_DICE = 0.1


def patience_epochs(environ: Mapping[str, str] = os.environ) -> int | None:
    """The patience in ``NNUNET_T1T2_PATIENCE`` (a positive integer), or None when unset."""
    if PATIENCE_VARIABLE not in environ:
        return None
    value = environ[PATIENCE_VARIABLE]
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"{PATIENCE_VARIABLE}={value!r}: use a positive number of epochs")
    return int(value)


def monitored_history(dice_per_class: Sequence[Sequence[float]], labels: Mapping[str, int],
                      foreground_labels: Sequence[int]) -> tuple[str, list[float]]:
    """The monitored class's name and its per-epoch pseudo Dice, from nnU-Net's logged
    ``dice_per_class_or_region`` (one entry per foreground label, in ``foreground_labels`` order)."""
    value = labels.get(MONITORED_LABEL)
    if isinstance(value, int) and value in foreground_labels:
        index = list(foreground_labels).index(value)
        return MONITORED_LABEL, [float(epoch[index]) for epoch in dice_per_class]
    return "mean foreground", [fmean(map(float, epoch)) for epoch in dice_per_class]


def plateau_reason(history: Sequence[float], patience: int) -> str | None:
    """Why to stop now (``history`` has not improved for ``patience`` epochs since it reached
    :data:`STARTED_DICE`), or None to go on."""
    state = plateau_state(history, patience)
    if state.best_epoch is None or history[state.best_epoch] < STARTED_DICE:
        return None
    if state.epochs_since_best < patience:
        return None
    return (f"no improvement for {state.epochs_since_best} epochs (best {history[state.best_epoch]:.4f} at epoch "
            f"{state.best_epoch})")


def stop_on_plateau(trainer) -> None:
    """Raise :class:`EarlyStop` at the start of an epoch the patience rule says not to run (for
    ``T1T2Trainer.on_epoch_start``); nothing when ``NNUNET_T1T2_PATIENCE`` is unset."""
    patience = patience_epochs()
    if patience is None:
        return
    history = trainer.logger.get_value("dice_per_class_or_region", None)[:trainer.current_epoch]
    name, values = monitored_history(history, trainer.dataset_json["labels"],
                                     trainer.label_manager.foreground_labels)
    reason = plateau_reason(values, patience)
    if reason is not None:
        trainer.print_to_log_file(f"Stopping ({PATIENCE_VARIABLE}={patience}): {name} pseudo Dice: {reason}.")
        raise EarlyStop
