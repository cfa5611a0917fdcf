"""``nnunet-t1t2 convert``: paired MR/CT patients to nnU-Net raw data sets with CT-derived labels."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "turn paired MR/CT patients into the T1, T2 and T1T2 nnU-Net raw data sets (labels from CT)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nnunet_t1t2.conversion.layouts import LAYOUT_CHOICES, LAYOUTS

    parser.add_argument("--input", required=True, type=Path, help="folder with one sub-folder per patient")
    parser.add_argument("--layout", default="auto", choices=LAYOUT_CHOICES,
                        help="; ".join(f"{name}: {layout.expects}" for name, layout in LAYOUTS.items())
                             + "; auto: whichever of these the folder holds, named in the summary [auto]")
    parser.add_argument("--t1-id", required=True, type=int, help="nnU-Net id of the T1 data set")
    parser.add_argument("--t2-id", type=int, help="nnU-Net id of the T2 data set [not written]")
    parser.add_argument("--t1t2-id", type=int, help="nnU-Net id of the T1T2 data set [not written]")
    parser.add_argument("--name", help="data set name [the input folder's name, letters and digits]")
    parser.add_argument("-np", type=int, default=1, help="patients converted in parallel [1]")

    add_conversion_options(parser)


def add_conversion_options(parser: argparse.ArgumentParser, study: bool = False) -> None:
    """The options that decide a conversion's content, shared with ``nnunet-t1t2 study``, which passes
    on only those given (``study``: unset options stay out of the namespace, and the number of folds
    is the study preset's)."""

    def default(value):
        return argparse.SUPPRESS if study else value

    split = parser.add_argument_group("split (by patient; defaults are the paper's 50 T1 / 14 T2 patients)")
    if not study:
        split.add_argument("--folds", type=int, default=3, help="cross-validation folds [3]")
    split.add_argument(*(["--split-seed"] if study else ["--split-seed", "--seed"]), dest="seed", type=int,
                       default=default(0), help="seed of the split [0]")
    split.add_argument("--t1-test-fraction", type=float, default=default(10 / 50), help="[0.2, 10 of 50]")
    split.add_argument("--t1-val-fraction", type=float, default=default(10 / 50), help="per fold [0.2, 10 of 50]")
    split.add_argument("--t2-test-fraction", type=float, default=default(3 / 14), help="[0.214, 3 of 14]")
    split.add_argument("--t2-val-fraction", type=float, default=default(3 / 14), help="per fold [0.214, 3 of 14]")

    labels = parser.add_argument_group("labels")
    labels.add_argument("--bone-hu", type=float, default=default(600.0), help="bone above this HU [600]")
    labels.add_argument("--air-hu", type=float, default=default(-500.0), help="air below this HU [-500]")
    labels.add_argument("--head-hu", type=float, default=default(-500.0), help="head mask threshold on CT [-500]")
    quality = parser.add_argument_group(
        "registration check (an image outside these limits is left out, unless kept with --accept)")
    quality.add_argument("--tolerance-voxels", type=float, default=default(1.5),
                         help="registration uncertainty allowed, in MR voxels (their largest edge) [1.5]")
    quality.add_argument("--tolerance-min-mm", type=float, default=default(2.0),
                         help="... but at least this many mm [2]")
    quality.add_argument("--min-sharpness", type=float, default=default(0.25),
                         help="how sharply the CT must match the MR at least, relative to the MR itself [0.25]")
    quality.add_argument("--max-mirror-gain", type=float, default=default(0.005),
                         help="most the left-right mirrored CT may fit better, as a fraction of the similarity "
                              "[0.005]")
    quality.add_argument("--compare-with", dest="compared_patients", type=int, metavar="N", default=default(3),
                         help="compare each MR image with the CTs of N other patients: refused where one fits "
                              "it clearly better than its own CT (pairs mixed up); 0: compare with none [3]")
    quality.add_argument("--min-head-dice", type=float, default=default(0.8),
                         help="least Dice of the MR's and the registered CT's head masks [0.8]")
    quality.add_argument("--accept", action="append", metavar="PATIENT[:T1|T2]", default=default([]),
                         help="keep this image although the check refuses it (after looking at its qc/*.png); "
                              "repeatable; recorded in conversion.json")


#: The conversion options by destination, as :func:`conversion_arguments` writes them back.
CONVERSION_OPTIONS = {
    "layout": "--layout", "seed": "--split-seed", "t1_test_fraction": "--t1-test-fraction",
    "t1_val_fraction": "--t1-val-fraction", "t2_test_fraction": "--t2-test-fraction",
    "t2_val_fraction": "--t2-val-fraction", "bone_hu": "--bone-hu", "air_hu": "--air-hu", "head_hu": "--head-hu",
    "tolerance_voxels": "--tolerance-voxels", "tolerance_min_mm": "--tolerance-min-mm",
    "min_sharpness": "--min-sharpness", "max_mirror_gain": "--max-mirror-gain",
    "min_head_dice": "--min-head-dice", "compared_patients": "--compare-with", "accept": "--accept",
}


def conversion_arguments(args: argparse.Namespace) -> list[str]:
    """The conversion options present in ``args`` as ``nnunet-t1t2 convert`` arguments."""
    arguments = []
    for dest, option in CONVERSION_OPTIONS.items():
        if hasattr(args, dest):
            values = getattr(args, dest)
            arguments += [f"{option}={v}" for v in (values if isinstance(values, list) else [values])]
    return arguments


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.conversion import ConversionSettings, DatasetIds, QualityLimits, SplitProtocol, Thresholds, convert

    settings = ConversionSettings(Thresholds(args.bone_hu, args.air_hu, args.head_hu),
                                  quality=QualityLimits(args.min_head_dice, args.tolerance_voxels, args.tolerance_min_mm,
                                                        args.min_sharpness, args.max_mirror_gain,
                                                        args.compared_patients))
    protocol = SplitProtocol(args.folds, args.t1_test_fraction, args.t1_val_fraction, args.t2_test_fraction,
                             args.t2_val_fraction, args.seed)
    summary = convert(args.input, args.layout, DatasetIds(args.t1_id, args.t2_id, args.t1t2_id), args.name,
                      settings, protocol, num_processes=args.np, accept=args.accept)
    print(summary.report())
    return 1 if summary.failed or summary.not_written else 0
