"""The command-line reference, ``documentation/cli.md``, printed from the argparse definitions themselves.

A reference written by hand goes stale with every option added; this one is what ``--help`` prints, so
``tests/test_cli_reference.py`` can hold the committed file to it. Regenerate it with::

    python -m nnunet_t1t2.cli.reference > documentation/cli.md

The help is wrapped at a fixed width (not the terminal's, which argparse would take from ``COLUMNS``), so
the file is the same on every machine running the same Python (argparse's layout changes between Python
versions).
"""
from __future__ import annotations

import argparse
import functools
import sys

from nnunet_t1t2.cli import build_parser

WIDTH = 100
COMMAND = "python -m nnunet_t1t2.cli.reference > documentation/cli.md"


def verb_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each verb's parser, in the order ``nnunet-t1t2 --help`` lists them."""
    # argparse exposes sub-parsers only through the action that holds them.
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def help_text(parser: argparse.ArgumentParser) -> str:
    """``parser``'s ``--help``, wrapped at :data:`WIDTH` columns (from now on: it sets the parser's formatter)."""
    parser.formatter_class = functools.partial(parser.formatter_class, width=WIDTH)
    return parser.format_help()


def render(parser: argparse.ArgumentParser | None = None) -> str:
    """The reference as Markdown: the top-level help, a list of verbs, then each verb's ``--help``."""
    parser = parser or build_parser()
    verbs = verb_parsers(parser)
    lines = ["# Command-line reference", "",
             f"Every verb's `--help`, generated from the argparse definitions by `{COMMAND}`.",
             "`tests/test_cli_reference.py` fails when this file differs from what that prints: regenerate it "
             "instead of editing it.", ""]
    lines += [f"- [`{verb}`](#nnunet-t1t2-{verb}): {sub.description}" for verb, sub in verbs.items()]
    for title, sub in [(parser.prog, parser)] + [(sub.prog, sub) for sub in verbs.values()]:
        lines += ["", f"## {title}", "", "```text", help_text(sub).rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
