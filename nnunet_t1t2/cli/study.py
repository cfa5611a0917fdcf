"""``nnunet-t1t2 study``: the paper's protocol end to end, resumable, ending in a report."""
from __future__ import annotations

import argparse

HELP = "run the T1-to-T2 transfer study end to end (data to report) through nnU-Net's commands; re-runs resume"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from nnunet_t1t2.cli.convert import add_conversion_options
    from nnunet_t1t2.conversion.layouts import LAYOUT_CHOICES
    from nnunet_t1t2.study.protocol import PLANS_CHOICES, PRESETS
    from nnunet_t1t2.study.strategies import STRATEGIES

    parser.add_argument("--data", required=True, metavar="DIR|phantom",
                        help="folder of patients in a layout of `nnunet-t1t2 convert` (--layout), or 'phantom' for the "
                             "built-in phantom")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="study folder: its own nnU-Net folders, logs, predictions, report.md; run the same "
                             "command again to continue an interrupted study")
    parser.add_argument("--preset", required=True, choices=list(PRESETS),
                        help="demo: CPU-sized network, short schedule, 1 fold, one strategy per family; paper: the "
                             "paper's network and schedule, 3 folds, every strategy (needs a GPU)")
    parser.add_argument("--strategies", nargs="+", metavar="NAME",
                        help=f"strategies to run instead of the preset's, from: {', '.join(STRATEGIES)}")
    parser.add_argument("--folds", nargs="+", type=int, metavar="F", help="folds of the T2 strategies [the preset's]")
    parser.add_argument("--plans", choices=PLANS_CHOICES,
                        help="network plans: a preset of `nnunet-t1t2 plans`, or nnU-Net's own nnUNetPlans "
                             "[the preset's]")
    parser.add_argument("--device", choices=["cuda", "cpu"], help="[cuda if available, else cpu]")
    parser.add_argument("--seeds", nargs="+", type=int, metavar="S",
                        help="training seeds: every model is trained once per seed, and the report's intervals and "
                             "verdicts cover the variation between them [the preset's]")
    parser.add_argument("--t2-train-sizes", nargs="+", metavar="N|all",
                        help="numbers of T2 training patients each strategy that trains on T2 (fine-tuning, T1+T2) "
                             "is trained with, nested subsets of each fold's (all: every one); no fine-tuning and the "
                             "T1 source are trained once. Adding a size to a finished study only adds trainings "
                             "[the preset's]")
    source = parser.add_argument_group("the T1 source model (every T2 strategy starts from it)")
    source.add_argument("--source-epochs", type=int, metavar="N",
                        help="most epochs of the source and T1+T2 trainings [the preset's]")
    source.add_argument("--source-patience", type=int, metavar="N",
                        help="stop them once bone has not improved for N epochs [the preset's]")
    source.add_argument("--accept-unlearned-source", action="store_true",
                        help="train the T2 strategies even on a source model that learned no bone (or another "
                             "class); by default the study stops before them and says what to try")
    add_cluster_arguments(parser)
    conversion = parser.add_argument_group("conversion of --data (options of `nnunet-t1t2 convert`)")
    conversion.add_argument("--layout", default=argparse.SUPPRESS, choices=LAYOUT_CHOICES,
                            help="layout of --data [auto; paired for the phantom]")
    add_conversion_options(parser, study=True)


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    from nnunet_t1t2.study.cluster import BATCH_SYSTEMS

    group = parser.add_argument_group("where the steps run (Dask)")
    group.add_argument("--workers", default="auto", metavar="auto|N",
                       help="local workers that run steps side by side: auto = one per --gpus-per-training visible "
                            "GPUs, or one per 4 CPU cores; with --cluster, the most jobs at once [auto]")
    group.add_argument("--cluster", choices=BATCH_SYSTEMS,
                       help="submit the workers as batch jobs through dask-jobqueue (pip install "
                            "\"nnunet-t1t2[cluster]\"); the study folder must be on a shared file system")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="use an existing Dask cluster (tls://host:8786, with the credentials of Dask's "
                            "configuration, distributed.comm.tls; a tcp:// scheduler runs the code of anyone who "
                            "reaches it); start its workers with `dask worker ADDRESS --nthreads 1 --resources "
                            "training=1`")
    group.add_argument("--gpus-per-training", type=int, default=1, metavar="N",
                       help="number of GPUs of one training (nnU-Net's -num_gpus, DDP) [1]")
    group.add_argument("--queue", help="--cluster: queue or partition [Dask's jobqueue configuration]")
    group.add_argument("--walltime", metavar="HH:MM:SS", help="--cluster: time limit of a worker job; a training "
                       "cut off by it continues from its latest checkpoint on the next worker [configuration]")
    group.add_argument("--account", help="--cluster: account or project to charge [configuration]")
    group.add_argument("--cores", type=int, metavar="N", help="--cluster: CPU cores per job [configuration]")
    group.add_argument("--memory", metavar="SIZE", help="--cluster: memory per job, e.g. 64GB [configuration]")
    group.add_argument("--gpus-per-job", type=int, metavar="N",
                       help="--cluster: GPUs per job [--gpus-per-training with --device cuda, else none]")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nnunet_t1t2.study.protocol import make_protocol
    from nnunet_t1t2.study.cluster import ClusterOptions
    from nnunet_t1t2.study.runner import run_study

    from nnunet_t1t2.cli.convert import conversion_choices

    protocol = make_protocol(args.preset, args.strategies, args.folds, args.plans, seeds=args.seeds,
                             conversion=conversion_choices(args, study=True), source_epochs=args.source_epochs,
                             source_patience=args.source_patience,
                             accept_unlearned_source=args.accept_unlearned_source,
                             t2_train_sizes=args.t2_train_sizes)
    cluster = ClusterOptions(args.workers, args.cluster, args.scheduler, args.gpus_per_training, args.queue,
                             args.walltime, args.account, args.cores, args.memory, args.gpus_per_job)
    report = run_study(protocol, args.data, Path(args.out), args.device, cluster=cluster)
    print(f"report: {report}")
    return 0
