"""The paper's ways of getting a T2 model, by the short names the study's command line uses.

Each T2 strategy is one nnunet-t1t2 trainer run on the T2 data set after the T1 source model has
been linked to it; ``augmentation`` is the odd one out, SEUNet trained from scratch on T1 and T2
images together (the T1T2 data set). Labels are the paper's row names, so that our tables read
like Tables 3 to 9.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnunet_t1t2.errors import UserError

#: Paper-style trainers exist as ``<trainer>_Paper`` (Adam, plateau schedule, early stopping).
PAPER_SUFFIX = "_Paper"
SOURCE_TRAINER = "SEUNetTrainer"


@dataclass(frozen=True)
class Strategy:
    key: str
    trainer: str
    label: str
    family: str  # "none", "open", "conservative", "hybrid" or "augmentation"
    short_name: str
    """As a sentence says it: "no fine-tuning", "hybrid multiplication"."""
    retrained_convs: int | None = None
    """Conservative fine-tuning only: conv layers retrained besides the heads (0 for FC)."""

    @property
    def on_t2(self) -> bool:
        """True for the T2 strategies, which train on the linked T2 data set."""
        return self.family != "augmentation"

    @property
    def trains_on_t2(self) -> bool:
        """True for the strategies that train on T2 training patients (all but no fine-tuning, which
        runs no epoch): only these are trained once per T2 training size."""
        return self.family != "none"

    def trainer_name(self, suffix: str) -> str:
        """The trainer class with the schedule ``suffix`` ("" or "_Paper"). No fine-tuning runs no
        epoch, so it has no schedule and no paper variant."""
        return self.trainer if self.family == "none" else self.trainer + suffix


def _conservative(depth: int) -> Strategy:
    return Strategy(f"ft{depth}", f"FineTune{depth}ConvTrainer", f"Fine tune {depth} Conv", "conservative",
                    f"fine-tuning {depth} conv layers", depth)


def _hybrid(key: str, trainer_fusion: str, wording: str) -> Strategy:
    return Strategy(f"hybrid-{key}", f"Hybrid{trainer_fusion}Trainer", f"Hybrid, aggregation: {wording}", "hybrid",
                    f"hybrid {wording}")


STRATEGIES: dict[str, Strategy] = {s.key: s for s in (
    Strategy("no-ft", "NoFineTuneTrainer", "Transfer learning without fine tuning", "none", "no fine-tuning"),
    Strategy("open", "OpenFineTuneTrainer", "Open fine tuning", "open", "open fine-tuning"),
    Strategy("fc", "FineTuneFCTrainer", "Fine tune FC", "conservative", "fine-tuning the final classifier", 0),
    *(_conservative(depth) for depth in (3, 6, 9, 12, 15, 18)),
    _hybrid("concat", "Concat", "concatenation"),
    _hybrid("mul", "Mul", "multiplication"),
    _hybrid("avg", "Avg", "average"),
    _hybrid("max", "Max", "maximum"),
    Strategy("augmentation", SOURCE_TRAINER, "T1+T2 from scratch (T2 as augmentation)", "augmentation",
             "the T1+T2 model"),
)}


def strategies_by_key(keys: list[str]) -> tuple[Strategy, ...]:
    """The strategies named by ``keys``, in the paper's order, each once."""
    unknown = [key for key in keys if key not in STRATEGIES]
    if unknown:
        raise UserError(f"unknown strategy {', '.join(unknown)}; choose from {', '.join(STRATEGIES)}")
    return tuple(s for key, s in STRATEGIES.items() if key in set(keys))
