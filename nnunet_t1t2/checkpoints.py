"""Loading nnU-Net checkpoints as data, never as code.

A checkpoint is a pickle, and unpickling runs whatever functions the file names: a model zip, a
model folder or a source checkpoint from a collaborator could run anything as the user at
``predict``, ``link`` or training time. So every checkpoint this project loads, or hands to
nnU-Net, is first opened with torch's safe loader (``weights_only=True``), which builds tensors
and plain containers only, plus the numpy scalars in which nnU-Net's trainer logs its metrics
(:func:`nnunet_types`). A checkpoint that needs anything else is refused, naming what it holds,
unless the user trusts it explicitly: :data:`TRUST_OPTION` on our commands, :data:`TRUST_VARIABLE`
for nnU-Net's own (``nnUNetv2_train`` with a transfer trainer).
"""
from __future__ import annotations

import os
from pathlib import Path

from nnunet_t1t2.errors import UserError

TRUST_OPTION = "--trust-checkpoint"
TRUST_VARIABLE = "NNUNET_T1T2_TRUST_CHECKPOINTS"
TRUST_HELP = ("load checkpoints that hold more than weights and plain values, which runs code they name: only "
              f"for models from a source you trust (nnUNetv2_train: {TRUST_VARIABLE}=1)")
#: What nnU-Net's ``save_checkpoint`` writes; a file without these is not a trained nnU-Net model.
NNUNET_KEYS = {"network_weights", "init_args", "trainer_name"}


def nnunet_types() -> list:
    """The non-tensor types in nnU-Net's checkpoints: its logger keeps losses and Dice scores as
    numpy float scalars (under numpy 2's module name and numpy 1's)."""
    import numpy as np

    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    return [(scalar, "numpy._core.multiarray.scalar"), (scalar, "numpy.core.multiarray.scalar"), np.dtype,
            type(np.dtype("float32")), type(np.dtype("float64"))]


def trusted(trust: bool = False) -> bool:
    """Whether the user vouched for the checkpoints: the option, or :data:`TRUST_VARIABLE` set to 1."""
    return trust or os.environ.get(TRUST_VARIABLE) == "1"


def load_checkpoint(path: Path, trust: bool = False, what: str = "checkpoint") -> dict:
    """The nnU-Net checkpoint at ``path``, on the CPU, loaded as data only unless :func:`trusted`;
    a :class:`UserError` naming the file (as ``what``) if it is missing, unreadable, not nnU-Net's,
    or holds code."""
    import torch
    from torch.serialization import get_unsafe_globals_in_checkpoint, safe_globals

    if not path.is_file():
        raise UserError(f"{what} {path} does not exist")
    try:
        if trusted(trust):
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        else:
            with safe_globals(nnunet_types()):
                checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated, foreign or unsafe files
        try:
            with safe_globals(nnunet_types()):
                unsafe = get_unsafe_globals_in_checkpoint(path)
        except Exception:  # not even a torch.save zip: unreadable, whatever it holds
            unsafe = []
        if unsafe:
            raise UserError(
                f"{what} {path} holds more than weights and plain values ({', '.join(unsafe)}); loading it "
                f"would run code that it names. If you trust where it comes from, load it with {TRUST_OPTION} "
                f"(nnUNetv2_train: {TRUST_VARIABLE}=1)") from None
        raise UserError(f"cannot read {what} {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None
    if not isinstance(checkpoint, dict) or not NNUNET_KEYS <= checkpoint.keys():
        raise UserError(f"{path} is not an nnU-Net checkpoint (no {'/'.join(sorted(NNUNET_KEYS))})")
    return checkpoint
