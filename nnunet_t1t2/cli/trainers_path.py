"""``nnunet-t1t2 trainers-path``: the folder to put in ``nnUNet_extTrainer``."""
from __future__ import annotations

import argparse

HELP = "print the folder of nnunet-t1t2's trainers, for: export nnUNet_extTrainer=$(nnunet-t1t2 trainers-path)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.discovery import trainers_folder

    print(trainers_folder())
    return 0
