"""Test set and cross-validation folds, drawn by patient, and nnU-Net's ``splits_final.json``.

The paper's protocol: of 50 T1 patients 10 are test, and three folds use 30 for training and 10 for
validation; of the 14 patients that also have T2, 3 are test and the folds use 8/3. Other numbers of
patients get the same proportions. Everything is drawn by patient, so a patient's T1 and T2 never
end up on different sides of a split, and, when the T2 data set is written, two nestings keep the
transfer honest:

* the T2 test patients are T1 test patients too, so the T1 source model never trains on them;
* the T2 validation patients of fold ``f`` are T1 validation patients of fold ``f``, so the source
  model of fold ``f`` has not seen the patients its fine-tuned T2 model is validated on.

Where the T1 test or validation set needs more patients than the nesting puts in, the rest is drawn
from patients without T2 first, which leaves every T2 patient's T2 image usable for training in the
T1T2 data set.

A study that asks how many T2 training patients a strategy needs trains on nested subsets of a fold's
T2 training patients (:func:`nested_subset_splits`; in the T1T2 data set, of its T2 cases): extra
entries after the folds in the preprocessed ``splits_final.json`` (nnU-Net trains any entry it lists,
and its planning allows the preprocessed file more entries than the raw one), with the fold's
validation and the test patients unchanged.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from nnunetv2.paths import nnUNet_preprocessed, nnUNet_raw

from nnunet_t1t2.atomic import write_json_atomically
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.nnunet_paths import dataset_name
from nnunet_t1t2.options import check_values, setting

SPLITS_FILE = "splits_final.json"


@dataclass(frozen=True)
class SplitProtocol:
    """Split sizes as fractions of the patients of each modality, the number of folds and the seed."""

    folds: int = setting(3, "--folds", "cross-validation folds", bounds=(1, None))
    t1_test_fraction: float = setting(10 / 50, "--t1-test-fraction", "of the T1 patients", shown="0.2, 10 of 50")
    t1_val_fraction: float = setting(10 / 50, "--t1-val-fraction", "per fold", shown="0.2, 10 of 50")
    t2_test_fraction: float = setting(3 / 14, "--t2-test-fraction", "of the T2 patients", shown="0.214, 3 of 14")
    t2_val_fraction: float = setting(3 / 14, "--t2-val-fraction", "per fold", shown="0.214, 3 of 14")
    seed: int = setting(0, "--split-seed", "seed of the split", aliases=("--seed",))

    def __post_init__(self) -> None:
        check_values(SplitProtocol, self)
        for name in ("t1_test_fraction", "t1_val_fraction", "t2_test_fraction", "t2_val_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', ' ')} must lie in [0, 1), not {getattr(self, name)}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PatientSplit:
    """Which patients are test patients and which validate each fold, per modality. Training
    patients of fold ``f`` are the non-test patients not validating fold ``f``."""

    t1_test: frozenset[str]
    t2_test: frozenset[str]
    t1_val: tuple[frozenset[str], ...]
    t2_val: tuple[frozenset[str], ...]

    def test_patients(self, kind: str) -> frozenset[str]:
        """Test patients of a data set of ``kind`` ("T1", "T2" or "T1T2", which follows T1)."""
        return self.t2_test if kind == "T2" else self.t1_test

    def val_folds(self, kind: str) -> tuple[frozenset[str], ...]:
        """Validation patients per fold of a data set of ``kind``."""
        return self.t2_val if kind == "T2" else self.t1_val

    def of_patients(self, subject_of: Mapping[str, str]) -> PatientSplit:
        """This split, drawn over subjects, as the split of their patients (``subject_of``: patient ->
        subject): every patient goes where its subject went."""
        def patients(subjects: frozenset[str]) -> frozenset[str]:
            return frozenset(p for p, subject in subject_of.items() if subject in subjects)
        return PatientSplit(patients(self.t1_test), patients(self.t2_test), tuple(map(patients, self.t1_val)),
                            tuple(map(patients, self.t2_val)))


def split_patients(patients: Iterable[str], t2_patients: Iterable[str], protocol: SplitProtocol) -> PatientSplit:
    """Draw the split (deterministic given the patients and ``protocol.seed``)."""
    patients = sorted(set(patients))
    t2_patients = sorted(set(t2_patients) & set(patients))
    rng = np.random.default_rng(protocol.seed)

    t2_test = _draw(rng, _count(protocol.t2_test_fraction, len(t2_patients)), t2_patients)
    without_t2 = [p for p in patients if p not in set(t2_patients)]
    t1_test = t2_test | _draw(rng, _count(protocol.t1_test_fraction, len(patients)) - len(t2_test),
                              without_t2, t2_patients, exclude=t2_test)

    t2_val = _fold_chunks(rng, [p for p in t2_patients if p not in t2_test],
                          _count(protocol.t2_val_fraction, len(t2_patients), at_least=1), protocol.folds, "T2")
    t1_pool = [p for p in patients if p not in t1_test]
    t1_val_size = _count(protocol.t1_val_fraction, len(patients), at_least=1)
    _require_room(len(t1_pool), t1_val_size, protocol.folds, "T1")
    t1_val: list[frozenset[str]] = []
    for t2_fold in t2_val:
        taken = frozenset().union(*t1_val, *t2_val)
        t1_val.append(t2_fold | _draw(rng, t1_val_size - len(t2_fold), [p for p in without_t2 if p in t1_pool],
                                      [p for p in t1_pool if p not in set(without_t2)], exclude=taken))
    return PatientSplit(frozenset(t1_test), frozenset(t2_test), tuple(t1_val), tuple(t2_val))


def nnunet_splits(val_folds: Iterable[frozenset[str]], cases_of_patient: Mapping[str, list[str]]) -> list[dict]:
    """nnU-Net's split list for the training cases ``cases_of_patient`` (patient -> its case ids
    in imagesTr): fold ``f`` validates the cases of ``val_folds[f]`` and trains on all others."""
    splits = []
    for val_patients in val_folds:
        val = sorted(c for p, cases in cases_of_patient.items() if p in val_patients for c in cases)
        train = sorted(c for p, cases in cases_of_patient.items() if p not in val_patients for c in cases)
        splits.append({"train": train, "val": val})
    return splits


def subset_fold(folds: int, fold: int, size: int) -> int:
    """The split entry of ``fold``'s subset of ``size`` training patients: after the ``folds`` folds,
    size by size from 1, so that an entry's place never depends on which sizes a study asks for."""
    return folds * size + fold


