"""The base of every nnunet-t1t2 trainer: nnU-Net's trainer plus what the study needs from it.

* a documented short schedule from the environment, optionally without test-time mirroring
  (:mod:`.short_schedule`), recorded in the output folder, and ``--c`` refused under other settings
  (:mod:`.overrides`);
* a seed (``NNUNET_T1T2_SEED`` or :attr:`T1T2Trainer.seed`) for initialisation, patch sampling and
  augmentation (:mod:`.seeding`);
* a choice of which modules train (:meth:`T1T2Trainer.trainable_modules`), honoured by the
  optimizer and by eval-mode holding (:mod:`nnunet_t1t2.transfer.freezing`);
* ``convergence.json`` (epochs and seconds to convergence) in the output folder;
* with ``NNUNET_T1T2_PATIENCE``, a stop once the bone class stops improving (:mod:`.patience`).
"""
from __future__ import annotations

from pathlib import Path

import torch
from batchgenerators.utilities.file_and_folder_operations import join, save_json
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from torch import nn

from nnunet_t1t2.atomic import write_json_atomically
from nnunet_t1t2.errors import exit_on_user_error
from nnunet_t1t2.training.convergence import convergence_record
from nnunet_t1t2.training.overrides import OVERRIDES_FILE, continued_record, overrides_record, recorded_overrides
from nnunet_t1t2.training.paper_schedule import EarlyStop
from nnunet_t1t2.training.patience import patience_epochs, stop_on_plateau
from nnunet_t1t2.training.seeding import deterministic_cudnn, seed_data_loaders, seed_global_generators
from nnunet_t1t2.training.short_schedule import inference_mirroring, schedule_overrides, training_seed
from nnunet_t1t2.transfer.freezing import count_parameters, freeze_all_but, hold_frozen_modules_in_eval, unwrap


class T1T2Trainer(nnUNetTrainer):
    #: Seed of initialisation, patch sampling and augmentation; None leaves nnU-Net's training
    #: unseeded. ``NNUNET_T1T2_SEED`` sets it; a subclass, or a caller before ``initialize()``, may too.
    seed: int | None = None

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        with exit_on_user_error():
            self.schedule_overrides = schedule_overrides()
            self.inference_mirroring = inference_mirroring()
            seed = training_seed()
        if seed is not None:
            self.seed = seed

    def initialize(self):
        if self.schedule_overrides:
            self.print_to_log_file(f"Schedule set by environment (nnunet-t1t2): {self.schedule_overrides}")
        for attribute, value in self.schedule_overrides.items():
            setattr(self, attribute, value)
        if self.seed is not None and not self.was_initialized:
            seed_global_generators(self.seed)  # before nnU-Net builds and initialises the network
        super().initialize()

    def get_dataloaders(self):
        loaders = super().get_dataloaders()
        if self.seed is not None:
            seed_data_loaders(loaders, self.seed, self.current_epoch, self.local_rank)
        return loaders

    def configure_rotation_dummyDA_mirroring_and_inital_patch_size(self):
        configured = super().configure_rotation_dummyDA_mirroring_and_inital_patch_size()
        if not self.inference_mirroring:
            self.print_to_log_file("No test-time mirroring (NNUNET_T1T2_MIRRORING=0)")
            self.inference_allowed_mirroring_axes = None
        return configured

    def trainable_modules(self, network: nn.Module) -> list[str] | None:
        """Names of the modules of ``network`` that train; ``None`` (the default) trains all."""
        return None

    def configure_optimizers(self):
        """nnU-Net's own optimizer and schedule, once the frozen part is frozen."""
        self.freeze_untrained_modules()
        return super().configure_optimizers()

    def freeze_untrained_modules(self) -> None:
        """Freeze all but :meth:`trainable_modules`. nnU-Net builds the optimizer right after building
        (and compiling) the network and before wrapping it in DDP, which registers only trainable
        parameters: the one place to decide what trains. The optimizer may list frozen parameters:
        torch's optimizers skip every parameter without a gradient (no weight decay, no momentum),
        so they stay bitwise unchanged (tests/test_transfer.py, tests/test_hybrid.py)."""
        network = unwrap(self.network)
        trainable = self.trainable_modules(network)
        if trainable is not None:
            freeze_all_but(network, trainable)
        n_trainable, n_total = count_parameters(network)
        self.print_to_log_file(f"Trainable parameters: {n_trainable:,} of {n_total:,}")

    def on_train_start(self):
        self.record_overrides()
        if self.seed is not None:
            deterministic_cudnn()
        super().on_train_start()

    def record_overrides(self) -> None:
        """Write the NNUNET_T1T2_* settings of this training beside its checkpoints; refuse to
        continue (``--c``, a checkpoint was loaded) a training that ran under other settings."""
        with exit_on_user_error():
            current = overrides_record(self.schedule_overrides, self.inference_mirroring, self.seed,
                                       patience_epochs())
        recorded = recorded_overrides(Path(self.output_folder))
        if self.current_epoch > 0 and recorded is not None:
            with exit_on_user_error():
                current = continued_record(recorded, current, Path(self.output_folder))
        self.print_to_log_file(f"nnunet-t1t2 settings of this training ({OVERRIDES_FILE}): {current}")
        if self.local_rank == 0:
            write_json_atomically(Path(self.output_folder) / OVERRIDES_FILE, current)

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        hold_frozen_modules_in_eval(self.network)

    def on_epoch_start(self):
        with exit_on_user_error():
            stop_on_plateau(self)
        super().on_epoch_start()

    def run_training(self):
        try:
            super().run_training()
        except EarlyStop:
            self.on_train_end()

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
