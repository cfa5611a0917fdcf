"""Plans presets: rewrite an nnU-Net plans file into a fixed topology under a new plans identifier.

``paper`` is the T1-to-T2 paper's network: 4 resolution levels, 3 convolutions per stage in encoder
and decoder, batch norm, ReLU, patches of 128x128x48 voxels where the data allows, batch size 2.
``demo`` is the same topology with an eighth of the width and patches of 32x48x48 voxels, small
enough to train on a laptop CPU in minutes (the built-in phantom demo and the tests use it): small
patches make an iteration cheap, which is what gives the models trained from scratch the few hundred
iterations they need to learn bone in the demo's time.

Only the network and the patching change; spacing, normalisation and resampling stay as nnU-Net
planned them. Patch sizes are given in nnU-Net's array order (after ``transpose_forward``: the
slice axis first, so the paper's 48 slices come first) and are clipped to the median image shape,
rounded down to a multiple of the total downsampling factor so that every level divides evenly.

The plans name the network truthfully: :class:`~nnunet_t1t2.networks.se_unet.SEUNet` with its SE
settings in ``arch_kwargs``, so stock ``nnUNetTrainer`` and its variants build, train and predict
it through nnU-Net's own ``get_network_from_plans`` (``SEUNetTrainer`` stays the named entry
point). The other configurations and their ``inherits_from`` entries are kept. The preprocessed
data are shared with the plans the preset starts from (same ``data_identifier``): spacing,
normalisation and resampling are unchanged, so ``nnUNetv2_preprocess`` with the preset's plans
reuses (rewrites identically) what nnU-Net already wrote.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from batchgenerators.utilities.file_and_folder_operations import load_json, save_json
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.networks.se_unet import SEUNet


@dataclass(frozen=True)
class Topology:
    n_stages: int = 4
    convs_per_stage: int = 3
    base_features: int = 32
    max_features: int = 320
    patch_size: tuple[int, int, int] = (48, 128, 128)
    batch_size: int = 2
    norm_op: str = "torch.nn.modules.batchnorm.BatchNorm3d"
    nonlin: str = "torch.nn.ReLU"
    se_mode: str = "cse_sse"
    se_reduction: int = 2


PRESETS = {
    "paper": Topology(),
    "demo": Topology(base_features=8, max_features=64, patch_size=(32, 48, 48)),
}


def fitted_patch_size(wanted: tuple[int, ...], median_shape: list[float], divisor: int) -> list[int]:
    """``wanted`` clipped to the median image shape, each axis a multiple of ``divisor``."""
    patch = [min(w, int(m) // divisor * divisor) for w, m in zip(wanted, median_shape)]
    if min(patch) < divisor:
        raise UserError(f"images of median shape {median_shape} are too small for {divisor}x downsampling")
    return patch


def apply_preset(plans: dict, preset: str, configuration: str = "3d_fullres") -> dict:
    """A copy of ``plans`` with ``configuration`` set to the preset's topology, renamed."""
    if preset not in PRESETS:
        raise UserError(f"unknown plans preset {preset!r}; choose one of {sorted(PRESETS)}")
    if configuration not in plans["configurations"]:
        raise UserError(f"plans {plans['plans_name']} have no configuration {configuration!r}")
    topology = PRESETS[preset]
    planned = PlansManager(plans).get_configuration(configuration)  # inherited entries resolved
    if len(planned.patch_size) != 3:
        raise UserError(f"the {preset} preset is a 3D network; configuration {configuration!r} is 2D")
    new = copy.deepcopy(plans)
    new["plans_name"] = f"{plans['plans_name']}_{preset}"
    config = new["configurations"][configuration]  # only this configuration's own entries are written

    divisor = 2 ** (topology.n_stages - 1)
    config["patch_size"] = fitted_patch_size(topology.patch_size, planned.median_image_size_in_voxels, divisor)
    config["batch_size"] = topology.batch_size
    features = [min(topology.base_features * 2 ** s, topology.max_features) for s in range(topology.n_stages)]
    config["architecture"] = {
        "network_class_name": f"{SEUNet.__module__}.{SEUNet.__name__}",
        "arch_kwargs": {
            "n_stages": topology.n_stages,
            "features_per_stage": features,
            "conv_op": "torch.nn.modules.conv.Conv3d",
            "kernel_sizes": [[3, 3, 3]] * topology.n_stages,
            "strides": [[1, 1, 1]] + [[2, 2, 2]] * (topology.n_stages - 1),
            "n_conv_per_stage": [topology.convs_per_stage] * topology.n_stages,
            "n_conv_per_stage_decoder": [topology.convs_per_stage] * (topology.n_stages - 1),
            "conv_bias": True,
            "norm_op": topology.norm_op,
            "norm_op_kwargs": {"eps": 1e-05, "affine": True},
            "dropout_op": None,
            "dropout_op_kwargs": None,
            "nonlin": topology.nonlin,
            "nonlin_kwargs": {"inplace": True},
            "se_mode": topology.se_mode,
            "se_reduction": topology.se_reduction,
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }
    return new


def write_preset_plans(preprocessed_dataset_folder: Path, preset: str, source_plans: str = "nnUNetPlans",
                       configuration: str = "3d_fullres") -> Path:
    """Write ``<source_plans>_<preset>.json`` next to the source plans; return its path."""
    source = preprocessed_dataset_folder / f"{source_plans}.json"
    if not source.is_file():
        raise UserError(f"{source} does not exist: plan the data set first "
                        f"(nnUNetv2_plan_and_preprocess -d <id> -c {configuration})")
    new = apply_preset(load_json(str(source)), preset, configuration)
    target = preprocessed_dataset_folder / f"{new['plans_name']}.json"
    save_json(new, str(target), sort_keys=False)
    return target
