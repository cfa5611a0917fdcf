"""No silent failure to learn: which trained model learned nothing of a class.

nnU-Net validates every training on its fold's validation cases and writes the per-class Dice to
``fold_x/validation/summary.json``. A class the validation labels hold but a model scores almost
nothing on was not learned; a study must say so, since every T2 strategy starts from the T1 source
model: a source that learned no bone makes every strategy's bone result uninterpretable (they all
score near 0 whatever their merit, or learn bone from the few T2 cases alone).
"""
from __future__ import annotations

from dataclasses import dataclass

from nnunet_t1t2.study.layout import Model
from nnunet_t1t2.study.results import CLASSES, StudyResults

#: Validation Dice below which a class counts as not learned: fewer than one voxel in ten right.
LEARNED_NOTHING_DICE = 0.1
CLASS_NAMES = {tissue.key: tissue.name for tissue in CLASSES}


@dataclass(frozen=True)
class LearningFailure:
    model: Model
    class_key: str
    dice: float

    @property
    def class_name(self) -> str:
        return CLASS_NAMES.get(self.class_key, f"label {self.class_key}").lower()


def learning_failures(results: StudyResults) -> list[LearningFailure]:
    """Every (model, class) whose validation Dice is below :data:`LEARNED_NOTHING_DICE`, for the
    classes present in the validation labels."""
    failures = []
    for model in results.models.values():
        dice = results.validation_dice(model) or {}
        failures += [LearningFailure(model, key, value) for key, value in dice.items()
                     if value is not None and value < LEARNED_NOTHING_DICE]
    return failures


def uninterpretable_classes(failures: list[LearningFailure]) -> dict[str, list[int]]:
    """Class key -> seeds whose T1 source model did not learn the class: for these, the T2
    strategies (which all start from that source) say nothing about the strategies themselves."""
    seeds: dict[str, list[int]] = {}
    for failure in failures:
        if failure.model.role == "source":
            seeds.setdefault(failure.class_key, []).append(failure.model.seed)
    return {key: sorted(values) for key, values in seeds.items()}
