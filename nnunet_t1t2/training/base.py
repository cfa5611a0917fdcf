"""The base of every nnunet-t1t2 trainer: nnU-Net's trainer plus what the study needs from it.

* a documented short schedule from the environment, optionally without test-time mirroring
  (:mod:`.short_schedule`), recorded in the output folder, and ``--c`` refused under other settings
  (:mod:`.overrides`);
* a seed (``NNUNET_T1T2_SEED`` or :attr:`T1T2Trainer.seed`) for initialisation, patch sampling and
  augmentation (:mod:`.seeding`);
* a choice of which modules train (:meth:`T1T2Trainer.trainable_modules`), honoured by the
  optimizer and by eval-mode holding (:mod:`.freezing`);
* ``convergence.json`` (epochs and seconds to convergence, and which epoch the final model is) in
  the output folder;
* with ``NNUNET_T1T2_PATIENCE``, a stop once the bone class stops improving (:mod:`.patience`);
* a final model of its best epoch, not its last (:mod:`.selection`).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from batchgenerators.utilities.file_and_folder_operations import isfile, join, save_json
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from torch import nn

from nnunet_t1t2.atomic import write_json_atomically
from nnunet_t1t2.errors import exit_on_user_error
from nnunet_t1t2.training.convergence import convergence_record
from nnunet_t1t2.training.freezing import count_parameters, freeze_all_but, hold_frozen_modules_in_eval, unwrap
from nnunet_t1t2.training.overrides import OVERRIDES_FILE, continued_record, overrides_record, recorded_overrides
from nnunet_t1t2.training.paper_schedule import EarlyStop
from nnunet_t1t2.training.patience import patience_epochs, stop_on_plateau
from nnunet_t1t2.training.selection import (FINAL_CHECKPOINT, LAST_CHECKPOINT, LATEST_CHECKPOINT,
                                            LATEST_SELECTION, selected_epoch, selection_signal, weights_snapshot)
from nnunet_t1t2.training.seeding import deterministic_cudnn, seed_data_loaders, seed_global_generators
from nnunet_t1t2.training.short_schedule import inference_mirroring, schedule_overrides, training_seed


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
        self.selected_weights: dict[str, torch.Tensor] | None = None
        """The weights of the best epoch so far (:mod:`.selection`)."""
        self.last_state: str | None = None
        """The last epoch's checkpoint of a finished training continued from its final one."""

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
        if self.last_state is not None:  # train on from where the last epoch left, not from the selected one
            super().load_checkpoint(self.last_state)
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

    def on_epoch_end(self):
        # before nnU-Net's: its validation is logged already, and it saves checkpoint_latest.pth (and
        # with it the selection) before it moves on to the next epoch
        _, history = self.selection_signal()
        if selected_epoch(history) == len(history) - 1:
            self.selected_weights = weights_snapshot(unwrap(self.network))
        super().on_epoch_end()

    def selection_signal(self) -> tuple[str, list[float]]:
        return selection_signal(self.logger, self.dataset_json["labels"], self.label_manager.foreground_labels)

    def save_checkpoint(self, filename: str) -> None:
        super().save_checkpoint(filename)
        if os.path.basename(filename) == LATEST_CHECKPOINT and self.local_rank == 0 and not self.disable_checkpointing:
            torch.save({"current_epoch": self.current_epoch + 1, "network_weights": self.selected_weights},
                       join(self.output_folder, LATEST_SELECTION))

    def load_checkpoint(self, filename_or_checkpoint) -> None:
        """nnU-Net's, and the best weights so far: a final checkpoint's own (its training state, for
        ``--c``, is the last epoch's), a latest checkpoint's from the selection saved with it."""
        super().load_checkpoint(filename_or_checkpoint)
        name = os.path.basename(filename_or_checkpoint) if isinstance(filename_or_checkpoint, str) else None
        if name == FINAL_CHECKPOINT:
            self.selected_weights = weights_snapshot(unwrap(self.network))
            last = join(self.output_folder, LAST_CHECKPOINT)
            self.last_state = last if isfile(last) else None
        elif name == LATEST_CHECKPOINT:
            selection = join(self.output_folder, LATEST_SELECTION)
            saved = torch.load(selection, map_location="cpu", weights_only=True) if isfile(selection) else None
            if saved is not None and saved["current_epoch"] == self.current_epoch:
                self.selected_weights = saved["network_weights"]

    def run_training(self):
        try:
            super().run_training()
        except EarlyStop:
            self.on_train_end()

    def on_train_end(self):
        final_model = self.leave_selected_weights()
        super().on_train_end()  # saves checkpoint_final.pth, then validation uses the network as it is now
        if self.local_rank == 0:
            if isfile(join(self.output_folder, LATEST_SELECTION)):
                os.remove(join(self.output_folder, LATEST_SELECTION))
            self.save_convergence_record(final_model)

    def leave_selected_weights(self) -> dict | None:
        """Save the last epoch's state as checkpoint_last.pth and put the selected epoch's weights into
        the network; what the final model is, for convergence.json."""
        name, history = self.selection_signal()
        epoch = selected_epoch(history)
        if epoch is None:
            return None
        last = len(history) - 1
        self.current_epoch -= 1  # as nnU-Net's on_train_end: the counter is one ahead after the last epoch
        self.save_checkpoint(join(self.output_folder, LAST_CHECKPOINT))
        self.current_epoch += 1
        if epoch != last and self.selected_weights is None:
            self.print_to_log_file(f"The weights of epoch {epoch} (best {name}) are not available (continued from a "
                                   f"checkpoint without them): the final model is the last epoch's.")
            epoch = last
        if epoch != last:
            unwrap(self.network).load_state_dict(self.selected_weights)
        self.print_to_log_file(f"Final model: epoch {epoch} by {name} ({history[epoch]:.4f}; the last epoch, "
                               f"{last}: {history[last]:.4f}, is kept in {LAST_CHECKPOINT})")
        return {"epoch": epoch, "selected_by": name, "value": history[epoch], "last_epoch": last,
                "last_value": history[last], "pseudo_dice": self.pseudo_dice_record(epoch)}

    def pseudo_dice_record(self, epoch: int) -> dict[str, dict]:
        """Per foreground class: nnU-Net's validation pseudo Dice at ``epoch``, at the last epoch and
        at its best, so that a class learned only for a while shows as such."""
        history = self.logger.get_value("dice_per_class_or_region", None) or []
        if len(history) <= epoch:  # nothing validated per class (a training of no epoch)
            return {}
        names = {value: name for name, value in self.dataset_json["labels"].items() if isinstance(value, int)}
        record = {}
        for index, label in enumerate(self.label_manager.foreground_labels):
            values = [float(e[index]) for e in history]
            best = max(range(len(values)), key=values.__getitem__)
            record[names.get(label, str(label))] = {"final_model": values[epoch], "last": values[-1],
                                                    "best": values[best], "best_epoch": best}
        return record

    def save_convergence_record(self, final_model: dict | None) -> None:
        log = self.logger.get_value
        record = convergence_record(log("epoch_start_timestamps", None), log("epoch_end_timestamps", None),
                                    log("ema_fg_dice", None), stopped_early=self.current_epoch < self.num_epochs)
        n_trainable, n_total = count_parameters(self.network)
        record.update(trainer=self.__class__.__name__, num_epochs=self.num_epochs,
                      iterations_per_epoch=self.num_iterations_per_epoch,
                      trainable_parameters=n_trainable, total_parameters=n_total, final_model=final_model)
        save_json(record, join(self.output_folder, "convergence.json"))
