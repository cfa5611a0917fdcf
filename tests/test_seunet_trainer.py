"""SEUNetTrainer through stock nnU-Net: training, validation, prediction, --c, discovery, the paper preset."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from batchgenerators.utilities.file_and_folder_operations import load_json

from conftest import CONFIG, IN_PROCESS_AUGMENTATION, PLANS, T1_ID
from nnunet_t1t2.checkpoints import load_checkpoint
from nnunet_t1t2.discovery import trainers_folder, with_our_trainers
from nnunet_t1t2.training.paper_schedule import EarlyStop


def test_training_writes_checkpoint_validation_and_convergence(phantom_datasets, source_model):
    assert (source_model / "checkpoint_final.pth").is_file()
    summary = load_json(str(source_model / "validation" / "summary.json"))
    assert set(summary["mean"]) == {"1", "2", "3"}
    convergence = load_json(str(source_model / "convergence.json"))
    assert convergence["epochs_trained"] == 1 and convergence["seconds_total"] > 0
    checkpoint = torch.load(source_model / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert checkpoint["trainer_name"] == "SEUNetTrainer"
    assert any(".convs.3.cse." in k for k in checkpoint["network_weights"])  # the SE blocks were trained and saved


def test_prediction_has_the_input_grid_and_the_labels(phantom_datasets, source_model, tmp_path):
    raw = phantom_datasets.nnunet.raw / phantom_datasets.t1
    out = phantom_datasets.nnunet.predict(T1_ID, "SEUNetTrainer", raw / "imagesTs", tmp_path / "pred")
    images = sorted((raw / "imagesTs").glob("*_0000.nii.gz"))
    assert images
    for image_file in images:
        image = sitk.ReadImage(str(image_file))
        prediction = sitk.ReadImage(str(out / image_file.name.replace("_0000", "")))
        assert prediction.GetSize() == image.GetSize()
        assert np.allclose(prediction.GetSpacing(), image.GetSpacing())
        assert set(np.unique(sitk.GetArrayFromImage(prediction))) <= {0, 1, 2, 3}


def test_continue_training_resumes_from_the_stopped_epoch(phantom_datasets):
    nnunet = phantom_datasets.nnunet
    nnunet.train(T1_ID, "SEUNetTrainer", "1")
    folder = nnunet.fold_folder(phantom_datasets.t1, "SEUNetTrainer", "1")
    first = torch.load(folder / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    nnunet.train(T1_ID, "SEUNetTrainer", "1", PLANS, "--c", NNUNET_T1T2_EPOCHS="2")
    second = torch.load(folder / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    assert first["current_epoch"] == 1 and second["current_epoch"] == 2
    assert load_json(str(folder / "convergence.json"))["epochs_trained"] == 2
    assert second["logging"]["epoch_start_timestamps"][0] == first["logging"]["epoch_start_timestamps"][0]


def test_early_stopping_ends_training_on_a_plateau(phantom_datasets, monkeypatch):
    from nnunetv2.run.run_training import get_trainer_from_args

    for key, value in phantom_datasets.nnunet.environment(**IN_PROCESS_AUGMENTATION).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NNUNET_T1T2_EPOCHS")  # the paper's 200 epochs: the plateau must end the training
    trainer = get_trainer_from_args(str(T1_ID), CONFIG, 2, "SEUNetTrainer_Paper", PLANS, device=torch.device("cpu"))
    trainer.initialize()
    for epoch in range(12):  # best at epoch 0, then a flat pseudo Dice
        trainer.logger.log("epoch_start_timestamps", 10.0 * epoch, epoch)
        trainer.logger.log("epoch_end_timestamps", 10.0 * epoch + 4, epoch)
        trainer.logger.log("mean_fg_dice", 0.5 if epoch == 0 else 0.4, epoch)
    try:
        trainer.on_epoch_start()
        raise AssertionError("no early stop after 10 epochs without improvement")
    except EarlyStop:
        pass
    trainer.current_epoch = 12
    trainer.run_training()  # stops at once, saves the final checkpoint and the convergence record
    convergence = load_json(str(trainer.output_folder + "/convergence.json"))
    assert convergence["stopped_early"] and convergence["epochs_trained"] == 12
    assert convergence["best_epoch"] == 0 and convergence["seconds_to_convergence"] == 4


#: A monitored value that peaks at epoch 1 and falls (nothing in a training of 2 iterations does so reliably).
PEAK_AND_FALL = [0.2, 0.6, 0.3]


class Interrupted(Exception):
    pass


def _scripted_trainer(phantom_datasets, monkeypatch, results: Path, interrupt_at: int | None = None):
    """SEUNetTrainer for 3 epochs, in this process, judged by :data:`PEAK_AND_FALL`, saving its latest
    checkpoint every epoch; its weights after each epoch in ``trainer.snapshots``."""
    from nnunetv2.run.run_training import get_trainer_from_args

    from nnunet_t1t2.training.selection import weights_snapshot

    environment = phantom_datasets.nnunet.environment(**IN_PROCESS_AUGMENTATION, nnUNet_results=str(results),
                                                      NNUNET_T1T2_EPOCHS="3")
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    trainer = get_trainer_from_args(str(T1_ID), CONFIG, 0, "SEUNetTrainer", PLANS, device=torch.device("cpu"))
    trainer.save_every = 1
    trainer.snapshots = {}
    trainer.selection_signal = lambda: ("scripted", PEAK_AND_FALL[:len(trainer.logger.get_value("ema_fg_dice", None))])
    on_epoch_end, on_epoch_start = trainer.on_epoch_end, trainer.on_epoch_start

    def snapshot_after_epoch():
        on_epoch_end()
        trainer.snapshots[trainer.current_epoch - 1] = weights_snapshot(trainer.network)

    def maybe_interrupt():
        if trainer.current_epoch == interrupt_at:
            raise Interrupted
        on_epoch_start()

    trainer.on_epoch_end, trainer.on_epoch_start = snapshot_after_epoch, maybe_interrupt
    return trainer


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_training_leaves_its_best_epoch_and_continues_exactly(phantom_datasets, monkeypatch, tmp_path):
    """Final model = the peak epoch's weights (also in memory, where nnU-Net's validation reads them);
    the last epoch's in checkpoint_last.pth; an interrupted run continued with --c ends with the same
    final model."""
    whole = _scripted_trainer(phantom_datasets, monkeypatch, tmp_path / "whole")
    whole.run_training()
    folder = Path(whole.output_folder)
    final, last = load_checkpoint(folder / "checkpoint_final.pth"), load_checkpoint(folder / "checkpoint_last.pth")
    assert _same(final["network_weights"], whole.snapshots[1]) and not _same(whole.snapshots[1], whole.snapshots[2])
    assert _same(last["network_weights"], whole.snapshots[2])
    assert _same(whole.network.state_dict(), whole.snapshots[1])  # what the final validation predicts with
    record = load_json(str(folder / "convergence.json"))["final_model"]
    assert (record["epoch"], record["last_epoch"], record["value"], record["selected_by"]) == (1, 2, 0.6, "scripted")
    assert set(record["pseudo_dice"]) == {"soft_tissue", "bone", "air"}
    assert "Final model: epoch 1 by scripted" in "".join(p.read_text() for p in folder.glob("training_log_*.txt"))

    stopped = _scripted_trainer(phantom_datasets, monkeypatch, tmp_path / "continued", interrupt_at=2)
    with pytest.raises(Interrupted):
        stopped.run_training()
    continued = _scripted_trainer(phantom_datasets, monkeypatch, tmp_path / "continued")
    continued.load_checkpoint(str(Path(continued.output_folder) / "checkpoint_latest.pth"))  # as --c does
    assert continued.current_epoch == 2
    continued.run_training()
    folder = Path(continued.output_folder)
    final = load_checkpoint(folder / "checkpoint_final.pth")["network_weights"]
    assert _same(final, stopped.snapshots[1])  # exactly the peak the interrupted run had reached
    # and the uninterrupted run's peak, up to the rounding of multithreaded CPU kernels (two trainings
    # from the same seed are not bitwise equal on every machine)
    assert all(torch.allclose(final[k].float(), whole.snapshots[1][k].float(), atol=1e-4) for k in final)
    # the last epoch trained on from epoch 2 (not bitwise the uninterrupted one's: nnU-Net's data loaders
    # do not keep their random state in a checkpoint), while the final model is the same peak
    last = load_checkpoint(folder / "checkpoint_last.pth")
    assert last["current_epoch"] == 3 and not _same(last["network_weights"], stopped.snapshots[1])
    assert not (folder / "checkpoint_latest.pth").exists() and not (folder / "checkpoint_latest_selection.pth").exists()


def _find_trainer(env: dict, cwd: Path) -> subprocess.CompletedProcess:
    """nnU-Net's own lookup in a fresh interpreter started in ``cwd``; its last line: the module of
    the class found, and which of our trainer modules got imported under a top-level name."""
    code = ("import sys; from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name as f; "
            "print(f('HybridMulTrainer_Paper').__module__, f('FineTune9ConvTrainer').retrained_convs, "
            "sorted({'hybrid', 'se_unet', 'fine_tuning'} & set(sys.modules)))")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, encoding="utf-8",
                          errors="replace")


@pytest.mark.parametrize("start_in", ["a folder outside the checkout", "the repository root"])
def test_stock_nnunet_finds_the_trainers_through_the_trainers_path(start_in, tmp_path):
    """The explicit route (``nnUNet_extTrainer=$(nnunet-t1t2 trainers-path)``), from anywhere: each
    class once, as ``nnunet_t1t2.trainers.*``. (The no-step route, the installed .pth: test_install.py.)"""
    env = with_our_trainers({k: v for k, v in os.environ.items() if k != "nnUNet_extTrainer"})
    assert env["nnUNet_extTrainer"] == str(trainers_folder())
    found = _find_trainer(env, tmp_path if start_in.startswith("a folder") else Path(__file__).parents[1])
    assert found.returncode == 0, found.stdout[-2000:] + found.stderr[-2000:]
    assert found.stdout.strip().splitlines()[-1] == "nnunet_t1t2.trainers.hybrid 9 []"


def test_paper_preset_plans_are_preprocessed_by_nnunet(phantom_datasets, tmp_path):
    nnunet = phantom_datasets.nnunet
    # in a copy of the preprocessed data set: nnU-Net rewrites the shared data folder, which trainings of
    # other tests may be reading meanwhile
    preprocessed = tmp_path / "preprocessed"
    shutil.copytree(nnunet.preprocessed / phantom_datasets.t1, preprocessed / phantom_datasets.t1)
    nnunet.run("nnunet-t1t2", "plans", "paper", "-d", str(T1_ID), nnUNet_preprocessed=str(preprocessed))
    nnunet.run("nnUNetv2_preprocess", "-d", str(T1_ID), "-plans_name", "nnUNetPlans_paper", "-c", CONFIG, "-np", "1",
               nnUNet_preprocessed=str(preprocessed))
    folder = preprocessed / phantom_datasets.t1
    plans = json.loads((folder / "nnUNetPlans_paper.json").read_text(encoding="utf-8"))
    config = plans["configurations"][CONFIG]
    arch = config["architecture"]["arch_kwargs"]
    assert arch["n_stages"] == 4 and arch["n_conv_per_stage"] == [3] * 4 and arch["n_conv_per_stage_decoder"] == [3] * 3
    assert arch["norm_op"].endswith("BatchNorm3d") and arch["nonlin"] == "torch.nn.ReLU"
    assert config["batch_size"] == 2
    assert all(p % 8 == 0 and p <= m for p, m in zip(config["patch_size"], config["median_image_size_in_voxels"]))
    assert config["patch_size"][0] <= 48 and max(config["patch_size"][1:]) <= 128
    assert config["data_identifier"] == "nnUNetPlans_3d_fullres"  # nnU-Net's preprocessing, shared
    assert any((folder / "nnUNetPlans_3d_fullres").iterdir())
