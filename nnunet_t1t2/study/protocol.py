"""The study's presets: what runs, on which data, with which network and schedule.

``paper`` is Mecheter et al.'s protocol: the paper's network (``nnunet-t1t2 plans paper``), the
paper's schedule (the ``_Paper`` trainers: Adam, plateau, early stopping, at most 200 epochs), three
folds, every strategy; with ``--data phantom``, 50 phantom patients of the paper's image size, 14
with T2. ``demo`` is the same protocol cut down to minutes on a CPU: a CPU-sized network, nnU-Net's
SGD schedule shortened through the ``NNUNET_T1T2_*`` variables, one fold, a representative subset
of strategies and 10 small phantom patients, 5 with T2.

``NNUNET_T1T2_EPOCHS``, ``NNUNET_T1T2_ITERATIONS``, ``NNUNET_T1T2_VAL_ITERATIONS`` and
``NNUNET_T1T2_MIRRORING`` set in the caller's environment override a preset's schedule and
test-time mirroring (for quick checks of the paper preset, and for the tests).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Mapping

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.study.strategies import PAPER_SUFFIX, STRATEGIES, Strategy, strategies_by_key
from nnunet_t1t2.training.short_schedule import (MIRRORING_VARIABLE, SCHEDULE_VARIABLES, inference_mirroring,
                                                 schedule_overrides)

CONFIGURATION = "3d_fullres"
DATASET_IDS = {"T1": 501, "T2": 502, "T1T2": 503}
#: The fold of the T1 source model and of the T1+T2 model (Table 9): the paper trains one source.
SOURCE_FOLD = 0
PLANS_CHOICES = ("paper", "demo", "nnUNetPlans")


@dataclass(frozen=True)
class PhantomSpec:
    """The built-in phantom the study generates for ``--data phantom``."""

    patients: int
    t2_patients: int
    size: str
    seed: int = 0


@dataclass(frozen=True)
class Protocol:
    preset: str
    plans: str
    """A plans preset of ``nnunet-t1t2 plans`` (paper, demo) or nnU-Net's own ``nnUNetPlans``."""
    trainer_suffix: str
    schedule: Mapping[str, str]
    """``NNUNET_T1T2_*`` schedule variables for every training (empty: the trainers' own)."""
    source_schedule: Mapping[str, str]
    """The T1 source model's variables, ``schedule`` with the preset's own for the source on top:
    every T2 strategy starts from that model, so a short demo gives it the iterations it needs to
    learn bone at all."""
    test_time_mirroring: bool
    """Off: nnU-Net's validation and our predictions run each patch once instead of eight times."""
    cv_folds: int
    folds: tuple[int, ...]
    strategies: tuple[Strategy, ...]
    phantom: PhantomSpec

    @property
    def plans_name(self) -> str:
        return self.plans if self.plans == "nnUNetPlans" else f"nnUNetPlans_{self.plans}"

    @property
    def t2_strategies(self) -> tuple[Strategy, ...]:
        return tuple(s for s in self.strategies if s.on_t2)

    @property
    def augmentation(self) -> bool:
        return STRATEGIES["augmentation"] in self.strategies

    def training_environment(self, role: str) -> dict[str, str]:
        """The ``NNUNET_T1T2_*`` variables the training of the model with ``role`` runs with (see
        :class:`~nnunet_t1t2.study.layout.Model`): its schedule and the test-time mirroring."""
        schedule = self.source_schedule if role == "source" else self.schedule
        return {**schedule, MIRRORING_VARIABLE: "1" if self.test_time_mirroring else "0"}

    def source_trainer(self) -> str:
        return STRATEGIES["augmentation"].trainer_name(self.trainer_suffix)

    def setup(self, data: str) -> dict:
        """What the finished steps' results depend on: a re-run into the same folder must match it
        (the strategies and folds may change; they only add or leave out steps)."""
        setup = {"data": data, "plans": self.plans_name, "trainers": self.trainer_suffix or "nnU-Net SGD",
                 "schedule": dict(self.schedule), "source_schedule": dict(self.source_schedule),
                 "test_time_mirroring": self.test_time_mirroring,
                 "cv_folds": self.cv_folds}
        if data == "phantom":
            setup["phantom"] = vars(self.phantom)
        return setup


PRESETS = {
    "demo": Protocol(
        preset="demo", plans="demo", trainer_suffix="",
        schedule={"NNUNET_T1T2_EPOCHS": "5", "NNUNET_T1T2_ITERATIONS": "12", "NNUNET_T1T2_VAL_ITERATIONS": "2"},
        source_schedule={"NNUNET_T1T2_EPOCHS": "8", "NNUNET_T1T2_ITERATIONS": "20"},
        test_time_mirroring=False, cv_folds=1, folds=(0,),
        strategies=strategies_by_key(["no-ft", "open", "ft6", "hybrid-mul", "hybrid-concat", "augmentation"]),
        phantom=PhantomSpec(patients=10, t2_patients=5, size="small"),
    ),
    "paper": Protocol(
        preset="paper", plans="paper", trainer_suffix=PAPER_SUFFIX, schedule={}, source_schedule={},
        test_time_mirroring=True, cv_folds=3, folds=(0, 1, 2),
        strategies=tuple(STRATEGIES.values()),
        phantom=PhantomSpec(patients=50, t2_patients=14, size="paper"),
    ),
}


def make_protocol(preset: str, strategies: list[str] | None = None, folds: list[int] | None = None,
                  plans: str | None = None, environ: Mapping[str, str] = os.environ) -> Protocol:
    """The preset with the caller's choices of strategies, folds and plans, and the schedule and
    mirroring variables of ``environ`` on top of the preset's."""
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    protocol = PRESETS[preset]
    if plans is not None and plans not in PLANS_CHOICES:
        raise UserError(f"unknown plans {plans!r}; choose one of {', '.join(PLANS_CHOICES)}")
    if folds is not None:
        outside = sorted(set(folds) - set(range(protocol.cv_folds)))
        if outside:
            raise UserError(f"the {preset} preset has {protocol.cv_folds} fold(s), numbered from 0; "
                            f"there is no fold {', '.join(map(str, outside))}")
    overrides = {v: environ[v] for v in SCHEDULE_VARIABLES if v in environ}
    schedule = {**protocol.schedule, **overrides}
    schedule_overrides(schedule)  # refuses invalid values with a UserError
    mirroring = inference_mirroring(environ) if MIRRORING_VARIABLE in environ else protocol.test_time_mirroring
    return replace(
        protocol,
        test_time_mirroring=mirroring,
        strategies=strategies_by_key(strategies) if strategies is not None else protocol.strategies,
        folds=tuple(sorted(set(folds))) if folds is not None else protocol.folds,
        plans=plans or protocol.plans,
        schedule=schedule,
        source_schedule={**schedule, **protocol.source_schedule, **overrides},
    )
