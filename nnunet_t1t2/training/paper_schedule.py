"""The paper's training schedule as a mixin that an nnunet-t1t2 trainer takes first in its bases:
``class FineTune6ConvTrainer_Paper(PaperSchedule, FineTune6ConvTrainer)``.

Adam (lr 1e-4, betas (0.9, 0.999), weight decay 5e-4), the learning rate times 0.75 after 5 epochs
without improvement, early stopping after 10, at most 200 epochs, Xavier-uniform initialisation.

The paper monitors "training accuracy"; nnU-Net's per-epoch accuracy signal is the exponential
moving average of the pseudo Dice on validation patches (``ema_fg_dice``), which also selects
``checkpoint_best.pth``, so the plateau is measured on it.
"""
from __future__ import annotations

import torch
from dynamic_network_architectures.initialization.weight_init import InitWeights_XavierUniform
from torch import nn

from nnunet_t1t2.training.plateau import PlateauLR, plateau_state


class EarlyStop(Exception):
    """Raised at the start of an epoch that the plateau rule says not to run."""


class PaperSchedule:
    """The schedule of this module in place of nnU-Net's SGD and poly schedule; the trainer after it in
    the bases decides everything else (network, source, what trains)."""

    lr_patience = 5
    lr_factor = 0.75
    stop_patience = 10
    monitored = "ema_fg_dice"

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.initial_lr = 1e-4
        self.weight_decay = 5e-4
        self.num_epochs = 200

    @classmethod
    def build_network_architecture(cls, plans_manager, configuration_manager, num_input_channels: int,
                                   num_output_channels: int, enable_deep_supervision: bool = True) -> nn.Module:
        network = super().build_network_architecture(plans_manager, configuration_manager, num_input_channels,
                                                     num_output_channels, enable_deep_supervision)
        network.apply(InitWeights_XavierUniform())
        return network

    def configure_optimizers(self):
        """The one override of nnU-Net's optimizer (SGD, poly schedule) in nnunet-t1t2."""
        self.freeze_untrained_modules()
        optimizer = torch.optim.Adam(self.network.parameters(), self.initial_lr, betas=(0.9, 0.999),
                                     weight_decay=self.weight_decay)
        history = lambda: self.logger.get_value(self.monitored, None)  # noqa: E731
        return optimizer, PlateauLR(optimizer, self.initial_lr, history, self.lr_factor, self.lr_patience)

    def on_epoch_start(self):
        state = plateau_state(self.logger.get_value(self.monitored, None), self.lr_patience)
        if state.epochs_since_best >= self.stop_patience:
            self.print_to_log_file(f"Early stopping: no improvement of {self.monitored} for "
                                   f"{state.epochs_since_best} epochs (best at epoch {state.best_epoch}).")
            raise EarlyStop
        super().on_epoch_start()  # T1T2Trainer.run_training ends the training on EarlyStop
