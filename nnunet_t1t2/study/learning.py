"""No silent failure to learn: which trained model learned nothing of a class.

nnU-Net validates every training on its fold's validation cases and writes the per-class Dice to
``fold_x/validation/summary.json``. A class the validation labels hold but a model scores almost
nothing on was not learned; a study must say so, since every T2 strategy starts from the T1 source
model: a source that learned no bone makes every strategy's bone result uninterpretable (they all
score near 0 whatever their merit, or learn bone from the few T2 cases alone).
"""
from __future__ import annotations

from dataclasses import dataclass

from nnunet_t1t2.labels import LABELS
from nnunet_t1t2.study.layout import Model
from nnunet_t1t2.study.classes import BY_KEY
from nnunet_t1t2.study.results import StudyResults

#: Validation Dice below which a class counts as not learned: fewer than one voxel in ten right.
LEARNED_NOTHING_DICE = 0.1
#: Summary key -> the label's name in dataset.json (and in ``convergence.json``'s pseudo Dice).
LABEL_NAMES = {str(value): name for name, value in LABELS.items()}


@dataclass(frozen=True)
class LearningFailure:
    model: Model
    class_key: str
    dice: float

    @property
    def class_name(self) -> str:
        return BY_KEY[self.class_key].words if self.class_key in BY_KEY else f"label {self.class_key}"

    def pseudo_dice(self, record: dict | None) -> dict | None:
        """This class's pseudo Dice during the model's training (``convergence.json``), if recorded."""
        per_class = ((record or {}).get("final_model") or {}).get("pseudo_dice", {})
        return per_class.get(LABEL_NAMES.get(self.class_key, ""))


def learning_failures(results: StudyResults) -> list[LearningFailure]:
    """Every (model, class) whose validation Dice is below :data:`LEARNED_NOTHING_DICE`, for the
    classes present in the validation labels."""
    failures = []
    for model in results.models:
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


def transiently_learned(record: dict | None) -> dict[str, dict]:
    """Class name -> its pseudo Dice record (``convergence.json``'s ``final_model``), for the classes a
    training learned for a while and lost by its last epoch (best at least :data:`LEARNED_NOTHING_DICE`,
    last below it): the final model keeps the best epoch, but such a schedule is on the edge."""
    per_class = ((record or {}).get("final_model") or {}).get("pseudo_dice", {})
    return {name: values for name, values in per_class.items()
            if values["best"] >= LEARNED_NOTHING_DICE and values["last"] < LEARNED_NOTHING_DICE}


def pseudo_dice_text(name: str, values: dict, final_epoch: int | None = None) -> str:
    """How a class's pseudo Dice went during a training, in words."""
    final = f", the final model's (epoch {final_epoch}) {values['final_model']:.3f}" if final_epoch is not None else ""
    return (f"{name.replace('_', ' ')} pseudo Dice best {values['best']:.3f} at epoch {values['best_epoch']}, "
            f"{values['last']:.3f} at the last epoch{final}")
