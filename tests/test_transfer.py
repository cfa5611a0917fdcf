"""Transfer from the T1 source through stock nnU-Net: freezing, no fine-tuning, refusals, stock networks."""
import json
import re

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from conftest import CONFIG, IN_PROCESS_AUGMENTATION, PLANS, T1_ID, T2_ID
from nnunet_t1t2.discovery import find_trainer_class
from nnunet_t1t2.networks.conv_layers import last_conv_layers
from nnunet_t1t2.training.freezing import freeze_all_but


def load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


def network_of(checkpoint: dict) -> torch.nn.Module:
    """The network a checkpoint was trained as, built the way nnU-Net's inference builds it."""
    args = checkpoint["init_args"]
    plans = PlansManager(args["plans"])
    trainer = find_trainer_class(checkpoint["trainer_name"])
    return trainer.build_network_architecture(plans, plans.get_configuration(args["configuration"]), 1,
                                              len(args["dataset_json"]["labels"]), True)


def trainable_keys(network: torch.nn.Module) -> set[str]:
    """State-dict keys of the trainable part: parameters and buffers (running statistics) of every module
    that has trainable parameters, under every name the module is registered as."""
    keys = set()
    for prefix, module in network.named_modules(remove_duplicate=False):
        if any(p.requires_grad for p in module.parameters(recurse=False)):
            names = [n for n, _ in module.named_parameters(recurse=False)] + \
                    [n for n, _ in module.named_buffers(recurse=False)]
            keys.update(f"{prefix}.{n}" for n in names)
    return keys


def assert_frozen_equal_and_trainable_changed(source: dict, target: dict, trainable: set[str]) -> None:
    source_weights, target_weights = source["network_weights"], target["network_weights"]
    # nnU-Net gives the lowest-resolution deep-supervision output (seg_layers.0) a loss weight of 0: no gradient
    # ever reaches it
    unreached = "decoder.seg_layers.0."
    changed = [k for k in trainable if not k.startswith(unreached) and not k.endswith("num_batches_tracked")]
    frozen = set(target_weights) - trainable
    assert changed
    for key in frozen:
        assert torch.equal(target_weights[key], source_weights[key]), f"frozen {key} changed"
    for key in changed:
        assert not torch.equal(target_weights[key], source_weights[key]), f"trainable {key} did not change"


def test_conservative_fine_tuning_freezes_exactly_the_early_layers(linked_target, source_model):
    nnunet = linked_target.nnunet
    nnunet.train(T2_ID, "FineTune6ConvTrainer")
    folder = nnunet.fold_folder(linked_target.t2, "FineTune6ConvTrainer")
    source, target = load(source_model / "checkpoint_final.pth"), load(folder / "checkpoint_final.pth")
    network = network_of(target)
    freeze_all_but(network, last_conv_layers(network, 6))
    trainable = trainable_keys(network)
    assert not any(k.startswith("encoder.") for k in trainable)
    assert_frozen_equal_and_trainable_changed(source, target, trainable)

    # nnU-Net's own optimizer lists every parameter, but torch's SGD skips those without a gradient:
    # momentum (and weight decay) exist only for trainable ones
    parameters = list(network.parameters())
    trainable_parameters = [p for p in parameters if p.requires_grad]
    optimizer = target["optimizer_state"]
    assert len(optimizer["param_groups"][0]["params"]) == len(parameters)
    assert optimizer["state"]
    for index, state in optimizer["state"].items():  # the lowest-resolution head gets no gradient, hence no state
        assert parameters[index].requires_grad and state["momentum_buffer"].shape == parameters[index].shape
    log = next(folder.glob("training_log_*.txt")).read_text(encoding="utf-8")
    assert f"Trainable parameters: {sum(p.numel() for p in trainable_parameters):,} of " in log

    # --c continues with the same frozen set
    nnunet.train(T2_ID, "FineTune6ConvTrainer", "0", PLANS, "--c", NNUNET_T1T2_EPOCHS="2")
    continued = load(folder / "checkpoint_final.pth")
    assert continued["current_epoch"] == 2
    assert_frozen_equal_and_trainable_changed(target, continued, trainable)
    for key in set(continued["network_weights"]) - trainable:
        assert torch.equal(continued["network_weights"][key], source["network_weights"][key])


