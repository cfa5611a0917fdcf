"""Transfer from a linked T1 model without, with open, and with conservative fine-tuning.

Link the source first (``nnunet-t1t2 link``). Every trainer except NoFineTuneTrainer also exists
with the paper's schedule as ``<Name>_Paper``. The conservative depths are the paper's, those of the
study's strategies (:data:`nnunet_t1t2.study.strategies.STRATEGIES`, which tests/test_trainer_classes.py
checks them against).
"""
from torch import nn

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.networks.conv_layers import SEG_HEADS, final_classifier
from nnunet_t1t2.training.paper_schedule import PaperSchedule
from nnunet_t1t2.transfer.trainer import ConservativeFineTuneTrainer, TransferTrainer


class NoFineTuneTrainer(TransferTrainer):
    """The source model applied to the target as it is: no epoch runs, the model is saved as the
    source left it and nnU-Net's validation evaluates it on the target's folds."""

    def initialize(self):
        super().initialize()
        self.num_epochs = 0  # not even a short schedule from the environment trains this model

    def require_same_labels(self) -> None:
        raise UserError("a model applied without fine-tuning must have the target's labels: "
                        "the source and target dataset.json labels differ")


class OpenFineTuneTrainer(TransferTrainer):
    """All weights from the source (the heads too when the labels match), all trained."""


class FineTuneDecoderTrainer(TransferTrainer):
    """The encoder stays the source's; the decoder and its heads train."""

    def trainable_modules(self, network: nn.Module) -> list[str]:
        return ["decoder"]


class FineTuneSegHeadsTrainer(TransferTrainer):
    """Only the segmentation heads (all deep-supervision outputs) train."""

    def trainable_modules(self, network: nn.Module) -> list[str]:
        return [SEG_HEADS]


class FineTuneFCTrainer(TransferTrainer):
    """Only the final classifier (the full-resolution 1x1 conv head, the paper's "FC") trains."""

    def trainable_modules(self, network: nn.Module) -> list[str]:
        return [final_classifier(network)]


class FineTune3ConvTrainer(ConservativeFineTuneTrainer):
    """The heads and the last 3 conv layers train; everything else stays the source's."""

    retrained_convs = 3


class FineTune6ConvTrainer(ConservativeFineTuneTrainer):
    """The heads and the last 6 conv layers train; everything else stays the source's."""

    retrained_convs = 6


class FineTune9ConvTrainer(ConservativeFineTuneTrainer):
    """The heads and the last 9 conv layers train; everything else stays the source's."""

    retrained_convs = 9


class FineTune12ConvTrainer(ConservativeFineTuneTrainer):
    """The heads and the last 12 conv layers train; everything else stays the source's."""

    retrained_convs = 12


class FineTune15ConvTrainer(ConservativeFineTuneTrainer):
    """The heads and the last 15 conv layers train; everything else stays the source's."""

    retrained_convs = 15


class FineTune18ConvTrainer(ConservativeFineTuneTrainer):
    """The heads and the last 18 conv layers train; everything else stays the source's."""

    retrained_convs = 18


class OpenFineTuneTrainer_Paper(PaperSchedule, OpenFineTuneTrainer):
    """OpenFineTuneTrainer with the paper's schedule."""


class FineTuneDecoderTrainer_Paper(PaperSchedule, FineTuneDecoderTrainer):
    """FineTuneDecoderTrainer with the paper's schedule."""


class FineTuneSegHeadsTrainer_Paper(PaperSchedule, FineTuneSegHeadsTrainer):
    """FineTuneSegHeadsTrainer with the paper's schedule."""


class FineTuneFCTrainer_Paper(PaperSchedule, FineTuneFCTrainer):
    """FineTuneFCTrainer with the paper's schedule."""


class FineTune3ConvTrainer_Paper(PaperSchedule, FineTune3ConvTrainer):
    """FineTune3ConvTrainer with the paper's schedule."""


class FineTune6ConvTrainer_Paper(PaperSchedule, FineTune6ConvTrainer):
    """FineTune6ConvTrainer with the paper's schedule."""


class FineTune9ConvTrainer_Paper(PaperSchedule, FineTune9ConvTrainer):
    """FineTune9ConvTrainer with the paper's schedule."""


class FineTune12ConvTrainer_Paper(PaperSchedule, FineTune12ConvTrainer):
    """FineTune12ConvTrainer with the paper's schedule."""


class FineTune15ConvTrainer_Paper(PaperSchedule, FineTune15ConvTrainer):
    """FineTune15ConvTrainer with the paper's schedule."""


class FineTune18ConvTrainer_Paper(PaperSchedule, FineTune18ConvTrainer):
    """FineTune18ConvTrainer with the paper's schedule."""


__all__ = ["NoFineTuneTrainer", "OpenFineTuneTrainer", "FineTuneDecoderTrainer", "FineTuneSegHeadsTrainer",
           "FineTuneFCTrainer", "FineTune3ConvTrainer", "FineTune6ConvTrainer", "FineTune9ConvTrainer",
           "FineTune12ConvTrainer", "FineTune15ConvTrainer", "FineTune18ConvTrainer", "OpenFineTuneTrainer_Paper",
           "FineTuneDecoderTrainer_Paper", "FineTuneSegHeadsTrainer_Paper", "FineTuneFCTrainer_Paper",
           "FineTune3ConvTrainer_Paper", "FineTune6ConvTrainer_Paper", "FineTune9ConvTrainer_Paper",
           "FineTune12ConvTrainer_Paper", "FineTune15ConvTrainer_Paper", "FineTune18ConvTrainer_Paper"]
