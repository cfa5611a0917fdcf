"""``nnunet-t1t2 demo``: the study on the built-in phantom with the demo preset, minutes on a CPU."""
from __future__ import annotations

import argparse

HELP = ("run the demo study: phantom data, the demo preset (CPU-sized), the T1 source model and one T2 strategy "
        "of each of the paper's families")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="study folder; run the same command again to continue an interrupted demo")
    parser.add_argument("--seeds", nargs="+", type=int, metavar="S",
                        help="training seeds (each seed trains every model once more) [0]")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nnunet_t1t2.study.protocol import make_protocol
    from nnunet_t1t2.study.runner import PHANTOM, run_study

    report = run_study(make_protocol("demo", seeds=args.seeds), PHANTOM, Path(args.out))
    print(f"report: {report}")
    return 0
