"""Base trainers for transfer from a source (T1) model; the concrete ones live in ``trainers/``.

A transfer trainer builds the network of the source's trainer (SEUNet, or nnU-Net's own networks)
from the target's plans, which ``nnunet-t1t2 link`` copied from the source. When training starts
(not when ``--c`` continues) it checks the source against the target and copies the source weights
in. Which modules then train is the one thing each concrete trainer decides
(:meth:`T1T2Trainer.trainable_modules`).
"""
from __future__ import annotations

import torch
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager
from torch import nn

from nnunet_t1t2.checkpoints import load_checkpoint
from nnunet_t1t2.discovery import find_trainer_class
from nnunet_t1t2.errors import UserError, exit_on_user_error
from nnunet_t1t2.networks.conv_layers import last_conv_layers
from nnunet_t1t2.networks.hybrid import HybridUNet
from nnunet_t1t2.training.base import T1T2Trainer
from nnunet_t1t2.training.freezing import unwrap
from nnunet_t1t2.transfer.source import (SEG_HEAD_KEY, copy_source_weights, linked_source, record_source,
                                         resolve_source, same_labels, topology_differences)


def source_trainer_class(plans: dict) -> type:
    """The trainer class the linked source model was trained with (it knows how to build its network)."""
    source = linked_source(plans)
    if source is None:
        raise UserError(f"the plans of {plans['dataset_name']} ({plans['plans_name']}) name no source model")
    trainer_class = find_trainer_class(source.trainer)
    if issubclass(trainer_class, TransferTrainer):
        raise UserError(f"the source model {source} is itself a transfer model; link a model trained from scratch")
    return trainer_class


def build_source_network(plans_manager: PlansManager, configuration_manager: ConfigurationManager,
                         num_input_channels: int, num_output_channels: int,
                         enable_deep_supervision: bool = True) -> nn.Module:
    """The source trainer's network, built from the (linked) target plans."""
    return source_trainer_class(plans_manager.plans).build_network_architecture(
        plans_manager, configuration_manager, num_input_channels, num_output_channels, enable_deep_supervision)


class TransferTrainer(T1T2Trainer):
    #: Learning rate with nnU-Net's SGD schedule: a tenth of nnU-Net's from-scratch 1e-2. With momentum
    #: 0.99 the full rate moves pretrained weights far within the first epochs and erases what the
    #: source learned; 1e-3 is the usual fine-tuning choice. (The paper schedule's Adam 1e-4 is gentle
    #: already and is kept as is.)
    fine_tuning_lr = 1e-3

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        with exit_on_user_error():
            self.source = resolve_source(self.plans_manager.plans)
        record_source(self.plans_manager.plans, self.source)  # saved with the model: inference needs it
        self.initial_lr = self.fine_tuning_lr

    build_network_architecture = staticmethod(build_source_network)

    def source_key(self, key: str) -> str | None:
        """The source state-dict entry that initialises ``key``; None keeps the fresh initialisation."""
        return key

    def on_train_start(self):
        if not self.was_initialized:
            self.initialize()
        if self.current_epoch == 0:  # --c restores everything from this model's own checkpoint instead
            with exit_on_user_error():
                self.load_source_weights()
        super().on_train_start()

    def load_source_weights(self) -> None:
        path = self.source.checkpoint_path()
        if not path.is_file():
            raise UserError(f"the source model's checkpoint {path} does not exist. Train the source first: "
                            f"{self.source.train_command()}")
        checkpoint = load_checkpoint(path, what="source checkpoint")  # as data, unless the user trusts it
        differences = topology_differences(checkpoint, self.plans_manager.plans, self.configuration_name,
                                           self.num_input_channels)
        if differences:
            raise UserError(
                f"the source model {self.source} does not fit {self.plans_manager.dataset_name} "
                f"(plans {self.plans_manager.plans_name}, {self.configuration_name}): {'; '.join(differences)}. "
                f"Put the source's plans on the target: nnunet-t1t2 link --source {self.source.dataset} "
                f"--target {self.plans_manager.dataset_name} -tr {self.source.trainer} -p {self.source.plans} "
                f"-c {self.source.configuration} --fold {self.source.fold}, then train with the plans it names.")
        heads = same_labels(checkpoint, self.dataset_json)
        if not heads:
            self.require_same_labels()
        copied = copy_source_weights(unwrap(self.network), checkpoint["network_weights"],
                                     lambda k: None if not heads and SEG_HEAD_KEY in k else self.source_key(k))
        self.print_to_log_file(f"Source model {self.source}: copied {len(copied)} tensors from {path}"
                               + ("" if heads else " (segmentation heads not copied: the labels differ)"))

    def require_same_labels(self) -> None:
        """Called when source and target labels differ; trainers that cannot train new heads refuse."""


class ConservativeFineTuneTrainer(TransferTrainer):
    """Retrains the segmentation heads and the last ``retrained_convs`` conv layers (see
    :mod:`nnunet_t1t2.networks.conv_layers` for the order); everything else stays the source's."""

    retrained_convs: int

    def trainable_modules(self, network: nn.Module) -> list[str]:
        return last_conv_layers(network, self.retrained_convs)


class HybridTrainer(TransferTrainer):
    """The hybrid network (:class:`HybridUNet`) with the source encoder as adapted encoder.

    The dedicated encoder and the fusions train from scratch, hence nnU-Net's from-scratch learning
    rate. The decoder starts from the source decoder (same shapes: every fusion keeps the source's
    widths), where the paper trained it from scratch: with few T2 scans a fresh decoder has to
    relearn what the source decoder already knows (on the phantom, a short schedule of the Mul fusion
    learned T2 bone from the source decoder and none from a fresh one). Set
    ``decoder_from_source = False`` in a subclass for the paper's choice."""

    fusion: str
    fine_tuning_lr = 1e-2
    decoder_from_source = True

    @classmethod
    def build_network_architecture(cls, plans_manager: PlansManager, configuration_manager: ConfigurationManager,
                                   num_input_channels: int, num_output_channels: int,
                                   enable_deep_supervision: bool = True) -> nn.Module:
        def source_network() -> nn.Module:
            return build_source_network(plans_manager, configuration_manager, num_input_channels,
                                        num_output_channels, enable_deep_supervision)

        return HybridUNet(adapted=source_network(), dedicated=source_network(), fusion=cls.fusion)

    def source_key(self, key: str) -> str | None:
        if key.startswith("adapted_encoder."):
            return "encoder." + key.removeprefix("adapted_encoder.")
        if self.decoder_from_source and key.startswith("decoder.") and not key.startswith("decoder.encoder."):
            return key
        return None
