"""What the conversion made of the study's data: cases, folds and left-out images per data set.

The conversion leaves out single images it cannot use (a failed registration, say) and goes on;
the study then needs to know whether what is left still holds a training and a validation case in
every fold it trains, and test cases to evaluate on, and the report lists what was left out. The
nested subsets of the T2 training patients are drawn from its folds, patients and split seed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nnunet_t1t2.conversion.splits import nested_order, nested_subset_splits
from nnunet_t1t2.errors import UserError

FILE_ENDING = ".nii.gz"


@dataclass(frozen=True)
class ConvertedDataset:
    folder: Path
    training_cases: tuple[str, ...]
    test_cases: tuple[str, ...]
    splits: tuple[dict, ...]
    left_out: dict[str, str]
    patient_of_case: dict[str, str]
    modality_of_case: dict[str, str]
    split_seed: int

    @classmethod
    def read(cls, folder: Path) -> ConvertedDataset:
        manifest = folder / "conversion.json"
        records = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
        left_out = records.get("left_out", {})
        if not (folder / "dataset.json").is_file():
            raise UserError(f"the conversion wrote no data set {folder.name} (too few usable patients for its "
                            f"folds); nothing was trained. See the conversion's log in the study's logs folder."
                            + _listed(left_out))
        splits = folder / "splits_final.json"
        split_seed = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))["nnunet_t1t2"]["split"]["seed"]
        cases = records.get("cases", {})
        return cls(folder, _cases(folder / "labelsTr"), _cases(folder / "labelsTs"),
                   tuple(json.loads(splits.read_text(encoding="utf-8"))) if splits.is_file() else (), left_out,
                   {case: record["patient"] for case, record in cases.items()},
                   {case: record["modality"] for case, record in cases.items()}, split_seed)

    def patients_in_fold(self, fold: int) -> tuple[int, int]:
        """Numbers of training and validation cases of ``fold``."""
        return len(self.splits[fold]["train"]), len(self.splits[fold]["val"])

    def training_patients(self, fold: int) -> set[str]:
        """The patients of ``fold``'s training cases."""
        return {self.patient_of_case[case] for case in self.splits[fold]["train"]}

    def nested_orders(self) -> list[list[str]]:
        """Each fold's training patients in the order its nested subsets take them (of a T2 data set)."""
        return [nested_order(self.training_patients(fold), self.split_seed, fold) for fold in range(len(self.splits))]

    def nested_subsets(self, t2: ConvertedDataset) -> list[dict]:
        """The split entries of its folds' nested subsets of the T2 data set ``t2``'s training patients
        (:func:`nested_subset_splits`): of every case of ``t2`` itself, of the T2 cases of a T1T2 data set."""
        t2_cases = None if t2 is self else [case for case, modality in self.modality_of_case.items()
                                            if modality == "T2"]
        return nested_subset_splits(list(self.splits), self.patient_of_case, t2.nested_orders(), t2_cases)

    def require_usable(self, folds: tuple[int, ...], tested: bool) -> None:
        """Refuse a data set that cannot train ``folds`` (or, if ``tested``, has no test case)."""
        problems = [f"fold {fold} has no {part} case" for fold in folds if fold < len(self.splits)
                    for part in ("train", "val") if not self.splits[fold][part]]
        problems += [f"there is no fold {fold}" for fold in folds if fold >= len(self.splits)]
        if tested and not self.test_cases:
            problems.append("there is no test case")
        if problems:
            raise UserError(f"{self.folder.name}: {'; '.join(problems)}. The study needs more patients (with T2, "
                            f"for the T2 data set), or fewer left out by the conversion (see its split options, "
                            f"and --accept for images refused after a look); nothing was trained."
                            + _listed(self.left_out))


def _listed(left_out: dict[str, str]) -> str:
    if not left_out:
        return "\nNo image was left out."
    return "".join(f"\n  left out {case}: {reason}" for case, reason in sorted(left_out.items()))


def _cases(folder: Path) -> tuple[str, ...]:
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.name[:-len(FILE_ENDING)] for p in folder.iterdir() if p.name.endswith(FILE_ENDING)))
