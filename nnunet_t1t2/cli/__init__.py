"""``nnunet-t1t2 <verb>``: one module per verb, imported only when that verb runs.

Each verb module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Verb modules keep heavy imports (torch, nnU-Net, SimpleITK) inside ``run`` so that
``nnunet-t1t2 --help`` stays instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from nnunet_t1t2.errors import UserError

VERBS = {
    "phantom": "nnunet_t1t2.cli.phantom",
    "convert": "nnunet_t1t2.cli.convert",
    "plans": "nnunet_t1t2.cli.plans",
    "link": "nnunet_t1t2.cli.link",
    "trainers": "nnunet_t1t2.cli.trainers",
    "trainers-path": "nnunet_t1t2.cli.trainers_path",
    "unregister-trainers": "nnunet_t1t2.cli.unregister_trainers",
    "evaluate": "nnunet_t1t2.cli.evaluate",
    "predict": "nnunet_t1t2.cli.predict",
    "study": "nnunet_t1t2.cli.study",
    "demo": "nnunet_t1t2.cli.demo",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnunet-t1t2",
        description="Transfer nnU-Net head segmentation (soft tissue, bone, air) from T1- to T2-weighted MR.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    for verb, module_name in VERBS.items():
        module = importlib.import_module(module_name)
        # argparse %-formats help strings (not descriptions), so a literal "%" must be doubled there.
        sub = verbs.add_parser(verb, help=module.HELP.replace("%", "%%"), description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
