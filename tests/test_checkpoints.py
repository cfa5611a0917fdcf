"""Models are data, not code: a checkpoint that would run code when unpickled is refused by
``predict`` (model folder and zip), ``link`` and a transfer trainer's source loading, before
anything unpickles it, and loads only when the user trusts it. The checkpoints this project writes
load with the safe loader.

The poisoned checkpoint is the session's source model's own ``checkpoint_final.pth`` plus one
object whose unpickling creates a file: the file exists afterwards only where the checkpoint was
trusted.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from conftest import PLANS, T1_ID, T2_ID
from nnunet_t1t2.checkpoints import TRUST_VARIABLE, load_checkpoint
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.transfer.source import CHECKPOINT_OVERRIDE, source_from_checkpoint

FAST_PREDICT = ("--disable-tta", "--device", "cpu", "--no-qc")


class CreatesFile:
    """Unpickled, it opens (so creates) ``path``: any code could run in its place."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


@pytest.fixture
def poisoned(source_model, tmp_path) -> tuple[Path, Path]:
    """A copy of the source model's folder whose fold 0 checkpoint creates ``marker`` when unpickled."""
    model = tmp_path / "shared" / source_model.parent.parent.name / source_model.parent.name
    shutil.copytree(source_model.parent, model)
    checkpoint = torch.load(source_model / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    marker = tmp_path / "code_ran"
    checkpoint["logging"]["note"] = CreatesFile(marker)
    torch.save(checkpoint, model / "fold_0" / "checkpoint_final.pth")
    return model, marker


def test_the_checkpoints_this_project_writes_load_as_data(source_model):
    for name in ("checkpoint_final.pth", "checkpoint_best.pth"):
        checkpoint = load_checkpoint(source_model / name)
        assert checkpoint["trainer_name"] == "SEUNetTrainer" and checkpoint["network_weights"]


def test_a_checkpoint_holding_code_is_refused_unless_trusted(poisoned, monkeypatch):
    model, marker = poisoned
    path = model / "fold_0" / "checkpoint_final.pth"
    with pytest.raises(UserError, match=rf"source checkpoint {path} holds more than weights .*\(io\.open\).*"
                                        rf"--trust-checkpoint .*{TRUST_VARIABLE}=1"):
        load_checkpoint(path, what="source checkpoint")
    assert not marker.exists()
    monkeypatch.setenv(CHECKPOINT_OVERRIDE, str(path))  # a transfer trainer's source, as its __init__ reads it
    with pytest.raises(UserError, match="holds more than weights"):
        source_from_checkpoint(path)
    assert not marker.exists()
    monkeypatch.setenv(TRUST_VARIABLE, "1")
    assert source_from_checkpoint(path).trainer == "SEUNetTrainer"
    assert marker.exists()


def test_a_transfer_trainer_refuses_a_source_holding_code(phantom_datasets, poisoned):
    model, marker = poisoned
    result = phantom_datasets.nnunet.train(T1_ID, "FineTune6ConvTrainer", expect_ok=False,
                                           **{CHECKPOINT_OVERRIDE: str(model / "fold_0" / "checkpoint_final.pth")})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "holds more than weights" in result.stderr and f"{TRUST_VARIABLE}=1" in result.stderr
    assert not marker.exists()


def test_link_refuses_a_source_holding_code_unless_trusted(phantom_datasets, poisoned):
    model, marker = poisoned
    link = ("nnunet-t1t2", "link", "--source", str(T1_ID), "--target", str(T2_ID), "-p", PLANS,
            "-tr", "SEUNetTrainer", "--checkpoint", str(model / "fold_0" / "checkpoint_final.pth"),
            "--target-plans", f"{PLANS}_trusted", "--no-preprocess")
    refused = phantom_datasets.nnunet.run(*link, expect_ok=False)
    assert refused.returncode == 2 and "holds more than weights" in refused.stderr
    assert "Traceback" not in refused.stderr and not marker.exists()
    phantom_datasets.nnunet.run(*link, "--trust-checkpoint")
    assert marker.exists()


def scan(phantom_datasets) -> Path:
    return sorted((phantom_datasets.nnunet.raw / phantom_datasets.t1 / "imagesTs").glob("*_0000.nii.gz"))[0]


def test_predict_refuses_a_model_folder_holding_code_unless_trusted(phantom_datasets, poisoned, tmp_path):
    model, marker = poisoned
    predict = ("nnunet-t1t2", "predict", "-i", str(scan(phantom_datasets)), "-o", str(tmp_path / "out"),
               "-m", str(model), *FAST_PREDICT)
    refused = phantom_datasets.nnunet.run(*predict, expect_ok=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"checkpoint {model / 'fold_0' / 'checkpoint_final.pth'} holds more than weights" in refused.stderr
    assert not marker.exists() and not list((tmp_path / "out").glob("*.nii.gz"))
    phantom_datasets.nnunet.run(*predict, "--trust-checkpoint")
    assert marker.exists() and len(list((tmp_path / "out").glob("*.nii.gz"))) == 1


def test_predict_refuses_a_model_zip_holding_code(phantom_datasets, poisoned, tmp_path):
    model, marker = poisoned
    zip_path = Path(shutil.make_archive(str(tmp_path / "model"), "zip", model.parent.parent))
    refused = phantom_datasets.nnunet.run("nnunet-t1t2", "predict", "-i", str(scan(phantom_datasets)), "-o",
                                          str(tmp_path / "out"), "-m", str(zip_path), "--cache",
                                          str(tmp_path / "cache"), *FAST_PREDICT, expect_ok=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "checkpoint_final.pth holds more than weights" in refused.stderr and "--trust-checkpoint" in refused.stderr
    assert not marker.exists()
