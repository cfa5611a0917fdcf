"""Every trainer that ``nnunet-t1t2 trainers`` lists is a class statement a newcomer can grep for, and
nnU-Net's own lookup (the one ``nnUNetv2_train -tr`` uses) finds it. No training: seconds."""
import re
import sys
from pathlib import Path

import pytest
from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

import nnunet_t1t2.trainers as ours
from nnunet_t1t2.cli.trainers import trainer_purposes
from nnunet_t1t2.discovery import trainers_folder
from nnunet_t1t2.study.strategies import PAPER_SUFFIX, STRATEGIES
from nnunet_t1t2.training.paper_schedule import PaperSchedule
from nnunet_t1t2.transfer.trainer import ConservativeFineTuneTrainer

LISTED = list(trainer_purposes())


@pytest.mark.parametrize("name", LISTED)
def test_each_listed_trainer_has_one_class_statement_in_the_module_it_comes_from(name):
    source = Path(sys.modules[getattr(ours, name).__module__].__file__).read_text(encoding="utf-8")
    assert len(re.findall(rf"^class {name}\(", source, flags=re.MULTILINE)) == 1


def test_nnunets_own_lookup_finds_every_listed_trainer_in_our_folder(monkeypatch):
    """Stock nnU-Net's trainers first, then ``nnUNet_extTrainer`` (here our folder alone): each name is
    ours, not one of nnU-Net's, and the class found is the one nnunet-t1t2 exports."""
    monkeypatch.setenv("nnUNet_extTrainer", str(trainers_folder()))
    found = {name: recursive_find_trainer_class_by_name(name) for name in LISTED}
    assert {name: trainer for name, trainer in found.items() if trainer is not getattr(ours, name)} == {}


def test_each_paper_variant_is_the_paper_schedule_before_its_trainer():
    variants = [name for name in LISTED if name.endswith(PAPER_SUFFIX)]
    assert variants
    for name in variants:
        assert getattr(ours, name).__bases__ == (PaperSchedule, getattr(ours, name.removesuffix(PAPER_SUFFIX)))


def test_the_conservative_trainers_are_the_studys_depths_and_every_strategy_has_its_trainers():
    trained = {name: getattr(ours, name).retrained_convs for name in LISTED
               if issubclass(getattr(ours, name), ConservativeFineTuneTrainer) and not name.endswith(PAPER_SUFFIX)}
    studied = {s.trainer: s.retrained_convs for s in STRATEGIES.values() if s.family == "conservative"
               and s.retrained_convs}
    assert trained == studied
    assert all(name == f"FineTune{depth}ConvTrainer" for name, depth in trained.items())
    needed = {s.trainer_name(suffix) for s in STRATEGIES.values() for suffix in ("", PAPER_SUFFIX)}
    assert needed <= set(LISTED)
