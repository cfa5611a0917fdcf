"""Where everything of a study lives under its output folder, and the models it trains.

The study owns its nnU-Net folders (``OUT/nnUNet_raw``, ``OUT/nnUNet_preprocessed``,
``OUT/nnUNet_results``) so that it never touches the user's; the rest is its own:

    OUT/phantom/                         the generated phantom (--data phantom)
    OUT/logs/<step>.log                  output of every command of a step
    OUT/predictions/<model>/fold_<f>/<T1|T2>_test/   nnUNetv2_predict output
    OUT/evaluation/<model>/fold_<f>/<T1|T2>_test.json (and .csv)
    OUT/figures/fig5_*.png, fig6_*.png, fig7_*.png
    OUT/report.md
    OUT/study_state.json                 finished steps, their durations, and the set-up
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nnunet_t1t2.study.protocol import CONFIGURATION, DATASET_IDS, SOURCE_FOLD, Protocol

TEST_SETS = ("T1", "T2")


@dataclass(frozen=True)
class Model:
    """One trained model: ``role`` is ``source`` (T1 from scratch), ``augmentation`` (T1+T2 from
    scratch) or the key of a T2 strategy; ``dataset`` the kind of data set it trains on."""

    role: str
    dataset: str
    trainer: str
    fold: int

    @property
    def name(self) -> str:
        """How progress lines call it: the trainer and fold, and the role of a from-scratch model."""
        role = {"source": "T1 source ", "augmentation": "T1+T2 "}.get(self.role, "")
        return f"{role}{self.trainer} fold {self.fold}"

    @property
    def test_sets(self) -> tuple[str, ...]:
        """T2 strategies are tested on T2; the two from-scratch models on both (Table 9)."""
        return ("T2",) if self.dataset == "T2" else TEST_SETS


def source_model(protocol: Protocol) -> Model:
    return Model("source", "T1", protocol.source_trainer(), SOURCE_FOLD)


def trained_models(protocol: Protocol) -> list[Model]:
    """Every model of the study in training order: the source, each T2 strategy per fold, then the
    T1+T2 model."""
    models = [source_model(protocol)]
    models += [Model(s.key, "T2", s.trainer_name(protocol.trainer_suffix), fold)
               for s in protocol.t2_strategies for fold in protocol.folds]
    if protocol.augmentation:
        models.append(Model("augmentation", "T1T2", protocol.source_trainer(), SOURCE_FOLD))
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
        return self.root / "nnUNet_results"

    @property
    def phantom(self) -> Path:
        return self.root / "phantom"

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
        return f"Dataset{DATASET_IDS[kind]:03d}_{self.dataset_name}{kind}"

    def raw_dataset(self, kind: str) -> Path:
        return self.raw / self.dataset_folder_name(kind)

    def test_images(self, kind: str) -> Path:
        return self.raw_dataset(kind) / "imagesTs"

    def test_labels(self, kind: str) -> Path:
        return self.raw_dataset(kind) / "labelsTs"

    def fold_folder(self, model: Model) -> Path:
        return (self.results / self.dataset_folder_name(model.dataset)
                / f"{model.trainer}__{self.plans_name}__{CONFIGURATION}" / f"fold_{model.fold}")

    def prediction_folder(self, model: Model, test_set: str) -> Path:
        return self.root / "predictions" / model.role / f"fold_{model.fold}" / f"{test_set}_test"

    def evaluation_file(self, model: Model, test_set: str) -> Path:
        return self.root / "evaluation" / model.role / f"fold_{model.fold}" / f"{test_set}_test.json"

    def log_file(self, step_key: str) -> Path:
        return self.root / "logs" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", step_key) + ".log")
