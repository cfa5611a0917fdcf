"""Seeded trainings through ``nnUNetv2_train``: bitwise reproducible on the CPU, recorded, and not
continued under other settings."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from batchgenerators.utilities.file_and_folder_operations import load_json

from conftest import BIN, CONFIG, IN_PROCESS_AUGMENTATION, PLANS, T1_ID
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.training.overrides import OVERRIDES_FILE, continued_record, overrides_record
from nnunet_t1t2.training.short_schedule import training_seed

TRAINER = "SEUNetTrainer"


@pytest.fixture(scope="module")
def seeded_runs(phantom_datasets, source_model, tmp_path_factory) -> dict[str, Path]:
    """Fold 0 of the T1 phantom trained three times: the source model (seed 0, the fixtures' seed),
    again with seed 0 and with seed 1, each in its own results root."""
    nnunet, folders = phantom_datasets.nnunet, {"a": source_model}
    for run, seed in (("b", "0"), ("c", "1")):
        results = tmp_path_factory.mktemp(f"results_{run}")
        nnunet.train(T1_ID, TRAINER, "0", PLANS, nnUNet_results=str(results), NNUNET_T1T2_SEED=seed)
        folders[run] = results / phantom_datasets.t1 / f"{TRAINER}__{PLANS}__3d_fullres" / "fold_0"
    return folders


def _weights(fold_folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(fold_folder / "checkpoint_final.pth", map_location="cpu", weights_only=False)["network_weights"]


def test_one_seed_gives_bitwise_identical_checkpoints_and_two_seeds_different_ones(seeded_runs):
    a, b, c = (_weights(seeded_runs[run]) for run in "abc")
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    trained = [k for k in a if k.endswith(".weight") and a[k].is_floating_point()]
    assert sum(not torch.equal(a[k], c[k]) for k in trained) > len(trained) // 2  # not just a stray tensor


def test_the_settings_are_recorded_beside_the_checkpoints(seeded_runs):
    record = load_json(str(seeded_runs["a"] / OVERRIDES_FILE))
    assert record["seed"] == 0 and record["inference_mirroring"] is False
    assert record["schedule"] == {"num_epochs": 1, "num_iterations_per_epoch": 2, "num_val_iterations_per_epoch": 1}
    assert "nnunet-t1t2 settings of this training" in "".join(
        p.read_text(encoding="utf-8") for p in seeded_runs["a"].glob("training_log_*.txt"))


def test_continue_under_other_settings_is_refused_before_training(phantom_datasets, seeded_runs):
    nnunet, folder = phantom_datasets.nnunet, seeded_runs["c"]
    results = str(folder.parents[2])
    before = (folder / "checkpoint_final.pth").stat().st_mtime_ns
    for change in ({"NNUNET_T1T2_SEED": "3"}, {"NNUNET_T1T2_MIRRORING": "1", "NNUNET_T1T2_SEED": "1"}):
        refused = nnunet.train(T1_ID, TRAINER, "0", PLANS, "--c", expect_ok=False, nnUNet_results=results, **change)
        assert "error: cannot continue (--c)" in refused.stderr and "Traceback" not in refused.stderr
    env = nnunet.environment(**IN_PROCESS_AUGMENTATION, nnUNet_results=results, NNUNET_T1T2_SEED="1")
    del env["NNUNET_T1T2_EPOCHS"]  # nnU-Net's full schedule continuing the 1-epoch run
    full = subprocess.run([str(BIN / "nnUNetv2_train"), str(T1_ID), CONFIG, "0", "-tr", TRAINER, "-p", PLANS,
                           "-device", "cpu", "--c"], env=env, capture_output=True, encoding="utf-8", errors="replace")
    assert full.returncode != 0 and "Traceback" not in full.stderr
    assert "error: cannot continue (--c)" in full.stderr and "num_epochs" in full.stderr
    assert (folder / "checkpoint_final.pth").stat().st_mtime_ns == before  # nothing trained, nothing written


def test_continued_record_allows_only_lengthening_a_short_schedule():
    short = overrides_record({"num_epochs": 1, "num_iterations_per_epoch": 2}, False, 5)
    longer = overrides_record({"num_epochs": 3, "num_iterations_per_epoch": 2}, False, 5)
    assert continued_record(short, longer, Path("f"))["extended_from_epochs"] == [1]
    assert continued_record(short, short, Path("f")) == short
    for other in (overrides_record({"num_iterations_per_epoch": 2}, False, 5),  # nnU-Net's full 1000 epochs
                  overrides_record({"num_epochs": 3, "num_iterations_per_epoch": 4}, False, 5),
                  overrides_record({"num_epochs": 1, "num_iterations_per_epoch": 2}, True, 5),
                  overrides_record({"num_epochs": 1, "num_iterations_per_epoch": 2}, False, None)):
        with pytest.raises(UserError, match="cannot continue"):
            continued_record(short, other, Path("f"))


def test_training_seed_from_environment():
    assert training_seed({}) is None and training_seed({"NNUNET_T1T2_SEED": "42"}) == 42
    for bad in ("-1", "x", "1.5", str(2 ** 32)):
        with pytest.raises(UserError, match="NNUNET_T1T2_SEED"):
            training_seed({"NNUNET_T1T2_SEED": bad})
