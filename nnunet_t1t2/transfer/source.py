"""The source model a transfer training starts from: where it is recorded, found, checked, loaded.

``nnunet-t1t2 link`` records the source in the target's plans under :data:`LINK_KEY` (data set,
trainer, plans, configuration, fold, checkpoint file). The environment variable
:data:`CHECKPOINT_OVERRIDE` names a checkpoint file that takes precedence over the link; a
checkpoint describes itself (nnU-Net stores the trainer name and its plans in it), so no link is
needed then. Either way the trainer writes the source it used into the plans of its output
folder, so that inference knows which network to build without the source being present. A source
checkpoint is loaded as data only (:mod:`nnunet_t1t2.checkpoints`).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from nnunetv2.utilities.file_path_utilities import get_output_folder
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager
from torch import nn

from nnunet_t1t2.checkpoints import load_checkpoint
from nnunet_t1t2.errors import UserError

LINK_KEY = "nnunet_t1t2_source"
CHECKPOINT_OVERRIDE = "NNUNET_T1T2_SOURCE_CHECKPOINT"
SEG_HEAD_KEY = ".seg_layers."


@dataclass(frozen=True)
class SourceModel:
    dataset: str
    trainer: str
    plans: str
    configuration: str
    fold: str
    checkpoint: str = "checkpoint_final.pth"  # a file in the fold folder, or an absolute path

    def checkpoint_path(self) -> Path:
        if Path(self.checkpoint).is_absolute():
            return Path(self.checkpoint)
        return Path(get_output_folder(self.dataset, self.trainer, self.plans, self.configuration, self.fold),
                    self.checkpoint)

    def train_command(self) -> str:
        return f"nnUNetv2_train {self.dataset} {self.configuration} {self.fold} -tr {self.trainer} -p {self.plans}"

    def __str__(self) -> str:
        return f"{self.dataset} {self.trainer}__{self.plans}__{self.configuration} fold {self.fold}"


def linked_source(plans: dict) -> SourceModel | None:
    """The source recorded in ``plans``, if any."""
    return SourceModel(**plans[LINK_KEY]) if LINK_KEY in plans else None


def record_source(plans: dict, source: SourceModel) -> None:
    plans[LINK_KEY] = asdict(source)


def source_from_checkpoint(path: Path) -> SourceModel:
    """The source model a checkpoint describes (used for the explicit-checkpoint override)."""
    checkpoint = load_checkpoint(path, what="source checkpoint")
    args = checkpoint["init_args"]
    return SourceModel(args["plans"]["dataset_name"], checkpoint["trainer_name"], args["plans"]["plans_name"],
                       args["configuration"], str(args["fold"]), str(path.resolve()))


def resolve_source(plans: dict) -> SourceModel:
    """The override checkpoint if set, else the link in the plans; an error naming the fix if neither."""
    if os.environ.get(CHECKPOINT_OVERRIDE):
        return source_from_checkpoint(Path(os.environ[CHECKPOINT_OVERRIDE]))
    source = linked_source(plans)
    if source is None:
        raise UserError(
            f"no source model is linked to {plans['dataset_name']} (plans {plans['plans_name']}). Link the T1 model "
            f"first: nnunet-t1t2 link --source <T1 data set> --target {plans['dataset_name']} (then train with "
            f"the plans it names), or set {CHECKPOINT_OVERRIDE}=<checkpoint.pth>.")
    return source


def topology_differences(checkpoint: dict, target_plans: dict, configuration: str, target_channels: int) -> list[str]:
    """What differs between the network the source was trained as and the one the target plans."""
    args = checkpoint["init_args"]
    source_config = PlansManager(args["plans"]).get_configuration(args["configuration"])
    if configuration not in target_plans["configurations"]:
        return [f"configuration {configuration!r} is not in the target plans"]
    target_config = PlansManager(target_plans).get_configuration(configuration)
    source_channels = len(args["dataset_json"].get("channel_names", args["dataset_json"].get("modality", {})))
    differences = []
    for what, source_value, target_value in (
        ("network", source_config.network_arch_class_name, target_config.network_arch_class_name),
        ("topology", source_config.network_arch_init_kwargs, target_config.network_arch_init_kwargs),
        ("patch size", list(source_config.patch_size), list(target_config.patch_size)),
        ("input channels", source_channels, target_channels),
    ):
        if source_value != target_value:
            differences.append(f"{what}: source {source_value}, target {target_value}")
    return differences


def same_labels(checkpoint: dict, target_dataset_json: dict) -> bool:
    return checkpoint["init_args"]["dataset_json"]["labels"] == target_dataset_json["labels"]


def copy_source_weights(network: nn.Module, source_weights: dict[str, torch.Tensor],
                        source_key: Callable[[str], str | None]) -> list[str]:
    """Copy ``source_weights[source_key(k)]`` into every entry ``k`` of the network's state dict for
    which ``source_key`` gives a name (parameters and buffers, e.g. batch-norm running statistics).
    Returns the keys copied; a missing or differently shaped source entry is an error."""
    target = network.state_dict()
    wanted = {k: source_key(k) for k in target}
    wanted = {k: s for k, s in wanted.items() if s is not None}
    missing = [s for s in wanted.values() if s not in source_weights]
    mismatched = [f"{k} {tuple(source_weights[s].shape)} vs {tuple(target[k].shape)}"
                  for k, s in wanted.items() if s in source_weights and source_weights[s].shape != target[k].shape]
    if missing or mismatched:
        problems = ([f"{len(missing)} tensors missing in the source, e.g. {missing[:3]}"] if missing else []) + \
                   ([f"{len(mismatched)} with other shapes, e.g. {mismatched[:3]}"] if mismatched else [])
        raise UserError("the source weights do not fit this network: " + "; ".join(problems))
    network.load_state_dict({k: source_weights[s] for k, s in wanted.items()}, strict=False)
    return list(wanted)
