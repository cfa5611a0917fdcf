"""``nnunet-t1t2 trainers-path``: the folder that the installed .pth adds to ``nnUNet_extTrainer``."""
from __future__ import annotations

import argparse

HELP = ("print the folder that nnU-Net searches for nnunet-t1t2's trainers (added to nnUNet_extTrainer "
        "automatically by the install; for explicit set-ups)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.discovery import trainers_folder

    print(trainers_folder())
    return 0
