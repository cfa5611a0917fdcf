"""How stock nnU-Net finds nnunet-t1t2's trainers.

nnU-Net looks up ``-tr NAME`` in its own ``nnunetv2/training/nnUNetTrainer`` package and then in
the folders listed in ``nnUNet_extTrainer``. Two routes, both working from a plain
``pip install``:

* ``export nnUNet_extTrainer=$(nnunet-t1t2 trainers-path)``: the installed ``trainers`` folder;
* ``nnunet-t1t2 register-trainers``: one small module inside nnU-Net's trainer folder that
  re-exports our trainers (``unregister-trainers`` deletes it). No environment variable needed,
  but it must be redone after reinstalling nnU-Net.
"""
from __future__ import annotations

import os
from pathlib import Path

from nnunet_t1t2.errors import UserError

SHIM_NAME = "nnunet_t1t2_trainers.py"
SHIM_TEXT = '''"""Makes nnunet-t1t2's trainers visible to nnU-Net. Written by `nnunet-t1t2 register-trainers`;
remove with `nnunet-t1t2 unregister-trainers`."""
from nnunet_t1t2.trainers import *  # noqa: F401,F403
'''


def trainers_folder() -> Path:
    import nnunet_t1t2.trainers

    return Path(nnunet_t1t2.trainers.__file__).parent


def shim_path() -> Path:
    import nnunetv2

    return Path(nnunetv2.__path__[0]) / "training" / "nnUNetTrainer" / SHIM_NAME


def register_trainers() -> Path:
    """Write the shim into nnU-Net's trainer folder (idempotent); return its path."""
    path = shim_path()
    try:
        path.write_text(SHIM_TEXT, encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}. Use export nnUNet_extTrainer=$(nnunet-t1t2 "
                        f"trainers-path) instead, or run with permission to write nnU-Net's folder.") from None
    return path


def unregister_trainers() -> Path | None:
    """Delete the shim if it is there (only a file that we wrote); return its path if removed."""
    path = shim_path()
    if not path.is_file():
        return None
    if path.read_text(encoding="utf-8") != SHIM_TEXT:
        raise UserError(f"{path} was not written by nnunet-t1t2 register-trainers; not removing it")
    path.unlink()
    return path


def find_trainer_class(name: str) -> type:
    """A trainer class by name: nnunet-t1t2's own without any set-up, any other as nnU-Net finds it
    (its own folder, then ``nnUNet_extTrainer``)."""
    import nnunet_t1t2.trainers as ours
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    if hasattr(ours, name):
        return getattr(ours, name)
    try:
        return recursive_find_trainer_class_by_name(name)
    except RuntimeError:
        raise UserError(f"trainer {name} not found by nnU-Net (nnUNet_extTrainer is "
                        f"{os.environ.get('nnUNet_extTrainer', 'not set')})") from None
