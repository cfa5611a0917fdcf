"""Hybrid transfer: a frozen T1 encoder beside a T2 encoder trained from scratch, fused by name.

Link the source first (``nnunet-t1t2 link``). Each also exists with the paper's schedule as
``<Name>_Paper``.
"""
from nnunet_t1t2.training.paper_schedule import PaperSchedule
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


class HybridConcatTrainer_Paper(PaperSchedule, HybridConcatTrainer):
    """HybridConcatTrainer with the paper's schedule."""


class HybridMulTrainer_Paper(PaperSchedule, HybridMulTrainer):
    """HybridMulTrainer with the paper's schedule."""


class HybridAvgTrainer_Paper(PaperSchedule, HybridAvgTrainer):
    """HybridAvgTrainer with the paper's schedule."""


class HybridMaxTrainer_Paper(PaperSchedule, HybridMaxTrainer):
    """HybridMaxTrainer with the paper's schedule."""


__all__ = ["HybridConcatTrainer", "HybridMulTrainer", "HybridAvgTrainer", "HybridMaxTrainer",
           "HybridConcatTrainer_Paper", "HybridMulTrainer_Paper", "HybridAvgTrainer_Paper", "HybridMaxTrainer_Paper"]
