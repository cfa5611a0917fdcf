"""``nnunet-t1t2 plans PRESET -d ID``: write a plans preset (e.g. the paper's topology)."""
from __future__ import annotations

import argparse

HELP = "rewrite a data set's nnU-Net plans into a preset topology (paper, demo) under a new plans name"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("preset", choices=["paper", "demo"], help="paper: the paper's network; demo: CPU-sized")
    parser.add_argument("-d", "--dataset", required=True, help="data set name or id (already planned by nnU-Net)")
    parser.add_argument("-p", "--plans", default="nnUNetPlans", help="plans to start from [nnUNetPlans]")
    parser.add_argument("-c", "--configuration", default="3d_fullres", help="configuration to rewrite [3d_fullres]")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nnunetv2.paths import nnUNet_preprocessed

    from nnunet_t1t2.nnunet_paths import dataset_name
    from nnunet_t1t2.plans.presets import write_preset_plans

    name = dataset_name(args.dataset)
    target = write_preset_plans(Path(nnUNet_preprocessed.require()) / name, args.preset, args.plans,
                                args.configuration)
    plans_name = target.stem
    print(f"wrote {target}\nnext: nnUNetv2_preprocess -d {args.dataset} -plans_name {plans_name} "
          f"-c {args.configuration}\n      nnUNetv2_train {args.dataset} {args.configuration} 0 "
          f"-tr SEUNetTrainer_Paper -p {plans_name}")
    return 0
