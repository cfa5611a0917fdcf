"""``nnunet-t1t2 evaluate --pred DIR --ref DIR``: per-class metrics and surface distances with 95 % CIs,
as JSON and CSV."""
from __future__ import annotations

import argparse

HELP = ("per-class precision, recall, Dice, Jaccard and surface distances (HD95, ASSD in mm) with 95% CIs, "
        "as nnU-Net's summary.json (extended) plus CSV")
DEFAULT_SUMMARY_NAME = "summary_t1t2.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pred", required=True, help="folder of predicted segmentations")
    parser.add_argument("--ref", required=True, help="folder of reference segmentations, same file names")
    parser.add_argument("-o", "--output", help=f"summary JSON to write [PRED/{DEFAULT_SUMMARY_NAME}]; "
                                               "the CSV is written next to it, ending .csv")
    parser.add_argument("--dataset-json", help="nnU-Net dataset.json giving label names and file ending "
                                               "[soft_tissue 1, bone 2, air 3; the reference files' ending]")
    parser.add_argument("-np", "--num-processes", type=_positive_int, default=None,
                        help="worker processes [nnU-Net's default: 8 or $nnUNet_def_n_proc]")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nnunet_t1t2.errors import UserError
    from nnunet_t1t2.evaluation import evaluate_folders, format_table, read_dataset_json, write_csv, write_json

    output = Path(args.output) if args.output else Path(args.pred) / DEFAULT_SUMMARY_NAME
    if output.suffix != ".json":
        raise UserError(f"output {output} must end with .json (the CSV is written next to it)")
    labels, file_ending = read_dataset_json(args.dataset_json) if args.dataset_json else (None, None)
    summary = evaluate_folders(args.pred, args.ref, labels, file_ending, args.num_processes)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_json(summary, output)
    write_csv(summary, output.with_suffix(".csv"))
    print(format_table(summary))
    print(f"wrote {output}\n      {output.with_suffix('.csv')}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
