"""``nnunet-t1t2 trainers``: every trainer with its one-line purpose, to pick a ``-tr`` without reading code."""
from __future__ import annotations

import argparse
import inspect

HELP = "list every trainer of nnunet-t1t2 (the _Paper and FineTune<n>Conv families included) with its purpose"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def trainer_purposes() -> dict[str, str]:
    """Every exported trainer with the first paragraph of its own docstring (not a base class's), on one line."""
    import nnunet_t1t2.trainers as ours

    return {name: " ".join(inspect.cleandoc(vars(getattr(ours, name)).get("__doc__") or "").split("\n\n")[0].split())
            for name in ours.__all__}


def run(args: argparse.Namespace) -> int:
    purposes = trainer_purposes()
    width = max(map(len, purposes))
    for name, purpose in purposes.items():
        print(f"{name:<{width}}  {purpose}")
    return 0
