"""What every study step is given, in a module of its own: the steps run the report and the report
reads the context, so neither imports the other."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnunet_t1t2.study.commands import CommandRunner
from nnunet_t1t2.study.layout import StudyLayout
from nnunet_t1t2.study.protocol import Protocol


@dataclass(frozen=True)
class StudyContext:
    """What every step needs: the protocol, the folder layout, the command runner, the patients
    folder, how many processes nnU-Net may use for preprocessing (the running worker's cores) and
    how many GPUs one training uses (nnU-Net's ``-num_gpus``)."""

    protocol: Protocol
    layout: StudyLayout
    runner: CommandRunner
    data: Path
    workers: int
    gpus_per_training: int = 1
