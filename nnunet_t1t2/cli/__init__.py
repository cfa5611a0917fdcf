"""``nnunet-t1t2 <verb>``: one module per verb, whose options are built only when that verb is chosen.

Each verb module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``, and
imports nothing heavy at module level. ``add_arguments`` may import what its choices come from (the
study's presets and strategies bring torch, the conversion layouts SimpleITK), so only the chosen
verb's parser is filled in: ``nnunet-t1t2 phantom ...`` does not pay for the study's imports, and
``nnunet-t1t2 --help`` for nobody's.
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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every verb, or with ``only`` the verbs listed and only that one's options filled in."""
    parser = argparse.ArgumentParser(
        prog="nnunet-t1t2",
        description="Transfer nnU-Net head segmentation (soft tissue, bone, air) from T1- to T2-weighted MR.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    for verb, module_name in VERBS.items():
        module = importlib.import_module(module_name)
        # argparse %-formats help strings (not descriptions), so a literal "%" must be doubled there.
        sub = verbs.add_parser(verb, help=module.HELP.replace("%", "%%"), description=module.HELP)
        if only is None or verb == only:
            module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The verb is the first argument: the top-level parser has no option but --help.
    args = build_parser(only=argv[0] if argv else "").parse_args(argv)
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
