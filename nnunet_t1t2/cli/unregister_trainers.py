"""``nnunet-t1t2 unregister-trainers``: remove the module that nnunet-t1t2 0.1's ``register-trainers``
wrote into nnU-Net's trainer folder (it would break nnU-Net's trainer search after an uninstall)."""
from __future__ import annotations

import argparse

HELP = ("remove the module that nnunet-t1t2 0.1's register-trainers wrote into nnU-Net's trainer folder "
        "(no longer needed: the install makes the trainers visible)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.discovery import remove_old_shim

    removed = remove_old_shim()
    print(f"removed {removed}" if removed else "nothing to remove: no module of register-trainers in nnU-Net's folder")
    return 0
