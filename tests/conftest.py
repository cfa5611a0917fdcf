"""Shared fixtures for the trainer tests: phantom data sets, a T1 source model and its link to T2.

Everything runs through the real commands (``nnunet-t1t2 phantom|convert|plans|link`` and
``nnUNetv2_*``) in temporary nnU-Net folders, on the CPU, with the short schedule set through
the environment. The data sets and the source model are built once per test session.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from nnunet_t1t2.study.commands import CPU_TRAINING_SETTINGS, CommandRunner

BIN = Path(sys.executable).parent
T1_ID, T2_ID, T1T2_ID = 11, 12, 13
PLANS = "nnUNetPlans_demo"
CONFIG = "3d_fullres"

#: Tiny schedule: enough to move every trainable weight, small enough for CI on two cores.
FAST = {
    "NNUNET_T1T2_EPOCHS": "1",
    "NNUNET_T1T2_ITERATIONS": "2",
    "NNUNET_T1T2_VAL_ITERATIONS": "1",
    "NNUNET_T1T2_MIRRORING": "0",
    "NNUNET_T1T2_SEED": "0",  # reproducible fixtures; tests/test_seeds.py retrains the source with it
}
#: Augmentation in the training process (no worker processes), as the study trains on the CPU. Not
#: for planning: nnU-Net's planner calls torch.set_num_threads(nnUNet_n_proc_DA), which fails for 0.
IN_PROCESS_AUGMENTATION = CPU_TRAINING_SETTINGS


@dataclass
class NNUNetFolders:
    raw: Path
    preprocessed: Path
    results: Path

    def environment(self, **extra: str) -> dict[str, str]:
        """What the study's commands see on the CPU (its folders, our trainers, no compilation, one
        export process), with the tiny schedule and ``extra``."""
        study = CommandRunner.for_study(self.raw, self.preprocessed, self.results, device="cpu")
        return {**study.environment, **FAST, **extra}

    def run(self, *command: str, expect_ok: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
        """Run a console script of this environment; on an unexpected outcome show its output."""
        result = subprocess.run([str(BIN / command[0]), *command[1:]], env=self.environment(**extra_env),
                                capture_output=True, encoding="utf-8", errors="replace")
        if (result.returncode == 0) != expect_ok:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}\n"
                                 f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}")
        return result

    def train(self, dataset: int, trainer: str, fold: str = "0", plans: str = PLANS, *flags: str,
              expect_ok: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
        return self.run("nnUNetv2_train", str(dataset), CONFIG, fold, "-tr", trainer, "-p", plans, "-device", "cpu",
                        *flags, expect_ok=expect_ok, **{**IN_PROCESS_AUGMENTATION, **extra_env})

    def fold_folder(self, dataset_name: str, trainer: str, fold: str = "0", plans: str = PLANS) -> Path:
        return self.results / dataset_name / f"{trainer}__{plans}__{CONFIG}" / f"fold_{fold}"

    def predict(self, dataset: int, trainer: str, images: Path, out: Path, plans: str = PLANS,
                **extra_env: str) -> Path:
        self.run("nnUNetv2_predict", "-i", str(images), "-o", str(out), "-d", str(dataset), "-c", CONFIG, "-tr",
                 trainer, "-p", plans, "-f", "0", "-device", "cpu", "-npp", "1", "-nps", "1", "--disable_tta",
                 **extra_env)
        return out


@dataclass
class PhantomDatasets:
    nnunet: NNUNetFolders
    t1: str
    t2: str
    t1t2: str


@pytest.fixture(scope="session")
def phantom_datasets(tmp_path_factory) -> PhantomDatasets:
    """Eight small phantom patients (four with T2), converted, planned, preprocessed with the demo preset."""
    root = tmp_path_factory.mktemp("nnunet")
    nnunet = NNUNetFolders(root / "raw", root / "preprocessed", root / "results")
    phantom = root / "phantom"
    nnunet.run("nnunet-t1t2", "phantom", "--out", str(phantom), "--n", "8", "--n-t2", "4", "--seed", "7")
    nnunet.run("nnunet-t1t2", "convert", "--input", str(phantom), "--layout", "paired", "--name", "Phantom",
               "--t1-id", str(T1_ID), "--t2-id", str(T2_ID), "--t1t2-id", str(T1T2_ID), "-np", "2")
    nnunet.run("nnUNetv2_plan_and_preprocess", "-d", str(T1_ID), "-c", CONFIG, "-np", "1", "-npfp", "1")
    nnunet.run("nnunet-t1t2", "plans", "demo", "-d", str(T1_ID))
    nnunet.run("nnUNetv2_preprocess", "-d", str(T1_ID), "-plans_name", PLANS, "-c", CONFIG, "-np", "1")
    names = {i: next(nnunet.raw.glob(f"Dataset{i:03d}_*")).name for i in (T1_ID, T2_ID, T1T2_ID)}
    return PhantomDatasets(nnunet, names[T1_ID], names[T2_ID], names[T1T2_ID])


@pytest.fixture(scope="session")
def source_model(phantom_datasets) -> Path:
    """The T1 source: SEUNetTrainer on the T1 phantom, fold 0; returns its fold folder."""
    nnunet = phantom_datasets.nnunet
    nnunet.train(T1_ID, "SEUNetTrainer")
    return nnunet.fold_folder(phantom_datasets.t1, "SEUNetTrainer")


@pytest.fixture(scope="session")
def linked_target(phantom_datasets, source_model) -> PhantomDatasets:
    """The T2 data set linked to the source model and preprocessed with its plans."""
    phantom_datasets.nnunet.run("nnunet-t1t2", "link", "--source", str(T1_ID), "--target", str(T2_ID),
                                "-p", PLANS, "-tr", "SEUNetTrainer", "-np", "1")
    return phantom_datasets


#: Fixtures that convert, plan, train or run a study through nnU-Net's commands: a test that uses one
#: belongs to the slow tier (`pytest -m "not slow"` leaves it out; `pytest tests` runs everything).
SLOW_FIXTURES = {"phantom_datasets", "source_model", "linked_target", "study", "converted", "planned",
                 "coarse_phantom", "fresh_nnunet", "installed", "fresh", "checkout"}


#: The session fixtures that train, and the test files that use them: those files run on one
#: pytest-xdist worker (:func:`pytest_xdist_make_scheduler`), so the fixtures are built once per run,
#: not once per worker. The scheduler sees only test ids, so the files are listed; collection checks
#: the list against the fixtures the tests use.
TRAINED_FIXTURES = {"phantom_datasets", "source_model", "linked_target"}
TRAINED_FILES = {"test_checkpoints.py", "test_hybrid.py", "test_predict.py", "test_se_plans.py", "test_seeds.py",
                 "test_seunet_trainer.py", "test_source_check.py", "test_transfer.py"}
TRAINED_GROUP = "the files of the trained fixtures"

#: The work that takes longest, longest first: pytest-xdist hands groups to its workers in collection
#: order (pytest.ini: --no-loadscope-reorder), so these start first and the run does not end with one
#: worker alone on a long file. The others follow in their usual order.
LONGEST_FIRST = (TRAINED_GROUP, "test_study.py", "test_gpu_check.py", "test_conversion.py", "test_layouts.py",
                 "test_install.py", "test_planning_ct_devices.py")


def work_unit(file_name: str) -> str:
    """What one worker runs as a whole: a test file (its module fixtures are built once), or all the
    files of the trained fixtures."""
    return TRAINED_GROUP if file_name in TRAINED_FILES else file_name


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown with -p no:xdist
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's per-file scheduling (``--dist loadfile``) with the files of the trained fixtures
    as one unit. (``--dist loadgroup`` would say it with marks, but pytest-xdist 3.8 names a group by
    rewriting ``item._nodeid``, which pytest 9.2 no longer reads: pytest-dev/pytest-xdist#1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    class TrainedFixturesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return TRAINED_GROUP if Path(file).name in TRAINED_FILES else file

    return TrainedFixturesTogether(config, log)


def pytest_collection_modifyitems(items):
    users = {item.path.name for item in items if TRAINED_FIXTURES & set(getattr(item, "fixturenames", ()))}
    if users - TRAINED_FILES:
        raise pytest.UsageError(f"tests/conftest.py: add {sorted(users - TRAINED_FILES)} to TRAINED_FILES "
                                f"(they use {sorted(TRAINED_FIXTURES)})")
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.path.name), len(rank)))  # stable: each file's order stays
