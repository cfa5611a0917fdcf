"""SEUNetTrainer: nnU-Net's defaults with the paper's squeeze-and-excitation U-Net."""
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager
from torch import nn

from nnunet_t1t2.networks.se_unet import build_seunet_from_plans
from nnunet_t1t2.training.base import T1T2Trainer
from nnunet_t1t2.training.paper_schedule import PaperSchedule


class SEUNetTrainer(T1T2Trainer):
    """From scratch with nnU-Net's defaults and the paper's squeeze-and-excitation U-Net (the T1
    source model, or a T2 model without transfer)."""

    @staticmethod
    def build_network_architecture(plans_manager: PlansManager, configuration_manager: ConfigurationManager,
                                   num_input_channels: int, num_output_channels: int,
                                   enable_deep_supervision: bool = True) -> nn.Module:
        return build_seunet_from_plans(configuration_manager, num_input_channels, num_output_channels,
                                       enable_deep_supervision)


class SEUNetTrainer_Paper(PaperSchedule, SEUNetTrainer):
    """SEUNetTrainer with the paper's schedule."""


__all__ = ["SEUNetTrainer", "SEUNetTrainer_Paper"]
