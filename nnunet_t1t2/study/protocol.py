"""The study's presets: what runs, on which data, with which network and schedule.

``paper`` is Mecheter et al.'s protocol: the paper's network (``nnunet-t1t2 plans paper``), the
paper's schedule (the ``_Paper`` trainers: Adam, plateau, early stopping, at most 200 epochs), three
folds, every strategy; with ``--data phantom``, 50 phantom patients of the paper's image size, 14
with T2. ``demo`` is the same protocol cut down to minutes on a CPU: a CPU-sized network, nnU-Net's
SGD schedule shortened through the ``NNUNET_T1T2_*`` variables (the two models trained from scratch
until bone stops improving, within a budget of epochs), one fold, one strategy of each of the paper's
five families (no, open and conservative fine-tuning, hybrid with multiplication, T1+T2), test-set
predictions with patches side by side, and 14 small phantom patients, 8 with T2, half of them held
out for testing.

``NNUNET_T1T2_EPOCHS``, ``NNUNET_T1T2_ITERATIONS``, ``NNUNET_T1T2_VAL_ITERATIONS`` and
``NNUNET_T1T2_MIRRORING`` set in the caller's environment override a preset's schedule and
test-time mirroring (for quick checks of the paper preset, and for the tests).

A strategy that trains on T2 (fine-tuning, and the T1+T2 model with all its T1 cases) is trained once
per **T2 training size** (``--t2-train-sizes``: nested subsets of each fold's T2 training patients,
:func:`nnunet_t1t2.conversion.splits.nested_subset_splits`; ``all``, the default, is every one of them);
no fine-tuning trains nothing and the T1 source sees no T2, so each is trained once. The paper preset
sweeps the paper's range, 2 to all (8 on its phantom) T2 training patients, like its section 4.2.

Every model is trained once per **seed** (``--seeds``; ``NNUNET_T1T2_SEED`` in each training's
environment fixes its initialisation, patch sampling and augmentation), so that the report's
intervals cover the variation between trainings as well as between patients.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Mapping

from nnunet_t1t2.conversion.choices import ConversionChoices
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.study.strategies import PAPER_SUFFIX, STRATEGIES, Strategy, strategies_by_key
from nnunet_t1t2.training.patience import PATIENCE_VARIABLE
from nnunet_t1t2.training.short_schedule import (EPOCHS_VARIABLE, MIRRORING_VARIABLE, SCHEDULE_VARIABLES,
                                                 SEED_VARIABLE, inference_mirroring, schedule_overrides)

CONFIGURATION = "3d_fullres"
DATASET_IDS = {"T1": 501, "T2": 502, "T1T2": 503}
#: The fold of the T1 source model and of the T1+T2 model (Table 9): the paper trains one source.
SOURCE_FOLD = 0
PLANS_CHOICES = ("paper", "demo", "nnUNetPlans")
#: The T2 training size of every T2 training patient of a fold (``--t2-train-sizes all``).
ALL = None


@dataclass(frozen=True)
class PhantomSpec:
    """The built-in phantom the study generates for ``--data phantom``."""

    patients: int
    t2_patients: int
    size: str
    seed: int = 0
    conversion: Mapping[str, float] = field(default_factory=dict)
    """Conversion settings for this phantom, by name (the demo: more T2 test patients, since
    predicting them is cheap and the verdicts need patients)."""


@dataclass(frozen=True)
class Protocol:
    preset: str
    plans: str
    """A plans preset of ``nnunet-t1t2 plans`` (paper, demo) or nnU-Net's own ``nnUNetPlans``."""
    trainer_suffix: str
    schedule: Mapping[str, str]
    """``NNUNET_T1T2_*`` schedule variables for every training (empty: the trainers' own)."""
    source_schedule: Mapping[str, str]
    """The variables of the two models trained from scratch (the T1 source and the T1+T2 model),
    ``schedule`` with the preset's own for them on top: every T2 strategy starts from the source,
    so a preset with a time budget gives them a most number of epochs and lets them stop once bone
    stops improving (``NNUNET_T1T2_PATIENCE``, :mod:`nnunet_t1t2.training.patience`) rather than
    after a fixed number of iterations tuned on one data set."""
    test_time_mirroring: bool
    """Off: nnU-Net's validation and our predictions run each patch once instead of eight times."""
    prediction_step_size: float
    """``nnUNetv2_predict -step_size`` of the test-set predictions: nnU-Net's 0.5 (patches overlap by
    half) or, in the demo, 1 (side by side: about a third of the patches, for a small change of the
    Dice at the tiles' seams that every strategy shares; README, the demo)."""
    cv_folds: int
    folds: tuple[int, ...]
    strategies: tuple[Strategy, ...]
    phantom: PhantomSpec
    seeds: tuple[int, ...] = (0,)
    """Training seeds: every model is trained once per seed (other seeds only add steps)."""
    conversion: ConversionChoices = ConversionChoices()
    """The user's conversion choices for the study's data (layout, split, labels, the registration
    check's limits, ``--accept``), on top of the phantom's own."""
    accept_unlearned_source: bool = False
    """Train the T2 strategies also on a source model that learned no bone (or another class); not
    part of :meth:`setup`: it changes no result, only whether the strategies start."""
    t2_train_sizes: tuple[int | None, ...] = (ALL,)
    """Numbers of T2 training patients the strategies that train on T2 train with, ascending, :data:`ALL`
    last; not part of :meth:`setup`: like the strategies, another size only adds steps."""

    @property
    def plans_name(self) -> str:
        return self.plans if self.plans == "nnUNetPlans" else f"nnUNetPlans_{self.plans}"

    @property
    def t2_strategies(self) -> tuple[Strategy, ...]:
        return tuple(s for s in self.strategies if s.on_t2)

    @property
    def main_t2_size(self) -> int | None:
        """The size the per-strategy tables and figures show: all, or the largest one run."""
        return self.t2_train_sizes[-1]

    @property
    def sweeps_t2_sizes(self) -> bool:
        """The study varies the T2 training size (anything but all alone)."""
        return self.t2_train_sizes != (ALL,)

    @property
    def augmentation(self) -> bool:
        return STRATEGIES["augmentation"] in self.strategies

    def training_environment(self, role: str, seed: int) -> dict[str, str]:
        """The ``NNUNET_T1T2_*`` variables the training of the model with ``role`` runs with (see
        :class:`~nnunet_t1t2.study.layout.Model`): its schedule, the test-time mirroring and its seed."""
        schedule = self.source_schedule if role in ("source", "augmentation") else self.schedule
        return {**schedule, MIRRORING_VARIABLE: "1" if self.test_time_mirroring else "0", SEED_VARIABLE: str(seed)}

    def source_trainer(self) -> str:
        return STRATEGIES["augmentation"].trainer_name(self.trainer_suffix)

    def setup(self, data: str) -> dict:
        """What the finished steps' results depend on: a re-run into the same folder must match it
        (the strategies and folds may change; they only add or leave out steps)."""
        setup = {"data": data, "plans": self.plans_name, "trainers": self.trainer_suffix or "nnU-Net SGD",
                 "schedule": dict(self.schedule), "source_schedule": dict(self.source_schedule),
                 "test_time_mirroring": self.test_time_mirroring, "prediction_step_size": self.prediction_step_size,
                 "cv_folds": self.cv_folds, "conversion": self.conversion.to_json()}
        if data == "phantom":
            setup["phantom"] = {**vars(self.phantom), "conversion": dict(self.phantom.conversion)}
        return setup


