"""Hybrid transfer: a frozen T1 encoder beside a T2 encoder trained from scratch, fused by name.

Link the source first (``nnunet-t1t2 link``). Each also exists with the paper's schedule as
``<Name>_Paper``.
"""
from nnunet_t1t2.training.paper_schedule import paper_variants
from nnunet_t1t2.transfer.trainer import HybridTrainer


class HybridConcatTrainer(HybridTrainer):
    """Hybrid: frozen T1 and trainable T2 encoder features concatenated, a 1x1 conv back to the source width."""

    fusion = "concat"


class HybridMulTrainer(HybridTrainer):
    """Hybrid: frozen T1 and trainable T2 encoder features multiplied element-wise."""

    fusion = "mul"


class HybridAvgTrainer(HybridTrainer):
    """Hybrid: frozen T1 and trainable T2 encoder features averaged."""

    fusion = "avg"


class HybridMaxTrainer(HybridTrainer):
    """Hybrid: the element-wise maximum of frozen T1 and trainable T2 encoder features."""

    fusion = "max"


PAPER_TRAINERS = paper_variants(HybridConcatTrainer, HybridMulTrainer, HybridAvgTrainer, HybridMaxTrainer)
globals().update(PAPER_TRAINERS)

__all__ = ["HybridConcatTrainer", "HybridMulTrainer", "HybridAvgTrainer", "HybridMaxTrainer", *PAPER_TRAINERS]
