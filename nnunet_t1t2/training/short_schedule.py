"""Short training schedules through the real ``nnUNetv2_train`` entry point, set by environment.

Tests, the demo and quick checks need minutes, not nnU-Net's 1000 epochs of 250 iterations, and
they must still run the stock command. Rather than a ``_5epochs`` twin of every trainer, documented
variables override any nnunet-t1t2 trainer's schedule (the training log says so):

``NNUNET_T1T2_EPOCHS``          number of epochs
``NNUNET_T1T2_ITERATIONS``      training iterations per epoch
``NNUNET_T1T2_VAL_ITERATIONS``  validation iterations per epoch
``NNUNET_T1T2_MIRRORING=0``     no test-time mirroring: the final validation predicts each patch once
                                instead of eight times, and the saved model's inference does not mirror
                                either (as nnU-Net's ``nnUNetTrainerNoMirroring``; training augmentation
                                still mirrors)
``NNUNET_T1T2_SEED``            seed of initialisation, patch sampling and augmentation
                                (:mod:`nnunet_t1t2.training.seeding`)
"""
from __future__ import annotations

import os

from nnunet_t1t2.errors import UserError

MIRRORING_VARIABLE = "NNUNET_T1T2_MIRRORING"
SEED_VARIABLE = "NNUNET_T1T2_SEED"
EPOCHS_VARIABLE = "NNUNET_T1T2_EPOCHS"
SCHEDULE_VARIABLES = {
    EPOCHS_VARIABLE: "num_epochs",
    "NNUNET_T1T2_ITERATIONS": "num_iterations_per_epoch",
    "NNUNET_T1T2_VAL_ITERATIONS": "num_val_iterations_per_epoch",
}


def schedule_overrides(environ: dict[str, str] = os.environ) -> dict[str, int]:
    """Trainer attribute -> value for every schedule variable that is set."""
    overrides = {}
    for variable, attribute in SCHEDULE_VARIABLES.items():
        if variable not in environ:
            continue
        try:
            value = int(environ[variable])
        except ValueError:
            value = -1
        if value < 0 or (value == 0 and attribute != "num_epochs"):
            raise UserError(f"{variable}={environ[variable]!r} is not a valid {attribute.replace('_', ' ')}")
        overrides[attribute] = value
    return overrides


def inference_mirroring(environ: dict[str, str] = os.environ) -> bool:
    """False when ``NNUNET_T1T2_MIRRORING=0``."""
    value = environ.get(MIRRORING_VARIABLE, "1")
    if value not in ("0", "1"):
        raise UserError(f"{MIRRORING_VARIABLE}={value!r}: use 0 (no test-time mirroring) or 1")
    return value == "1"


def training_seed(environ: dict[str, str] = os.environ) -> int | None:
    """The seed in ``NNUNET_T1T2_SEED`` (a non-negative integer that numpy accepts), or None."""
    if SEED_VARIABLE not in environ:
        return None
    value = environ[SEED_VARIABLE]
    if not value.isdigit() or int(value) >= 2 ** 32:
        raise UserError(f"{SEED_VARIABLE}={value!r}: use an integer from 0 to {2 ** 32 - 1}")
    return int(value)