PRESETS = {
    "demo": Protocol(
        preset="demo", plans="demo", trainer_suffix="",
        schedule={"NNUNET_T1T2_EPOCHS": "6", "NNUNET_T1T2_ITERATIONS": "12", "NNUNET_T1T2_VAL_ITERATIONS": "2"},
        # bone appears after a number of SGD steps, not epochs: twice the steps per epoch bring it while
        # the learning rate (decaying over the epochs) is still high (documentation/design.md)
        source_schedule={"NNUNET_T1T2_EPOCHS": "25", "NNUNET_T1T2_ITERATIONS": "24", "NNUNET_T1T2_VAL_ITERATIONS": "4",
                         PATIENCE_VARIABLE: "4"},
        test_time_mirroring=False, prediction_step_size=1.0, cv_folds=1, folds=(0,),
        strategies=strategies_by_key(["no-ft", "open", "ft6", "hybrid-mul", "augmentation"]),
        phantom=PhantomSpec(patients=14, t2_patients=8, size="small",
                            conversion={"t2_test_fraction": 0.5, "t2_val_fraction": 0.125}),
        seeds=(0,),
    ),
    "paper": Protocol(
        preset="paper", plans="paper", trainer_suffix=PAPER_SUFFIX, schedule={}, source_schedule={},
        test_time_mirroring=True, prediction_step_size=0.5, cv_folds=3, folds=(0, 1, 2),
        strategies=tuple(STRATEGIES.values()), seeds=(0,), t2_train_sizes=(2, 4, 6, ALL),
        phantom=PhantomSpec(patients=50, t2_patients=14, size="paper"),
    ),
}


