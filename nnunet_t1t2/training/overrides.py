"""What a training changed from its trainer's defaults, kept beside its checkpoints.

A model trained for 1 epoch of 2 iterations looks like any other in nnU-Net's results folder, and
``--c`` would happily continue it under another schedule, seed or mirroring setting, mixing two
trainings into one checkpoint. So every nnunet-t1t2 training writes :data:`OVERRIDES_FILE` in its
fold folder, and continuing is refused unless the overrides are the same. The one exception is
lengthening a short schedule on purpose (``NNUNET_T1T2_EPOCHS`` set again, to more epochs);
the file then lists the epochs of the runs it extended. Dropping the variable (nnU-Net's full
schedule continuing a short run) is refused like any other change.
"""
from __future__ import annotations

from pathlib import Path

from batchgenerators.utilities.file_and_folder_operations import load_json

from nnunet_t1t2.errors import UserError

OVERRIDES_FILE = "training_overrides.json"


COMPARED = ("schedule", "inference_mirroring", "seed", "patience")


def overrides_record(schedule: dict[str, int], inference_mirroring: bool, seed: int | None,
                     patience: int | None = None) -> dict:
    return {"schedule": dict(schedule), "inference_mirroring": inference_mirroring, "seed": seed,
            "patience": patience, "extended_from_epochs": []}


def recorded_overrides(fold_folder: Path) -> dict | None:
    path = Path(fold_folder) / OVERRIDES_FILE
    return load_json(str(path)) if path.is_file() else None


def continued_record(recorded: dict, current: dict, fold_folder: Path) -> dict:
    """The record for ``--c`` continuing a training recorded as ``recorded`` under ``current``
    overrides; a :class:`UserError` if the two would mix different trainings."""
    old_epochs, new_epochs = recorded["schedule"].get("num_epochs"), current["schedule"].get("num_epochs")
    lengthened = old_epochs is not None and new_epochs is not None and new_epochs > old_epochs
    differences = [f"{key} {recorded.get(key)!r} -> {current[key]!r}"
                   for key in COMPARED if recorded.get(key) != current[key]]
    same_otherwise = ({**recorded["schedule"], "num_epochs": new_epochs} == current["schedule"]
                      and all(recorded.get(k) == current[k] for k in COMPARED if k != "schedule"))
    if differences and not (lengthened and same_otherwise):
        raise UserError(
            f"cannot continue (--c) the training in {fold_folder}: it ran with other NNUNET_T1T2_* settings "
            f"({'; '.join(differences)}; see {OVERRIDES_FILE}). Continue with the same NNUNET_T1T2_EPOCHS/"
            f"ITERATIONS/VAL_ITERATIONS/MIRRORING/SEED/PATIENCE as before (only raising NNUNET_T1T2_EPOCHS "
            f"is allowed), or train from scratch without --c.")
    extended = list(recorded.get("extended_from_epochs", [])) + ([old_epochs] if lengthened else [])
    return {**current, "extended_from_epochs": extended}
