"""Shared fixtures for the trainer tests: phantom data sets, a T1 source model and its link to T2.

Everything runs through the real commands (``nnunet-t1t2 phantom|convert|plans|link`` and
``nnUNetv2_*``) in temporary nnU-Net folders, on the CPU, with the short schedule set through
the environment. The data sets and the source model are built once per test run, however many
pytest-xdist workers use them (:func:`build_once`); each test trains its own trainers beside them.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from filelock import FileLock

from nnunet_t1t2.study.commands import CPU_TRAINING_SETTINGS, CommandRunner

BIN = Path(sys.executable).parent

#: The cores shared out among pytest-xdist's workers, as the study shares them out among its own: the
#: commands a test starts (nnU-Net's trainings, predictions) inherit it. With a torch thread per core in
#: every worker's commands, an OpenMP thread waiting for work spins on a core another worker needs.
THREADS_PER_WORKER = max(1, len(os.sched_getaffinity(0)) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS_PER_WORKER))
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
#: MR voxels of the suite's trained fixtures and study: 4.5 x 4.5 x 5 mm (the small phantom's are 3 x 3 x 3.5).
COARSE_MR = ("--mr-voxel", "4.5", "--slice-thickness", "5")
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


def run_folder(tmp_path_factory) -> Path:
    """This test run's folder: shared by its pytest-xdist workers (each has a folder of its own below
    it), or the session's own without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(folder: Path, stage: str, build: Callable[[], None]) -> None:
    """``build()`` once per test run, however many workers ask: the first one builds under a file lock
    while the others wait, then all use what it left in ``folder``; a build that failed leaves no mark,
    so the next one to ask builds again."""
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / f".{stage}.lock"):
        done = folder / f".{stage}.done"
        if not done.is_file():
            build()
            done.touch()


@pytest.fixture(scope="session")
def phantom_datasets(tmp_path_factory) -> PhantomDatasets:
    """Eight small phantom patients (four with T2), converted, planned, preprocessed with the demo preset.

    Their MR is acquired coarser than the small phantom's own (:data:`COARSE_MR`), as other scanners
    do: the demo patch still fits, and nnU-Net's validation after each of the suite's many trainings,
    and every prediction, covers a quarter of the patches."""
    root = run_folder(tmp_path_factory) / "nnunet"
    nnunet = NNUNetFolders(root / "raw", root / "preprocessed", root / "results")

    def build() -> None:
        phantom = root / "phantom"
        nnunet.run("nnunet-t1t2", "phantom", "--out", str(phantom), "--n", "8", "--n-t2", "4", "--seed", "7",
                   *COARSE_MR, "--overwrite")
        nnunet.run("nnunet-t1t2", "convert", "--input", str(phantom), "--layout", "paired", "--name", "Phantom",
                   "--t1-id", str(T1_ID), "--t2-id", str(T2_ID), "--t1t2-id", str(T1T2_ID), "-np", "2")
        nnunet.run("nnUNetv2_plan_and_preprocess", "-d", str(T1_ID), "-c", CONFIG, "-np", "1", "-npfp", "1")
        nnunet.run("nnunet-t1t2", "plans", "demo", "-d", str(T1_ID))
        nnunet.run("nnUNetv2_preprocess", "-d", str(T1_ID), "-plans_name", PLANS, "-c", CONFIG, "-np", "1")

    build_once(root, "datasets", build)
    names = {i: next(nnunet.raw.glob(f"Dataset{i:03d}_*")).name for i in (T1_ID, T2_ID, T1T2_ID)}
    return PhantomDatasets(nnunet, names[T1_ID], names[T2_ID], names[T1T2_ID])


@pytest.fixture(scope="session")
def source_model(phantom_datasets) -> Path:
    """The T1 source: SEUNetTrainer on the T1 phantom, fold 0; returns its fold folder."""
    nnunet = phantom_datasets.nnunet
    build_once(nnunet.raw.parent, "source", lambda: nnunet.train(T1_ID, "SEUNetTrainer"))
    return nnunet.fold_folder(phantom_datasets.t1, "SEUNetTrainer")


@pytest.fixture(scope="session")
def linked_target(phantom_datasets, source_model) -> PhantomDatasets:
    """The T2 data set linked to the source model and preprocessed with its plans."""
    build_once(phantom_datasets.nnunet.raw.parent, "link", lambda: phantom_datasets.nnunet.run(
        "nnunet-t1t2", "link", "--source", str(T1_ID), "--target", str(T2_ID), "-p", PLANS, "-tr", "SEUNetTrainer",
        "-np", "1"))
    return phantom_datasets


#: Fixtures that convert, plan, train or run a study through nnU-Net's commands: a test that uses one
#: belongs to the slow tier (`pytest -m "not slow"` leaves it out; `pytest tests` runs everything).
SLOW_FIXTURES = {"phantom_datasets", "source_model", "linked_target", "study", "converted", "planned",
                 "coarse_phantom", "fresh_nnunet", "installed", "fresh", "checkout"}


#: The work that takes longest, longest first: pytest-xdist hands files to its workers in collection
#: order (pytest.ini: --no-loadscope-reorder), so these start first and the run does not end with one
#: worker alone on a long file; the files of the trained fixtures follow, the first of them building
#: those. The others follow in their usual order.
LONGEST_FIRST = ("test_study.py", "test_gpu_check.py", "test_predict.py", "test_cluster_exposure.py",
                 "test_transfer.py", "test_hybrid.py", "test_conversion.py", "test_seunet_trainer.py",
                 "test_checkpoints.py", "test_seeds.py", "test_layouts.py", "test_install.py",
                 "test_planning_ct_devices.py")


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's own order stays
