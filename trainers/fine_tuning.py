"""Transfer from a linked T1 model without, with open, and with conservative fine-tuning.

Link the source first (``nnunet-t1t2 link``). Every trainer except NoFineTuneTrainer also exists
with the paper's schedule as ``<Name>_Paper``.
"""
from torch import nn

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.networks.conv_layers import SEG_HEADS, final_classifier
from nnunet_t1t2.training.paper_schedule import paper_variants
from nnunet_t1t2.transfer.trainer import ConservativeFineTuneTrainer, TransferTrainer

#: The paper's conservative depths (conv layers retrained besides the heads).
CONSERVATIVE_DEPTHS = (3, 6, 9, 12, 15, 18)


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


CONSERVATIVE_TRAINERS = {
    f"FineTune{n}ConvTrainer": type(f"FineTune{n}ConvTrainer", (ConservativeFineTuneTrainer,), {
        "retrained_convs": n, "__module__": __name__,
        "__doc__": f"The heads and the last {n} conv layers train; everything else stays the source's."})
    for n in CONSERVATIVE_DEPTHS
}
globals().update(CONSERVATIVE_TRAINERS)

PAPER_TRAINERS = paper_variants(OpenFineTuneTrainer, FineTuneDecoderTrainer, FineTuneSegHeadsTrainer,
                                FineTuneFCTrainer, *CONSERVATIVE_TRAINERS.values())
globals().update(PAPER_TRAINERS)

__all__ = ["NoFineTuneTrainer", "OpenFineTuneTrainer", "FineTuneDecoderTrainer", "FineTuneSegHeadsTrainer",
           "FineTuneFCTrainer", *CONSERVATIVE_TRAINERS, *PAPER_TRAINERS]
