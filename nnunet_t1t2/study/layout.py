"""Where everything of a study lives under its output folder, and the models it trains.

The study owns its nnU-Net folders (``OUT/nnUNet_raw``, ``OUT/nnUNet_preprocessed``,
``OUT/nnUNet_results/seed_<s>``, one results folder per training seed, so that nnU-Net's own
folder names need no seed) so that it never touches the user's; the rest is its own:

    OUT/phantom/                         the generated phantom (--data phantom)
    OUT/logs/<step>.log                  output of every command of a step
    OUT/predictions/seed_<s>/<model>[/size_<k>]/fold_<f>/<T1|T2>_test/   nnUNetv2_predict output
    OUT/evaluation/seed_<s>/<model>[/size_<k>]/fold_<f>/<T1|T2>_test.json (and .csv)
    OUT/figures/fig5_*.png, fig6_*.png, fig7_*.png
    OUT/report.md
    OUT/study_state.json                 finished steps, their durations, and the set-up
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nnunetv2.utilities.file_path_utilities import convert_trainer_plans_config_to_identifier

from nnunet_t1t2.conversion.raw_dataset import TEST_CT_FOLDER
from nnunet_t1t2.conversion.splits import subset_fold
from nnunet_t1t2.nnunet_paths import raw_dataset_folder_name
from nnunet_t1t2.study.protocol import ALL, CONFIGURATION, DATASET_IDS, SOURCE_FOLD, Protocol
from nnunet_t1t2.study.statistics import Run
from nnunet_t1t2.study.strategies import STRATEGIES

TEST_SETS = ("T1", "T2")


@dataclass(frozen=True)
class Condition:
    """What the report compares: a ``role`` (a strategy, or the source) trained on ``t2_size`` T2
    training patients (:data:`~.protocol.ALL`: all of a fold's). Its models are its replicates, one
    per run (seed, fold)."""

    role: str
    t2_size: int | None = ALL


@dataclass(frozen=True)
class Model:
    """One trained model: ``role`` is ``source`` (T1 from scratch), ``augmentation`` (T1+T2 from
    scratch) or the key of a T2 strategy; ``dataset`` the kind of data set it trains on; ``seed``
    the training seed (a T2 strategy of seed s starts from the source model of seed s); ``t2_size``
    its number of T2 training patients (:data:`~.protocol.ALL`: all of the fold's), trained with
    nnU-Net's fold ``training_fold`` (the fold itself, or its subset's entry in the splits)."""

    role: str
    dataset: str
    trainer: str
    fold: int
    seed: int = 0
    t2_size: int | None = ALL
    training_fold: int | None = None

    def __post_init__(self) -> None:
        if self.training_fold is None:
            object.__setattr__(self, "training_fold", self.fold)

    @property
    def condition(self) -> Condition:
        return Condition(self.role, self.t2_size)

    @property
    def run(self) -> Run:
        return self.seed, self.fold

    @property
    def name(self) -> str:
        """How progress lines call it: the trainer, fold and seed, the role of a from-scratch model, and
        a T2 training size other than all."""
        role = {"source": "T1 source ", "augmentation": "T1+T2 "}.get(self.role, "")
        size = "" if self.t2_size is ALL else f", {self.t2_size} T2 training patients"
        return f"{role}{self.trainer} fold {self.fold} seed {self.seed}{size}"

    @property
    def key(self) -> str:
        """Its part of step keys and folder names: ``seed_<s>/<role>[/size_<k>]/fold_<f>`` (no size part for all,
        the keys of a study without the size axis)."""
        size = "" if self.t2_size is ALL else f"/size_{self.t2_size}"
        return f"seed_{self.seed}/{self.role}{size}/fold_{self.fold}"

    @property
    def test_sets(self) -> tuple[str, ...]:
        """T2 strategies are tested on T2; the two from-scratch models on both (Table 9)."""
        return ("T2",) if self.dataset == "T2" else TEST_SETS


def source_model(protocol: Protocol, seed: int) -> Model:
    return Model("source", "T1", protocol.source_trainer(), SOURCE_FOLD, seed)


def strategy_sizes(protocol: Protocol, role: str) -> tuple[int | None, ...]:
    """The T2 training sizes ``role`` is trained at: the protocol's for a strategy that trains on T2
    (fine-tuning, and the T1+T2 model with its T1 cases kept); all alone for the others (no fine-tuning
    trains nothing; the source sees no T2)."""
    strategy = STRATEGIES.get(role)
    return protocol.t2_train_sizes if strategy is not None and strategy.trains_on_t2 else (ALL,)


def condition_at(protocol: Protocol, role: str, t2_size: int | None) -> Condition:
    """The condition that stands for ``role`` at ``t2_size``: a role trained at one size only is one
    line across sizes."""
    return Condition(role, t2_size if t2_size in strategy_sizes(protocol, role) else ALL)


def trained_models(protocol: Protocol) -> list[Model]:
    """Every model of the study in training order, seed by seed: the source, each T2 strategy per
    size and fold, then the T1+T2 model per size."""
    models = []
    for seed in protocol.seeds:
        models.append(source_model(protocol, seed))
        models += [Model(s.key, "T2", s.trainer_name(protocol.trainer_suffix), fold, seed, size,
                         fold if size is ALL else subset_fold(protocol.cv_folds, fold, size))
                   for s in protocol.t2_strategies for size in strategy_sizes(protocol, s.key)
                   for fold in protocol.folds]
        if protocol.augmentation:
            models += [Model("augmentation", "T1T2", protocol.source_trainer(), SOURCE_FOLD, seed, size,
                             SOURCE_FOLD if size is ALL else subset_fold(protocol.cv_folds, SOURCE_FOLD, size))
                       for size in strategy_sizes(protocol, "augmentation")]
    return models


@dataclass(frozen=True)
class StudyLayout:
    root: Path
    dataset_name: str
    """The data sets' common name: ``Dataset501_<name>T1`` and so on."""
    plans_name: str

    @property
    def raw(self) -> Path:
        return self.root / "nnUNet_raw"

    @property
    def preprocessed(self) -> Path:
        return self.root / "nnUNet_preprocessed"

    @property
    def results(self) -> Path:
        """The folder of the seeds' results folders (the ``nnUNet_results`` of unseeded commands)."""
        return self.root / "nnUNet_results"

    def seed_results(self, seed: int) -> Path:
        """The ``nnUNet_results`` of every training and prediction of ``seed``."""
        return self.results / f"seed_{seed}"

    @property
    def phantom(self) -> Path:
        return self.root / "phantom"

    @property
    def conversion_settings(self) -> Path:
        """What the study hands ``nnunet-t1t2 convert --settings``."""
        return self.root / "conversion_settings.json"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def state(self) -> Path:
        return self.root / "study_state.json"

    def dataset_folder_name(self, kind: str) -> str:
        return raw_dataset_folder_name(DATASET_IDS[kind], self.dataset_name, kind)

    def raw_dataset(self, kind: str) -> Path:
        return self.raw / self.dataset_folder_name(kind)

    def test_images(self, kind: str) -> Path:
        return self.raw_dataset(kind) / "imagesTs"

    def test_labels(self, kind: str) -> Path:
        return self.raw_dataset(kind) / "labelsTs"

    def test_cts(self, kind: str) -> Path:
        """The test patients' registered CTs on their MR grids (HU), as the conversion writes them."""
        return self.raw_dataset(kind) / TEST_CT_FOLDER

    def fold_folder(self, model: Model) -> Path:
        return (self.seed_results(model.seed) / self.dataset_folder_name(model.dataset)
                / convert_trainer_plans_config_to_identifier(model.trainer, self.plans_name, CONFIGURATION)
                / f"fold_{model.training_fold}")

    def prediction_folder(self, model: Model, test_set: str) -> Path:
        return self.root / "predictions" / model.key / f"{test_set}_test"

    def evaluation_file(self, model: Model, test_set: str) -> Path:
        return self.root / "evaluation" / model.key / f"{test_set}_test.json"

    def pseudo_ct_file(self, model: Model, test_set: str) -> Path:
        """The pseudo-CT errors of a model's test predictions (:mod:`nnunet_t1t2.evaluation.pseudo_ct_cases`)."""
        return self.root / "evaluation" / model.key / f"{test_set}_test_pseudo_ct.json"

    def log_file(self, step_key: str) -> Path:
        return self.root / "logs" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", step_key) + ".log")
