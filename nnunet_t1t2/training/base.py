"""The base of every nnunet-t1t2 trainer: nnU-Net's trainer plus what the study needs from it.

* a documented short schedule from the environment, optionally without test-time mirroring
  (:mod:`.short_schedule`);
* a choice of which modules train (:meth:`T1T2Trainer.trainable_modules`), honoured by the
  optimizer and by eval-mode holding (:mod:`nnunet_t1t2.transfer.freezing`);
* ``convergence.json`` (epochs and seconds to convergence) in the output folder.
"""
from __future__ import annotations

import torch
from batchgenerators.utilities.file_and_folder_operations import join, save_json
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from torch import nn

from nnunet_t1t2.training.convergence import convergence_record
from nnunet_t1t2.training.short_schedule import inference_mirroring, schedule_overrides
from nnunet_t1t2.transfer.freezing import count_parameters, freeze_all_but, hold_frozen_modules_in_eval, unwrap


class T1T2Trainer(nnUNetTrainer):
    def initialize(self):
        overrides = schedule_overrides()
        if overrides:
            self.print_to_log_file(f"Schedule set by environment (nnunet-t1t2): {overrides}")
        for attribute, value in overrides.items():
            setattr(self, attribute, value)
        super().initialize()

    def configure_rotation_dummyDA_mirroring_and_inital_patch_size(self):
        configured = super().configure_rotation_dummyDA_mirroring_and_inital_patch_size()
        if not inference_mirroring():
            self.print_to_log_file("No test-time mirroring (NNUNET_T1T2_MIRRORING=0)")
            self.inference_allowed_mirroring_axes = None
        return configured

    def trainable_modules(self, network: nn.Module) -> list[str] | None:
        """Names of the modules of ``network`` that train; ``None`` (the default) trains all."""
        return None

    def configure_optimizers(self):
        # nnU-Net calls this right after building (and compiling) the network and before wrapping it
        # in DDP, which registers only trainable parameters: the one place to decide what trains.
        network = unwrap(self.network)
        trainable = self.trainable_modules(network)
        if trainable is not None:
            freeze_all_but(network, trainable)
        n_trainable, n_total = count_parameters(network)
        self.print_to_log_file(f"Trainable parameters: {n_trainable:,} of {n_total:,}")
        return self.make_optimizer([p for p in network.parameters() if p.requires_grad])

    def make_optimizer(self, parameters: list[nn.Parameter]):
        """nnU-Net's SGD and poly schedule, over the trainable parameters only."""
        optimizer = torch.optim.SGD(parameters, self.initial_lr, weight_decay=self.weight_decay,
                                    momentum=0.99, nesterov=True)
        return optimizer, PolyLRScheduler(optimizer, self.initial_lr, self.num_epochs)

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        hold_frozen_modules_in_eval(self.network)

    def on_train_end(self):
        super().on_train_end()
        if self.local_rank == 0:
            self.save_convergence_record()

    def save_convergence_record(self) -> None:
        log = self.logger.get_value
        record = convergence_record(log("epoch_start_timestamps", None), log("epoch_end_timestamps", None),
                                    log("ema_fg_dice", None), stopped_early=self.current_epoch < self.num_epochs)
        n_trainable, n_total = count_parameters(self.network)
        record.update(trainer=self.__class__.__name__, num_epochs=self.num_epochs,
                      iterations_per_epoch=self.num_iterations_per_epoch,
                      trainable_parameters=n_trainable, total_parameters=n_total)
        save_json(record, join(self.output_folder, "convergence.json"))
