"""``nnunet-t1t2 link``: link a trained source (T1) model to a target (T2) data set."""
from __future__ import annotations

import argparse

HELP = "put a trained source model's plans on a target data set, preprocess it, and record the source"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nnunet_t1t2.checkpoints import TRUST_HELP, TRUST_OPTION

    parser.add_argument("--source", required=True, help="source data set (name or id) of the trained model")
    parser.add_argument("--target", required=True, help="target data set (name or id), already converted")
    parser.add_argument("-c", "--configuration", default="3d_fullres", help="[3d_fullres]")
    parser.add_argument("-tr", "--trainer", default="SEUNetTrainer", help="trainer of the source model [SEUNetTrainer]")
    parser.add_argument("-p", "--plans", default="nnUNetPlans", help="plans of the source model [nnUNetPlans]")
    parser.add_argument("--fold", default="0", choices=["all", "0", "1", "2", "3", "4"],
                        help="fold of the source model [0]")
    parser.add_argument("--checkpoint", default="checkpoint_final.pth",
                        help="checkpoint file of the source fold [checkpoint_final.pth]")
    parser.add_argument("--target-plans", help="plans identifier for the target [the source's]")
    parser.add_argument("--force", action="store_true",
                        help="replace a target plans file of that name that nnU-Net planned for the target itself")
    parser.add_argument(TRUST_OPTION, action="store_true", help=TRUST_HELP)
    parser.add_argument("--no-preprocess", action="store_true", help="only print the preprocessing command")
    parser.add_argument("-np", type=int, default=2, help="processes for preprocessing [2]")


def run(args: argparse.Namespace) -> int:
    from nnunet_t1t2.nnunet_paths import dataset_name
    from nnunet_t1t2.transfer.link import link, preprocess_target
    from nnunet_t1t2.transfer.source import SourceModel

    source = SourceModel(dataset_name(args.source), args.trainer, args.plans, args.configuration, args.fold,
                         args.checkpoint)
    plans_file = link(source, args.target, args.target_plans, args.force, args.trust_checkpoint)
    plans, target = plans_file.stem, plans_file.parent.name
    print(f"linked {target} to the source model {source}\n  plans: {plans_file}")
    preprocess_command = f"nnUNetv2_preprocess -d {target} -plans_name {plans} -c {args.configuration}"
    if args.no_preprocess:
        print(f"next: {preprocess_command}")
    else:
        preprocess_target(target, plans, args.configuration, args.np)
        print(f"  preprocessed: {preprocess_command}")
    print(f"train: nnUNetv2_train {target} {args.configuration} FOLD -tr HybridMulTrainer -p {plans}")
    return 0
