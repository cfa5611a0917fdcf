"""Hybrid transfer through stock nnU-Net, for every fusion: training, frozen adapted encoder, prediction,
sharing the model without its source, --c, and the refusal without a source."""
import shutil

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from conftest import IN_PROCESS_AUGMENTATION, PLANS, T1_ID, T2_ID

FUSIONS = ["Concat", "Mul", "Avg", "Max"]


def load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.fixture(scope="module")
def hybrid_models(linked_target):
    for fusion in FUSIONS:
        linked_target.nnunet.train(T2_ID, f"Hybrid{fusion}Trainer")
    return linked_target


@pytest.mark.parametrize("fusion", FUSIONS)
def test_adapted_encoder_stays_the_source_and_the_dedicated_encoder_learns(hybrid_models, source_model, fusion):
    folder = hybrid_models.nnunet.fold_folder(hybrid_models.t2, f"Hybrid{fusion}Trainer")
    source = load(source_model / "checkpoint_final.pth")["network_weights"]
    hybrid = load(folder / "checkpoint_final.pth")["network_weights"]
    adapted = {k.removeprefix("adapted_encoder."): v for k, v in hybrid.items() if k.startswith("adapted_encoder.")}
    source_encoder = {k.removeprefix("encoder."): v for k, v in source.items() if k.startswith("encoder.")}
    assert adapted.keys() == source_encoder.keys()
    for key, value in adapted.items():  # weights and batch-norm running statistics
        assert torch.equal(value, source_encoder[key]), key
    dedicated = {k: v for k, v in hybrid.items() if k.startswith("encoder.") and k.endswith("conv.weight")}
    assert dedicated and all(not torch.equal(v, source[k]) for k, v in dedicated.items())
    assert any(k.startswith("encoder.") and k.endswith("running_mean") and not torch.equal(v, source[k])
               for k, v in hybrid.items())
    if fusion == "Concat":
        assert any(k.startswith("fusions.") for k in hybrid)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_prediction_works_without_the_source_model(hybrid_models, source_model, fusion, tmp_path):
    nnunet = hybrid_models.nnunet
    results = tmp_path / "results"  # the hybrid model alone: no T1 source model anywhere
    shutil.copytree(nnunet.results / hybrid_models.t2 / f"Hybrid{fusion}Trainer__{PLANS}__3d_fullres",
                    results / hybrid_models.t2 / f"Hybrid{fusion}Trainer__{PLANS}__3d_fullres")
    images = nnunet.raw / hybrid_models.t2 / "imagesTs"
    out = nnunet.predict(T2_ID, f"Hybrid{fusion}Trainer", images, tmp_path / "pred", nnUNet_results=str(results))
    for image_file in images.glob("*_0000.nii.gz"):
        prediction = sitk.ReadImage(str(out / image_file.name.replace("_0000", "")))
        assert prediction.GetSize() == sitk.ReadImage(str(image_file)).GetSize()
        assert set(np.unique(sitk.GetArrayFromImage(prediction))) <= {0, 1, 2, 3}


def test_export_and_install_round_trip(hybrid_models, tmp_path):
    nnunet = hybrid_models.nnunet
    archive = tmp_path / "hybrid.zip"
    nnunet.run("nnUNetv2_export_model_to_zip", "-d", str(T2_ID), "-o", str(archive), "-c", "3d_fullres",
               "-tr", "HybridMulTrainer", "-p", PLANS, "-f", "0", "--not_strict")
    installed = tmp_path / "installed"
    nnunet.run("nnUNetv2_install_pretrained_model_from_zip", str(archive), nnUNet_results=str(installed))
    images = nnunet.raw / hybrid_models.t2 / "imagesTs"
    original = nnunet.predict(T2_ID, "HybridMulTrainer", images, tmp_path / "original")
    shared = nnunet.predict(T2_ID, "HybridMulTrainer", images, tmp_path / "shared", nnUNet_results=str(installed))
    for prediction in original.glob("*.nii.gz"):
        assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(prediction))),
                              sitk.GetArrayFromImage(sitk.ReadImage(str(shared / prediction.name))))


def test_decoder_starts_from_the_source_decoder(linked_target, source_model, monkeypatch):
    from nnunetv2.run.run_training import get_trainer_from_args

    for key, value in linked_target.nnunet.environment(**IN_PROCESS_AUGMENTATION).items():
        monkeypatch.setenv(key, value)
    trainer = get_trainer_from_args(str(T2_ID), "3d_fullres", 0, "HybridMulTrainer", PLANS, device=torch.device("cpu"))
    trainer.initialize()
    trainer.load_source_weights()
    source = load(source_model / "checkpoint_final.pth")["network_weights"]
    hybrid = trainer.network.state_dict()
    decoder = [k for k in hybrid if k.startswith("decoder.") and not k.startswith("decoder.encoder.")]
    assert decoder and all(torch.equal(hybrid[k], source[k]) for k in decoder)
    dedicated = [k for k in hybrid if k.startswith("encoder.") and k.endswith("conv.weight")]
    assert dedicated and not any(torch.equal(hybrid[k], source[k]) for k in dedicated)  # fresh, not copied


def test_continue_training_keeps_the_adapted_encoder(hybrid_models, source_model):
    nnunet = hybrid_models.nnunet
    nnunet.train(T2_ID, "HybridMulTrainer", "0", PLANS, "--c", NNUNET_T1T2_EPOCHS="2")
    hybrid = load(nnunet.fold_folder(hybrid_models.t2, "HybridMulTrainer") / "checkpoint_final.pth")
    source = load(source_model / "checkpoint_final.pth")["network_weights"]
    assert hybrid["current_epoch"] == 2
    for key, value in hybrid["network_weights"].items():
        if key.startswith("adapted_encoder."):
            assert torch.equal(value, source["encoder." + key.removeprefix("adapted_encoder.")])


def test_hybrid_without_a_source_stops_before_training(hybrid_models):
    result = hybrid_models.nnunet.train(T1_ID, "HybridMulTrainer", expect_ok=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no source model is linked" in result.stderr and "nnunet-t1t2 link" in result.stderr
    missing = hybrid_models.nnunet.train(T2_ID, "HybridMaxTrainer", "1", expect_ok=False,
                                         NNUNET_T1T2_SOURCE_CHECKPOINT="/nonexistent/checkpoint_final.pth")
    assert "source checkpoint /nonexistent/checkpoint_final.pth does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
