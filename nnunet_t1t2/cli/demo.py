"""``nnunet-t1t2 demo``: the study on the built-in phantom with the demo preset, minutes on a CPU."""
from __future__ import annotations

import argparse

HELP = "run the demo study (phantom data, demo preset, 6 strategies; about 14 minutes on 2 CPU cores)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="study folder; run the same command again to continue an interrupted demo")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nnunet_t1t2.study.protocol import make_protocol
    from nnunet_t1t2.study.runner import PHANTOM, run_study

    report = run_study(make_protocol("demo"), PHANTOM, Path(args.out))
    print(f"report: {report}")
    return 0
