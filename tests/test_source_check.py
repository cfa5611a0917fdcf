"""Fail fast: a study whose T1 source model learned no bone stops before its T2 strategies, with the
numbers it saw and a longer schedule to try; the report's Findings name a class learned only for a
while. The source's files are nnU-Net's validation summary and our convergence record, written as a
training writes them (tests/test_seunet_trainer.py checks that a training writes them so)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.study.commands import CommandRunner
from nnunet_t1t2.study.context import StudyContext
from nnunet_t1t2.study.findings import findings
from nnunet_t1t2.study.layout import StudyLayout, source_model
from nnunet_t1t2.study.protocol import make_protocol
from nnunet_t1t2.study.results import StudyResults
from nnunet_t1t2.study.steps import SourceCheckStep


def bone_curve(best: float, last: float) -> dict:
    return {"final_model": best, "last": last, "best": best, "best_epoch": 11}


def write_source(layout: StudyLayout, protocol, bone_dice: float, bone_curve_: dict) -> None:
    """The source's fold folder as a finished training leaves it."""
    folder = layout.fold_folder(source_model(protocol, 0))
    (folder / "validation").mkdir(parents=True)
    mean = {"1": {"Dice": 0.8}, "2": {"Dice": bone_dice}, "3": {"Dice": 0.02}}
    (folder / "validation" / "summary.json").write_text(json.dumps({"mean": mean}), encoding="utf-8")
    record = {"num_epochs": 25, "final_model": {"epoch": 11, "selected_by": "bone pseudo Dice", "value": 0.345,
                                                 "last_epoch": 14, "last_value": 0.0,
                                                 "pseudo_dice": {"soft_tissue": bone_curve(0.8, 0.8),
                                                                 "bone": bone_curve_, "air": bone_curve(0, 0)}}}
    (folder / "convergence.json").write_text(json.dumps(record), encoding="utf-8")


def context(tmp_path: Path, **choices) -> StudyContext:
    protocol = make_protocol("demo", strategies=["no-ft", "open"], environ={}, **choices)
    layout = StudyLayout(tmp_path, "Phantom", protocol.plans_name)
    runner = CommandRunner.for_study(layout.raw, layout.preprocessed, layout.results, "cpu")
    return StudyContext(protocol, layout, runner, tmp_path / "data", workers=1)


def test_a_source_without_bone_stops_the_study_with_the_numbers_and_a_longer_schedule(tmp_path):
    study = context(tmp_path)
    write_source(study.layout, study.protocol, bone_dice=0.0, bone_curve_=bone_curve(0.345, 0.0))
    with pytest.raises(UserError) as stopped:
        SourceCheckStep(source_model(study.protocol, 0)).run(study)
    message = str(stopped.value)
    assert "learned no bone (validation bone Dice 0.000, below 0.1" in message
    assert "bone pseudo Dice best 0.345 at epoch 11, 0.000 at the last epoch" in message
    assert "--source-epochs 50 --source-patience 8 (now 25 epochs, patience 4)" in message
    assert "--accept-unlearned-source" in message
    longer = make_protocol("demo", environ={}, source_epochs=50, source_patience=8)
    assert longer.source_schedule["NNUNET_T1T2_EPOCHS"] == "50" and longer.source_schedule["NNUNET_T1T2_PATIENCE"] == "8"


def test_a_source_with_bone_or_an_accepted_one_lets_the_strategies_train(tmp_path):
    # air inside the head scores 0.02 here: a small class does not stop the study, bone does
    learned = context(tmp_path / "learned")
    write_source(learned.layout, learned.protocol, bone_dice=0.7, bone_curve_=bone_curve(0.72, 0.7))
    SourceCheckStep(source_model(learned.protocol, 0)).run(learned)
    accepted = context(tmp_path / "accepted", accept_unlearned_source=True)
    write_source(accepted.layout, accepted.protocol, bone_dice=0.0, bone_curve_=bone_curve(0.0, 0.0))
    SourceCheckStep(source_model(accepted.protocol, 0)).run(accepted)
    assert accepted.protocol.setup("phantom") == learned.protocol.setup("phantom")  # a choice, not a result


def test_findings_name_a_class_the_source_learned_only_for_a_while(tmp_path):
    study = context(tmp_path)
    write_source(study.layout, study.protocol, bone_dice=0.3, bone_curve_=bone_curve(0.345, 0.0))
    text = findings(StudyResults(study.layout, study.protocol))
    assert "**The T1 source model (fold 0, seed 0) learned bone only for a while**: bone pseudo Dice best 0.345 " \
           "at epoch 11, 0.000 at the last epoch, the final model's (epoch 11) 0.345" in text
    assert "soft tissue only for a while" not in text


@pytest.mark.parametrize("value", [0, -3])
def test_a_source_schedule_of_no_epochs_is_refused(value):
    with pytest.raises(UserError, match="--source-epochs and --source-patience are positive"):
        make_protocol("demo", environ={}, source_epochs=value)
