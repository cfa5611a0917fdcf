"""``nnunet-t1t2 convert``: paired MR/CT patients to nnU-Net raw data sets with CT-derived labels."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nnunet_t1t2.options import Setting

HELP = "turn paired MR/CT patients into the T1, T2 and T1T2 nnU-Net raw data sets (labels from CT)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nnunet_t1t2.conversion.layouts import LAYOUT_CHOICES, LAYOUTS

    parser.add_argument("--input", required=True, type=Path, help="folder with one sub-folder per patient")
    parser.add_argument("--layout", default=argparse.SUPPRESS, choices=LAYOUT_CHOICES,
                        help="; ".join(f"{name}: {layout.expects}" for name, layout in LAYOUTS.items())
                             + "; auto: whichever of these the folder holds, named in the summary [auto]")
    parser.add_argument("--t1-id", required=True, type=int, help="nnU-Net id of the T1 data set")
    parser.add_argument("--t2-id", type=int, help="nnU-Net id of the T2 data set [not written]")
    parser.add_argument("--t1t2-id", type=int, help="nnU-Net id of the T1T2 data set [not written]")
    parser.add_argument("--name", help="data set name [the input folder's name, letters and digits]")
    parser.add_argument("-np", type=int, default=1, help="patients converted in parallel [1]")
    parser.add_argument("--settings", type=Path, metavar="FILE",
                        help="the layout, settings and --accept of a JSON file (as `nnunet-t1t2 study` writes it: "
                             "conversion_settings.json); options given here take precedence")

    add_conversion_options(parser)


#: Settings the study does not take from its options: its number of folds is its preset's (and the
#: study's own ``--folds`` chooses which of them to train).
STUDY_OWN = ("folds",)


def add_conversion_options(parser: argparse.ArgumentParser, study: bool = False) -> None:
    """The options that decide a conversion's content, built from the settings' own definitions and
    shared with ``nnunet-t1t2 study`` (without :data:`STUDY_OWN`, and without the split's ``--seed``
    alias, which would shadow the study's ``--seeds``). An option not given stays out of the parsed
    namespace."""
    from nnunet_t1t2.conversion.quality import quality_limit_settings
    from nnunet_t1t2.conversion.splits import SplitProtocol
    from nnunet_t1t2.conversion.tissue import Thresholds
    from nnunet_t1t2.options import add_options, settings_of

    split = parser.add_argument_group("split (by patient; defaults are the paper's 50 T1 / 14 T2 patients)")
    add_options(split, offered(settings_of(SplitProtocol), study), aliases=not study)
    add_options(parser.add_argument_group("labels"), offered(settings_of(Thresholds), study))
    quality = parser.add_argument_group(
        "registration check (an image outside these limits is left out, unless kept with --accept)")
    add_options(quality, offered(quality_limit_settings(), study))
    quality.add_argument("--accept", action="append", metavar="PATIENT[:T1|T2]", default=argparse.SUPPRESS,
                         help="keep this image although the check refuses it (after looking at its qc/*.png); "
                              "repeatable; recorded in conversion.json")


def offered(settings: list[Setting], study: bool) -> list[Setting]:
    """The ``settings`` a verb has options for."""
    return [s for s in settings if not (study and s.name in STUDY_OWN)]


def conversion_choices(args: argparse.Namespace, study: bool = False):
    """The layout, settings and ``--accept`` given as options of :func:`add_conversion_options` (a
    :class:`~nnunet_t1t2.conversion.choices.ConversionChoices`)."""
    from nnunet_t1t2.conversion.choices import ConversionChoices, conversion_settings
    from nnunet_t1t2.options import given_settings

    return ConversionChoices(getattr(args, "layout", None), given_settings(args, offered(conversion_settings(), study)),
                             tuple(getattr(args, "accept", ())))


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.conversion import DatasetIds, convert
    from nnunet_t1t2.conversion.choices import ConversionChoices

    choices = (ConversionChoices.read(args.settings) if args.settings else ConversionChoices()).updated(
        conversion_choices(args))
    summary = convert(args.input, choices.layout or "auto", DatasetIds(args.t1_id, args.t2_id, args.t1t2_id), args.name,
                      choices.settings(), choices.split(), num_processes=args.np, accept=choices.accept)
    print(summary.report())
    return 1 if summary.failed or summary.not_written else 0
