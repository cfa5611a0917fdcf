"""``nnunet-t1t2 unregister-trainers``: remove what ``register-trainers`` wrote."""
from __future__ import annotations

import argparse

HELP = "remove the module that register-trainers wrote into nnU-Net's trainer folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.discovery import unregister_trainers

    removed = unregister_trainers()
    print(f"removed {removed}" if removed else "nothing to remove: the trainers were not registered")
    return 0