def nested_order(patients: Iterable[str], seed: int, fold: int) -> list[str]:
    """A fold's training patients in the order its subsets take them: the first k are the subset of
    size k, so each subset holds every smaller one (the sizes can be compared patient by patient);
    drawn from the split's ``seed`` and the fold, the same on every run."""
    patients = sorted(set(patients))
    return [patients[i] for i in np.random.default_rng([seed, fold]).permutation(len(patients))]


def nested_subset_splits(folds: list[dict], patient_of_case: Mapping[str, str], orders: list[list[str]],
                         t2_cases: Iterable[str] | None = None) -> list[dict]:
    """The entries after ``folds`` (nnU-Net's split list): for each size k from 1 to the longest of
    ``orders`` (each fold's T2 training patients in :func:`nested_order`), and each fold f (entry
    :func:`subset_fold`), f's validation cases and its training cases without the T2 cases (``t2_cases``;
    None: every case, a T2 data set) of patients outside the first k of f's order, so that the T1
    cases of a T1T2 data set stay in every subset. A fold with fewer than k T2 training patients keeps
    all of them at k (an entry kept only for the numbering: a study refuses such a size before it trains)."""
    thinned = None if t2_cases is None else set(t2_cases)
    entries = []
    for size in range(1, max(map(len, orders), default=0) + 1):
        for fold, order in zip(folds, orders):
            chosen = set(order[:size])
            entries.append({"train": [case for case in fold["train"] if patient_of_case[case] in chosen
                                      or (thinned is not None and case not in thinned)],
                            "val": list(fold["val"])})
    return entries


def write_splits(raw_dataset_dir: Path, splits: list[dict]) -> None:
    """Write ``splits_final.json`` into the raw data set folder (the copy that survives) and install it
    into nnU-Net's preprocessed folder, where training reads it."""
    write_json_atomically(raw_dataset_dir / SPLITS_FILE, splits)
    install_splits(raw_dataset_dir.name)


def install_splits(dataset_name_or_id: str | int, extra: list[dict] = ()) -> bool:
    """Copy the raw data set's ``splits_final.json``, followed by the ``extra`` entries (a study's
    :func:`nested_subset_splits`), into ``$nnUNet_preprocessed/<dataset>/`` unless an identical one is
    there; True if it copied.

    ``nnUNetv2_plan_and_preprocess`` (nnU-Net 2.8) copies the raw folder's file itself when the
    preprocessed folder has none, and stops with an AssertionError when the two disagree; training
    silently makes its own 5-fold split when there is none. Calling this after conversion and after
    planning makes sure training uses ours.
    """
    name = dataset_name(dataset_name_or_id)
    source = Path(nnUNet_raw.require()) / name / SPLITS_FILE
    if not source.is_file():
        raise UserError(f"{source} does not exist; convert the data set with `nnunet-t1t2 convert` first")
    target = Path(nnUNet_preprocessed.require()) / name / SPLITS_FILE
    splits = json.loads(source.read_text(encoding="utf-8")) + list(extra)
    if target.is_file() and json.loads(target.read_text(encoding="utf-8")) == splits:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(target, splits)
    return True


def _count(fraction: float, n: int, at_least: int = 0) -> int:
    return max(at_least, int(round(fraction * n))) if n else 0


def _draw(rng: np.random.Generator, k: int, preferred: list[str], others: list[str] = (),
          exclude: Iterable[str] = ()) -> frozenset[str]:
    """``k`` random patients, taken from ``preferred`` before ``others``, never from ``exclude``."""
    exclude = set(exclude)
    chosen: list[str] = []
    for pool in (preferred, others):
        candidates = [p for p in pool if p not in exclude and p not in chosen]
        take = min(max(k - len(chosen), 0), len(candidates))
        chosen += [candidates[i] for i in rng.permutation(len(candidates))[:take]]
    return frozenset(chosen)


def _fold_chunks(rng: np.random.Generator, pool: list[str], size: int, folds: int,
                 modality: str) -> tuple[frozenset[str], ...]:
    """``folds`` disjoint random validation sets of ``size`` patients from ``pool``."""
    if not pool:
        return tuple(frozenset() for _ in range(folds))
    _require_room(len(pool), size, folds, modality)
    order = [pool[i] for i in rng.permutation(len(pool))]
    return tuple(frozenset(order[f * size:(f + 1) * size]) for f in range(folds))


def _require_room(n_pool: int, size: int, folds: int, modality: str) -> None:
    if folds * size > n_pool or n_pool - size < 1:
        raise UserError(
            f"too few {modality} patients for {folds} folds: {n_pool} are left after the test set, and {folds} "
            f"disjoint validation sets of {size} need {folds * size} plus at least one for training. Use fewer "
            f"--folds or smaller split fractions")
