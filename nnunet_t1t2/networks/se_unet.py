"""SEUNet: nnU-Net's PlainConvUNet with a squeeze-and-excitation block after every stage.

The paper's network is a 3D encoder-decoder of conv-norm-ReLU stages with cSE+sSE recalibration
after every stage of three convolutions, transposed-convolution upsampling and skip connections.
That is dynamic_network_architectures' PlainConvUNet plus SE blocks, so SEUNet builds exactly that
network from the same plans arguments and appends one :class:`SqueezeExcitation` to the conv stack
of every encoder stage (the last one is the bottleneck) and every decoder stage. Plans can name
it (``network_class_name`` ``nnunet_t1t2.networks.se_unet.SEUNet``, with ``se_mode`` and
``se_reduction`` among the ``arch_kwargs``; the presets of :mod:`nnunet_t1t2.plans.presets` do),
and then nnU-Net's own ``get_network_from_plans`` builds it for any stock trainer.

Where the SE block sits, and why: it is appended as the last module of each stage's
``StackedConvBlocks.convs`` sequence (``...stages.<s>[.0].convs.<n_convs>``). Consequences:

* every convolution keeps the parameter name it has in PlainConvUNet, so nnU-Net's own
  ``-pretrained_weights`` loading works between two SEUNets, and PlainConvUNet weights load into an
  SEUNet (only the SE blocks are then new);
* nnU-Net's ``compute_conv_feature_map_size`` (its VRAM estimate) counts the SE maps;
* the segmentation heads keep the name ``decoder.seg_layers.<i>``. nnU-Net's
  ``load_pretrained_weights`` skips keys containing ``.seg_layers.`` on purpose (a new task may
  have other labels); nnunet-t1t2's transfer trainers load the heads too when source and target
  labels are identical (see :mod:`nnunet_t1t2.transfer.source`).
"""
from __future__ import annotations

from typing import List, Tuple, Type, Union

import torch
from dynamic_network_architectures.architectures.unet import PlainConvUNet
from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager
from torch import nn
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.dropout import _DropoutNd

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.networks.squeeze_excitation import SqueezeExcitation


class SEUNet(PlainConvUNet):
    """PlainConvUNet with an SE block (``se_mode``, see :data:`SE_MODES`) after every stage."""

    def __init__(
        self,
        input_channels: int,
        n_stages: int,
        features_per_stage: Union[int, List[int], Tuple[int, ...]],
        conv_op: Type[_ConvNd],
        kernel_sizes: Union[int, List[int], Tuple[int, ...]],
        strides: Union[int, List[int], Tuple[int, ...]],
        n_conv_per_stage: Union[int, List[int], Tuple[int, ...]],
        num_classes: int,
        n_conv_per_stage_decoder: Union[int, Tuple[int, ...], List[int]],
        conv_bias: bool = False,
        norm_op: Union[None, Type[nn.Module]] = None,
        norm_op_kwargs: dict = None,
        dropout_op: Union[None, Type[_DropoutNd]] = None,
        dropout_op_kwargs: dict = None,
        nonlin: Union[None, Type[torch.nn.Module]] = None,
        nonlin_kwargs: dict = None,
        deep_supervision: bool = False,
        nonlin_first: bool = False,
        se_mode: str = "cse_sse",
        se_reduction: int = 2,
    ):
        super().__init__(
            input_channels, n_stages, features_per_stage, conv_op, kernel_sizes, strides, n_conv_per_stage,
            num_classes, n_conv_per_stage_decoder, conv_bias, norm_op, norm_op_kwargs, dropout_op,
            dropout_op_kwargs, nonlin, nonlin_kwargs, deep_supervision, nonlin_first,
        )
        for stack in self.conv_stacks():
            stack.convs.append(SqueezeExcitation(stack.output_channels, conv_op, se_mode, se_reduction))

    def conv_stacks(self) -> list[nn.Module]:
        """The ``StackedConvBlocks`` of every stage: encoder stages (bottleneck last), then decoder."""
        return [stage[-1] for stage in self.encoder.stages] + list(self.decoder.stages)


def build_seunet_from_plans(configuration_manager: ConfigurationManager, num_input_channels: int,
                            num_output_channels: int, deep_supervision: bool = True) -> SEUNet:
    """The SEUNet that plans for SEUNet name (with their SE settings), or an SEUNet with the default
    SE settings and the topology that nnU-Net planned for PlainConvUNet."""
    planned = configuration_manager.network_arch_class_name
    if planned.split(".")[-1] not in ("PlainConvUNet", "SEUNet"):
        raise UserError(f"SEUNet is built from plans for nnU-Net's PlainConvUNet, but this configuration plans "
                        f"{planned}. Use nnU-Net's default plans (nnUNetPlans) or `nnunet-t1t2 plans paper`.")
    return get_network_from_plans(f"{SEUNet.__module__}.SEUNet", configuration_manager.network_arch_init_kwargs,
                                  configuration_manager.network_arch_init_kwargs_req_import,
                                  num_input_channels, num_output_channels, allow_init=True,
                                  deep_supervision=deep_supervision)
