"""``nnunet-t1t2 link``: put a trained source model's plans on a target data set and record the source.

Transfer needs the target (T2) images preprocessed exactly as the source (T1) model saw its own:
same spacing, normalisation, patch size and network. As nnU-Net's ``move_plans_between_datasets``
does for pretraining, the source plans are copied to the target; the copy also records which model
to start from, so that ``nnUNetv2_train TARGET 3d_fullres FOLD -tr HybridMulTrainer -p PLANS``
needs no further flag. The target plans keep the source's identifier unless told otherwise (as in
nnU-Net), but a target plans file that nnU-Net planned for the target itself is never overwritten
without ``force``. The target's preprocessed data get a folder named after the target plans: the
source's data identifier (plans presets share nnU-Net's ``nnUNetPlans_3d_fullres``) would mix
them with the target's own nnU-Net preprocessing, which uses the target's spacing.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from batchgenerators.utilities.file_and_folder_operations import load_json, save_json
from nnunetv2.experiment_planning.plans_for_pretraining.move_plans_between_datasets import \
    move_plans_between_datasets
from nnunetv2.paths import nnUNet_preprocessed, nnUNet_raw

from nnunet_t1t2.checkpoints import load_checkpoint
from nnunet_t1t2.discovery import find_trainer_class
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.nnunet_paths import dataset_name
from nnunet_t1t2.transfer.source import SourceModel, linked_source, record_source, topology_differences


def _check_source(source: SourceModel, target: str, target_channels: int, trust: bool) -> None:
    from nnunet_t1t2.transfer.trainer import TransferTrainer

    trainer_class = find_trainer_class(source.trainer)
    if issubclass(trainer_class, TransferTrainer):
        raise UserError(f"{source.trainer} is a transfer trainer; link a source model trained from scratch")
    path = source.checkpoint_path()
    if not path.is_file():
        raise UserError(f"the source model's checkpoint {path} does not exist. Train the source first: "
                        f"{source.train_command()}")
    source_plans = load_json(str(Path(nnUNet_preprocessed.require()) / source.dataset / f"{source.plans}.json"))
    checkpoint = load_checkpoint(path, trust, what="source checkpoint")
    differences = topology_differences(checkpoint, source_plans, source.configuration, target_channels)
    if differences:
        raise UserError(f"cannot link {source} to {target}: {'; '.join(differences)}")


def link(source: SourceModel, target: str | int, target_plans: str | None = None, force: bool = False,
         trust_checkpoint: bool = False) -> Path:
    """Write the target's plans for ``source`` and return their path (preprocessing comes after);
    the source checkpoint is read as data only unless ``trust_checkpoint``."""
    target = dataset_name(target)
    preprocessed = Path(nnUNet_preprocessed.require())
    source_plans_file = preprocessed / source.dataset / f"{source.plans}.json"
    if not source_plans_file.is_file():
        raise UserError(f"{source_plans_file} does not exist: plan and preprocess the source data set first")
    if source.configuration not in load_json(str(source_plans_file))["configurations"]:
        raise UserError(f"{source_plans_file} has no configuration {source.configuration!r}")
    target_json_file = Path(nnUNet_raw.require()) / target / "dataset.json"
    target_json = load_json(str(target_json_file))
    _check_source(source, target, len(target_json["channel_names"]), trust_checkpoint)

    target_plans = target_plans or source.plans
    target_plans_file = preprocessed / target / f"{target_plans}.json"
    if target_plans_file.is_file() and linked_source(load_json(str(target_plans_file))) is None and not force:
        raise UserError(f"{target_plans_file} exists and was not written by a link (nnU-Net planned it for {target} "
                        f"itself). Choose another name with --target-plans, or replace it with --force.")
    target_plans_file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(target_json_file, target_plans_file.parent / "dataset.json")  # as nnU-Net's planning does
    move_plans_between_datasets(source.dataset, target, source.plans, target_plans)
    plans = load_json(str(target_plans_file))
    for name, configuration in plans["configurations"].items():
        if "data_identifier" in configuration:  # the target's own nnUNetPlans data may share the source's name
            configuration["data_identifier"] = f"{target_plans}_{name}"
    record_source(plans, source)
    save_json(plans, str(target_plans_file), sort_keys=False)
    return target_plans_file


def preprocess_target(target: str | int, plans: str, configuration: str, num_processes: int) -> None:
    """nnU-Net's fingerprint (if missing; training copies it) and preprocessing of the target."""
    from nnunetv2.experiment_planning.plan_and_preprocess_api import extract_fingerprints, preprocess
    from nnunetv2.utilities.dataset_name_id_conversion import convert_dataset_name_to_id

    name = dataset_name(target)
    dataset_id = convert_dataset_name_to_id(name)
    if not (Path(nnUNet_preprocessed.require()) / name / "dataset_fingerprint.json").is_file():
        extract_fingerprints([dataset_id], num_processes=num_processes, check_dataset_integrity=True, clean=True,
                             verbose=False, show_progress_bar=False)
    preprocess([dataset_id], plans, [configuration], [num_processes], verbose=False, show_progress_bar=False)
