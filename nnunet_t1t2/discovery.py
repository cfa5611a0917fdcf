"""How stock nnU-Net finds nnunet-t1t2's trainers, with no set-up step.

nnU-Net looks up ``-tr NAME`` in its own trainer package, then in each folder of
``nnUNet_extTrainer`` (``os.pathsep``-separated), importing every module there. The wheel (and an
editable install) puts ``nnunet_t1t2-trainers.pth`` into site-packages; at interpreter start it
appends :func:`trainers_folder` to ``nnUNet_extTrainer``, after the folders a user listed there.
That folder holds one module re-exporting ``nnunet_t1t2.trainers``, so nnU-Net does not import our
trainer modules a second time under top-level names. The .pth only looks the package up
(``importlib.util.find_spec``): it imports neither torch, nnU-Net nor this package. Nothing is
written into nnU-Net's folder, so ``pip uninstall nnunet-t1t2`` (which removes the .pth) leaves
nnU-Net exactly as it was.

Where no .pth runs (a source checkout that is not installed, ``python -S``), :func:`with_our_trainers`
does the same for an environment; ``nnunet-t1t2 trainers-path`` prints the folder for explicit set-ups.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from nnunet_t1t2.errors import UserError

#: What nnunet-t1t2 0.1's ``register-trainers`` wrote into nnU-Net's trainer folder. Unguarded, it
#: breaks every nnU-Net trainer lookup once nnunet-t1t2 is uninstalled; ``unregister-trainers`` removes it.
OLD_SHIM_NAME = "nnunet_t1t2_trainers.py"
OLD_SHIM_TEXT = '''"""Makes nnunet-t1t2's trainers visible to nnU-Net. Written by `nnunet-t1t2 register-trainers`;
remove with `nnunet-t1t2 unregister-trainers`."""
from nnunet_t1t2.trainers import *  # noqa: F401,F403
'''


def trainers_folder() -> Path:
    """The folder to list in ``nnUNet_extTrainer``."""
    return Path(__file__).parent / "nnunet_ext_trainer"


def with_our_trainers(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` with :func:`trainers_folder` appended to ``nnUNet_extTrainer`` (once, after
    the folders already listed), as the installed .pth does at interpreter start."""
    listed = [p for p in environment.get("nnUNet_extTrainer", "").split(os.pathsep) if p]
    ours = str(trainers_folder())
    if ours in listed:
        return dict(environment)
    return {**environment, "nnUNet_extTrainer": os.pathsep.join([*listed, ours])}


def find_trainer_class(name: str) -> type:
    """A trainer class by name, as stock nnU-Net finds it (its own folder, then ``nnUNet_extTrainer``
    with our folder in it)."""
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    os.environ.update(with_our_trainers(os.environ))
    try:
        return recursive_find_trainer_class_by_name(name)
    except RuntimeError:
        raise UserError(f"trainer {name} not found by nnU-Net (nnUNet_extTrainer is "
                        f"{os.environ['nnUNet_extTrainer']}); `nnunet-t1t2 trainers` lists ours") from None


def old_shim_path() -> Path:
    import nnunetv2

    return Path(nnunetv2.__path__[0]) / "training" / "nnUNetTrainer" / OLD_SHIM_NAME


def remove_old_shim() -> Path | None:
    """Delete the module that nnunet-t1t2 0.1's ``register-trainers`` wrote (only that exact file);
    return its path if removed."""
    path = old_shim_path()
    if not path.is_file():
        return None
    if path.read_text(encoding="utf-8") != OLD_SHIM_TEXT:
        raise UserError(f"{path} was not written by nnunet-t1t2 register-trainers; not removing it")
    path.unlink()
    return path