def make_protocol(preset: str, strategies: list[str] | None = None, folds: list[int] | None = None,
                  plans: str | None = None, environ: Mapping[str, str] = os.environ,
                  seeds: list[int] | None = None, conversion: ConversionChoices = ConversionChoices(),
                  source_epochs: int | None = None, source_patience: int | None = None,
                  accept_unlearned_source: bool = False,
                  t2_train_sizes: list[str | int | None] | None = None) -> Protocol:
    """The preset with the caller's choices of strategies, folds, plans, seeds and conversion choices, and the schedule
    and mirroring variables of ``environ`` on top of the preset's; ``source_epochs`` and ``source_patience``
    on top of everything for the two models trained from scratch; ``t2_train_sizes`` as numbers or
    ``all`` (:func:`t2_sizes`)."""
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
    if seeds is not None and any(seed < 0 for seed in seeds):
        raise UserError(f"--seeds {' '.join(map(str, seeds))}: seeds are non-negative integers")
    overrides = {v: environ[v] for v in SCHEDULE_VARIABLES if v in environ}
    schedule = {**protocol.schedule, **overrides}
    schedule_overrides(schedule)  # refuses invalid values with a UserError
    source_choices = {variable: str(value) for variable, value in
                      ((EPOCHS_VARIABLE, source_epochs), (PATIENCE_VARIABLE, source_patience)) if value is not None}
    if any(value < 1 for value in (source_epochs, source_patience) if value is not None):
        raise UserError("--source-epochs and --source-patience are positive numbers of epochs")
    mirroring = inference_mirroring(environ) if MIRRORING_VARIABLE in environ else protocol.test_time_mirroring
    return replace(
        protocol,
        test_time_mirroring=mirroring,
        strategies=strategies_by_key(strategies) if strategies is not None else protocol.strategies,
        folds=tuple(sorted(set(folds))) if folds is not None else protocol.folds,
        seeds=tuple(sorted(set(seeds))) if seeds else protocol.seeds,
        conversion=conversion,
        plans=plans or protocol.plans,
        schedule=schedule,
        source_schedule={**schedule, **protocol.source_schedule, **overrides, **source_choices},
        accept_unlearned_source=accept_unlearned_source,
        t2_train_sizes=t2_sizes(t2_train_sizes) if t2_train_sizes is not None else protocol.t2_train_sizes,
    )


def t2_sizes(values: list[str | int | None]) -> tuple[int | None, ...]:
    """``--t2-train-sizes`` as the protocol holds them: positive numbers ascending, each once, then
    :data:`ALL` (``all``) if given."""
    def size(value: str | int | None) -> int | None:
        if value is ALL or str(value).lower() == "all":
            return ALL
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            raise UserError(f"--t2-train-sizes {value}: a size is a positive number of T2 training patients, or all")
        return number
    sizes = {size(value) for value in values}
    if not sizes:
        raise UserError("--t2-train-sizes needs at least one size (a number of T2 training patients, or all)")
    return tuple(sorted(s for s in sizes if s is not ALL)) + ((ALL,) if ALL in sizes else ())