def test_no_fine_tuning_predicts_exactly_what_the_source_predicts(linked_target, source_model, tmp_path):
    nnunet = linked_target.nnunet
    nnunet.train(T2_ID, "NoFineTuneTrainer")
    folder = nnunet.fold_folder(linked_target.t2, "NoFineTuneTrainer")
    assert (folder / "validation" / "summary.json").is_file()
    target = load(folder / "checkpoint_final.pth")
    source = load(source_model / "checkpoint_final.pth")
    for key, value in source["network_weights"].items():
        assert torch.equal(target["network_weights"][key], value)

    images = nnunet.raw / linked_target.t2 / "imagesTs"
    by_source = nnunet.predict(T1_ID, "SEUNetTrainer", images, tmp_path / "source")
    by_no_fine_tuning = nnunet.predict(T2_ID, "NoFineTuneTrainer", images, tmp_path / "no_fine_tuning")
    predictions = sorted(by_source.glob("*.nii.gz"))
    assert predictions
    for prediction in predictions:
        a = sitk.GetArrayFromImage(sitk.ReadImage(str(prediction)))
        b = sitk.GetArrayFromImage(sitk.ReadImage(str(by_no_fine_tuning / prediction.name)))
        assert np.array_equal(a, b)


def refusal(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr


def test_training_without_a_link_stops_with_the_command_to_run(linked_target):
    result = linked_target.nnunet.train(T1_ID, "OpenFineTuneTrainer", expect_ok=False)
    assert re.search(r"no source model is linked to Dataset011_\w+ .*nnunet-t1t2 link --source", refusal(result))


def test_incompatible_source_is_refused_when_training_starts(linked_target):
    nnunet = linked_target.nnunet
    plans_file = nnunet.preprocessed / linked_target.t2 / f"{PLANS}.json"
    plans = json.loads(plans_file.read_text(encoding="utf-8"))
    plans["plans_name"] = "nnUNetPlans_demo_smallpatch"
    plans["configurations"][CONFIG]["patch_size"] = [16, 16, 16]
    (plans_file.parent / "nnUNetPlans_demo_smallpatch.json").write_text(json.dumps(plans), encoding="utf-8")
    result = nnunet.train(T2_ID, "FineTuneFCTrainer", "0", "nnUNetPlans_demo_smallpatch", expect_ok=False)
    message = refusal(result)
    assert "does not fit" in message and "patch size: source" in message and "target [16, 16, 16]" in message
    assert "nnunet-t1t2 link --source" in message


def test_link_refuses_incompatible_or_missing_sources(linked_target):
    nnunet = linked_target.nnunet
    missing = nnunet.run("nnunet-t1t2", "link", "--source", str(T1_ID), "--target", str(T2_ID), "-p", PLANS,
                         "--fold", "4", "--no-preprocess", expect_ok=False)
    assert "checkpoint" in missing.stderr and f"nnUNetv2_train {linked_target.t1} {CONFIG} 4" in missing.stderr

    two_channels = nnunet.raw / "Dataset019_TwoChannels"
    two_channels.mkdir()
    dataset_json = json.loads((nnunet.raw / linked_target.t2 / "dataset.json").read_text(encoding="utf-8"))
    dataset_json["channel_names"] = {"0": "T1", "1": "T2"}
    (two_channels / "dataset.json").write_text(json.dumps(dataset_json), encoding="utf-8")
    channels = nnunet.run("nnunet-t1t2", "link", "--source", str(T1_ID), "--target", "19", "-p", PLANS,
                          "--no-preprocess", expect_ok=False)
    assert "input channels: source 1, target 2" in channels.stderr

    own_plans = nnunet.run("nnunet-t1t2", "link", "--source", str(T1_ID), "--target", str(T1_ID), "-p", PLANS,
                           "--no-preprocess", expect_ok=False)
    assert "was not written by a link" in own_plans.stderr and "--force" in own_plans.stderr
    for result in (missing, channels, own_plans):
        assert result.returncode == 2 and "Traceback" not in result.stderr


def test_freezing_works_on_a_stock_plainconvunet_source(linked_target, monkeypatch):
    from nnunetv2.run.run_training import get_trainer_from_args

    nnunet = linked_target.nnunet
    for key, value in nnunet.environment(**IN_PROCESS_AUGMENTATION).items():
        monkeypatch.setenv(key, value)
    # the demo plans with nnU-Net's PlainConvUNet instead of the SEUNet they name (same preprocessed data)
    plans = json.loads((nnunet.preprocessed / linked_target.t1 / f"{PLANS}.json").read_text(encoding="utf-8"))
    architecture = plans["configurations"][CONFIG]["architecture"]
    architecture["network_class_name"] = "dynamic_network_architectures.architectures.unet.PlainConvUNet"
    for key in ("se_mode", "se_reduction"):
        del architecture["arch_kwargs"][key]
    plans["plans_name"] = "nnUNetPlans_demo_stock"
    (nnunet.preprocessed / linked_target.t1 / "nnUNetPlans_demo_stock.json").write_text(json.dumps(plans),
                                                                                         encoding="utf-8")
    stock = get_trainer_from_args(str(T1_ID), CONFIG, 0, "nnUNetTrainer", "nnUNetPlans_demo_stock",
                                  device=torch.device("cpu"))
    stock.initialize()
    stock.save_checkpoint(str(nnunet.fold_folder(linked_target.t1, "nnUNetTrainer", plans="nnUNetPlans_demo_stock")
                              / "checkpoint_final.pth"))

    nnunet.run("nnunet-t1t2", "link", "--source", str(T1_ID), "--target", str(T2_ID), "-p", "nnUNetPlans_demo_stock",
               "-tr", "nnUNetTrainer", "--target-plans", "nnUNetPlans_demo_plain", "-np", "1")
    nnunet.train(T2_ID, "FineTuneDecoderTrainer", "0", "nnUNetPlans_demo_plain")
    folder = nnunet.fold_folder(linked_target.t2, "FineTuneDecoderTrainer", plans="nnUNetPlans_demo_plain")
    source = load(nnunet.fold_folder(linked_target.t1, "nnUNetTrainer", plans="nnUNetPlans_demo_stock")
                  / "checkpoint_final.pth")
    target = load(folder / "checkpoint_final.pth")
    network = network_of(target)
    assert type(network).__name__ == "PlainConvUNet"
    freeze_all_but(network, ["decoder"])
    trainable = trainable_keys(network)
    assert trainable == {k for k in network.state_dict() if k.startswith("decoder.") and ".encoder." not in k}
    assert_frozen_equal_and_trainable_changed(source, target, trainable)


def test_open_fine_tuning_with_the_paper_schedule_trains_everything(linked_target, source_model):
    nnunet = linked_target.nnunet
    nnunet.train(T2_ID, "OpenFineTuneTrainer_Paper")
    target = load(nnunet.fold_folder(linked_target.t2, "OpenFineTuneTrainer_Paper") / "checkpoint_final.pth")
    source = load(source_model / "checkpoint_final.pth")
    network = network_of(target)
    assert_frozen_equal_and_trainable_changed(source, target, set(network.state_dict()))
    group = target["optimizer_state"]["param_groups"][0]
    assert group["lr"] == pytest.approx(1e-4) and group["betas"] == (0.9, 0.999)  # the paper's Adam
    assert len(group["params"]) == len(list(network.parameters()))
