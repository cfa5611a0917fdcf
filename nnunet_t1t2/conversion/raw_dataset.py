"""The nnU-Net raw data sets a conversion writes: names, ids, case files and dataset.json.

Three kinds: ``T1`` and ``T2`` (one case per patient, named by the patient) and ``T1T2`` (the paper's
T2-as-augmentation set: each patient's T1 and T2 as separate single-channel cases
``<patient>_T1``/``<patient>_T2``). Beside nnU-Net's files each data set holds a ``qc`` folder
with an overlay per case and the manifest (:mod:`nnunet_t1t2.conversion.manifest`).
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from batchgenerators.utilities.file_and_folder_operations import load_json
from nnunetv2.dataset_conversion.generate_dataset_json import generate_dataset_json
from nnunetv2.paths import nnUNet_preprocessed, nnUNet_raw
from nnunetv2.utilities.dataset_name_id_conversion import find_candidate_datasets

from nnunet_t1t2.atomic import PARTIAL_SUFFIX, write_json_atomically
from nnunet_t1t2.conversion.splits import SPLITS_FILE
from nnunet_t1t2.errors import UserError
from nnunet_t1t2.labels import LABELS
from nnunet_t1t2.nnunet_paths import raw_dataset_folder_name

FILE_ENDING = ".nii.gz"
#: The registered CT of each test case, in HU on its MR's grid: what a pseudo-CT made from a test
#: prediction is compared with (nnU-Net reads no such folder).
TEST_CT_FOLDER = "ctTs"
CASE_FOLDERS = ("imagesTr", "labelsTr", "imagesTs", "labelsTs", TEST_CT_FOLDER, "qc")
STAGING_PREFIX = ".staging-"
CHANNEL_NAME = {"T1": "T1", "T2": "T2", "T1T2": "MR"}


@dataclass(frozen=True)
class CasePaths:
    image: Path
    label: Path
    overlay: Path
    ct: Path | None = None
    """The registered CT (test cases only)."""

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.image, self.label, self.overlay) + ((self.ct,) if self.ct else ())

    def exist(self) -> bool:
        return all(path.is_file() for path in self.files)


@dataclass(frozen=True)
class RawDataset:
    """One output data set: ``kind`` is ``T1``, ``T2`` or ``T1T2``."""

    kind: str
    dataset_id: int
    name: str

    @property
    def folder_name(self) -> str:
        return raw_dataset_folder_name(self.dataset_id, self.name, self.kind)

    @property
    def folder(self) -> Path:
        return Path(nnUNet_raw.require()) / self.folder_name

    @property
    def modalities(self) -> tuple[str, ...]:
        return ("T1", "T2") if self.kind == "T1T2" else (self.kind,)

    def case_id(self, patient: str, modality: str) -> str:
        return f"{patient}_{modality}" if self.kind == "T1T2" else patient

    def case_paths(self, case: str, test: bool) -> CasePaths:
        subset = "Ts" if test else "Tr"
        return CasePaths(self.folder / f"images{subset}" / f"{case}_0000{FILE_ENDING}",
                         self.folder / f"labels{subset}" / f"{case}{FILE_ENDING}",
                         self.folder / "qc" / f"{case}.png",
                         self.folder / TEST_CT_FOLDER / f"{case}{FILE_ENDING}" if test else None)

    def check_id_is_free(self) -> None:
        """Refuse an id that nnU-Net already knows under another name (raw, preprocessed or results
        folder): nnU-Net would then fail to tell the two apart."""
        others = [name for name in find_candidate_datasets(self.dataset_id) if name != self.folder_name]
        if others:
            raise UserError(f"data set id {self.dataset_id} is already taken by {', '.join(others)}; choose "
                            f"another id for {self.folder_name} or remove the other data set")

    def write_dataset_json(self, num_training: int, provenance: dict) -> None:
        """nnU-Net's ``generate_dataset_json`` (its keys and checks) plus our provenance key, written
        in a staging folder first and then put in place atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=self.folder) as staging:
            generate_dataset_json(
                staging, {0: CHANNEL_NAME[self.kind]}, dict(LABELS), num_training, FILE_ENDING,
                dataset_name=self.folder_name, converted_by="nnunet-t1t2 convert",
                description=f"{self.kind} MR of the head with bone, soft tissue and air labelled from the "
                            f"patient's CT; written by `nnunet-t1t2 convert`",
                license="that of the source images (these are derived from them)", nnunet_t1t2=provenance)
            write_json_atomically(self.folder / "dataset.json", load_json(str(Path(staging) / "dataset.json")))

    def withdraw(self) -> None:
        """Take away what makes the folder a data set nnU-Net trains on (``dataset.json`` and the
        splits, here and in the preprocessed folder); the case files and the manifest stay, so that
        a re-run with more usable patients picks up from them."""
        for path in (self.folder / "dataset.json", self.folder / SPLITS_FILE,
                     Path(nnUNet_preprocessed.require()) / self.folder_name / SPLITS_FILE):
            path.unlink(missing_ok=True)

    def remove_stray_files(self, cases: dict[str, CasePaths]) -> list[Path]:
        """Delete everything in the case folders that is not a file of ``cases`` (cases that moved
        between training and test, patients no longer converted, leftovers of a killed run), so
        that the data set mirrors the last conversion. Returns what was deleted."""
        keep = {path for paths in cases.values() for path in paths.files}
        removed = [path for folder in CASE_FOLDERS if (self.folder / folder).is_dir()
                   for path in sorted((self.folder / folder).iterdir()) if path not in keep]
        removed += sorted(self.folder.glob(f"{STAGING_PREFIX}*")) + sorted(self.folder.glob(f".*{PARTIAL_SUFFIX}"))
        for path in removed:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        return removed
