"""SE plans name the SEUNet, so stock nnU-Net trainers train and predict it; presets keep the rest."""
from __future__ import annotations

import json
import os

import numpy as np
import SimpleITK as sitk
import torch
from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager

from conftest import CONFIG, PLANS, T1_ID
from nnunet_t1t2.networks.se_unet import SEUNet
from nnunet_t1t2.plans.presets import apply_preset
from nnunet_t1t2.trainers import SEUNetTrainer

#: A stock nnU-Net variant with the tiny schedule (stock trainers do not read NNUNET_T1T2_*).
SHORT_STOCK_TRAINER = '''
import torch
from nnunetv2.training.nnUNetTrainer.variants.data_augmentation.nnUNetTrainerNoMirroring import \\
    nnUNetTrainerNoMirroring


class nnUNetTrainerNoMirroring_2iterations(nnUNetTrainerNoMirroring):
    def __init__(self, plans, configuration, fold, dataset_json, device=torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs, self.num_iterations_per_epoch, self.num_val_iterations_per_epoch = 1, 2, 1
'''


def _plans() -> dict:
    """nnU-Net's plans layout: a planned 3d_fullres, a 3d_lowres, and a cascade that inherits."""
    fullres = {"data_identifier": "nnUNetPlans_3d_fullres", "patch_size": [80, 160, 160], "batch_size": 2,
               "median_image_size_in_voxels": [60, 200, 180], "spacing": [1.0, 1.0, 1.0],
               "architecture": {"network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
                                "arch_kwargs": {"n_stages": 6}, "_kw_requires_import": []}}
    return {"plans_name": "nnUNetPlans", "dataset_name": "Dataset001_X",
            "configurations": {"3d_fullres": fullres,
                               "3d_lowres": {**fullres, "data_identifier": "nnUNetPlans_3d_lowres"},
                               "3d_cascade_fullres": {"inherits_from": "3d_fullres", "previous_stage": "3d_lowres"}}}


def test_presets_name_the_seunet_and_keep_the_other_configurations_and_the_data():
    plans = _plans()
    demo = apply_preset(plans, "demo")
    assert demo["plans_name"] == "nnUNetPlans_demo"
    assert demo["configurations"]["3d_lowres"] == plans["configurations"]["3d_lowres"]
    assert demo["configurations"]["3d_cascade_fullres"] == plans["configurations"]["3d_cascade_fullres"]
    config = demo["configurations"]["3d_fullres"]
    assert config["data_identifier"] == "nnUNetPlans_3d_fullres"  # same preprocessing: same data
    architecture = config["architecture"]
    assert architecture["network_class_name"] == "nnunet_t1t2.networks.se_unet.SEUNet"
    assert architecture["arch_kwargs"]["se_mode"] == "cse_sse" and architecture["arch_kwargs"]["se_reduction"] == 2
    assert config["patch_size"] == [32, 48, 48]
    assert plans["configurations"]["3d_fullres"]["patch_size"] == [80, 160, 160]  # the input is not changed
    cascade = apply_preset(plans, "paper", "3d_cascade_fullres")["configurations"]["3d_cascade_fullres"]
    assert cascade["inherits_from"] == "3d_fullres" and "data_identifier" not in cascade
    assert cascade["architecture"]["network_class_name"].endswith("SEUNet") and cascade["patch_size"] == [48, 128, 128]


def test_seunet_trainer_builds_the_same_seunet_from_se_plans_and_from_plainconvunet_plans():
    se_config = apply_preset(_plans(), "demo")["configurations"]["3d_fullres"]
    plain_config = {**se_config, "architecture": {
        **se_config["architecture"],
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "arch_kwargs": {k: v for k, v in se_config["architecture"]["arch_kwargs"].items() if not k.startswith("se_")}}}
    networks = [SEUNetTrainer.build_network_architecture(None, ConfigurationManager(config), 1, 4, True)
                for config in (se_config, plain_config)]
    stock = get_network_from_plans(se_config["architecture"]["network_class_name"],
                                   se_config["architecture"]["arch_kwargs"],
                                   se_config["architecture"]["_kw_requires_import"], 1, 4, deep_supervision=True)
    assert all(type(n) is SEUNet for n in (*networks, stock))  # what stock nnU-Net builds from the plans, too
    shapes = [{k: v.shape for k, v in n.state_dict().items()} for n in (*networks, stock)]
    assert shapes[0] == shapes[1] == shapes[2] and any(".convs.3.cse." in k for k in shapes[0])


def test_stock_nnunet_trainer_trains_and_predicts_the_seunet_of_se_plans(phantom_datasets, tmp_path):
    nnunet = phantom_datasets.nnunet
    plans = json.loads((nnunet.preprocessed / phantom_datasets.t1 / f"{PLANS}.json").read_text(encoding="utf-8"))
    assert plans["configurations"][CONFIG]["architecture"]["network_class_name"].endswith(".SEUNet")
    (tmp_path / "trainers").mkdir()
    (tmp_path / "trainers" / "short_stock.py").write_text(SHORT_STOCK_TRAINER, encoding="utf-8")
    trainer = "nnUNetTrainerNoMirroring_2iterations"
    ext = nnunet.environment()["nnUNet_extTrainer"] + os.pathsep + str(tmp_path / "trainers")
    nnunet.train(T1_ID, trainer, "0", PLANS, nnUNet_extTrainer=ext)

    checkpoint = torch.load(nnunet.fold_folder(phantom_datasets.t1, trainer) / "checkpoint_final.pth",
                            map_location="cpu", weights_only=False)
    assert checkpoint["trainer_name"] == trainer
    assert any(".convs.3.cse." in k for k in checkpoint["network_weights"])  # SE blocks built, trained, saved

    images = nnunet.raw / phantom_datasets.t1 / "imagesTs"
    out = nnunet.predict(T1_ID, trainer, images, tmp_path / "pred", nnUNet_extTrainer=ext)
    image_file = sorted(images.glob("*_0000.nii.gz"))[0]
    prediction = sitk.ReadImage(str(out / image_file.name.replace("_0000", "")))
    assert prediction.GetSize() == sitk.ReadImage(str(image_file)).GetSize()
    assert set(np.unique(sitk.GetArrayFromImage(prediction))) <= {0, 1, 2, 3}
