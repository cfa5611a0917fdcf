"""``nnunet-t1t2 register-trainers``: make the trainers visible to nnU-Net without an environment variable."""
from __future__ import annotations

import argparse

HELP = "write a small removable module into nnU-Net's trainer folder that makes our trainers visible"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.discovery import register_trainers

    print(f"wrote {register_trainers()} (remove with: nnunet-t1t2 unregister-trainers)")
    return 0
