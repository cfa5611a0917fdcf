"""Finding a trained nnU-Net model and loading it into nnU-Net's own predictor.

A model comes in three forms: a data set, trainer, plans and configuration under
``$nnUNet_results`` (``-d -tr -p -c``, as ``nnUNetv2_predict`` takes it), a model folder anywhere
(``-m FOLDER``, used in place), or a zip written by ``nnUNetv2_export_model_to_zip`` (``-m
MODEL.zip``). A zip is installed once by nnU-Net's own ``install_model_from_zip_file`` into a cache
folder keyed by the zip's content, never into the user's ``$nnUNet_results``, where it could
overwrite a model of the same name.

Everything that would make nnU-Net fail deep inside inference, or silently predict on wrongly
ordered axes, is checked first and reported with the model folder named: missing folds or
checkpoints, a model that takes several input channels (one MR image per case is all that
``predict`` gives), a cascade stage, and an image reader other than SimpleITK's (the axis order
of the arrays handed to the network must be the one the model was trained with). A model is data:
its checkpoints are read with torch's safe loader before nnU-Net's predictor, which unpickles
whatever they name, touches them (:mod:`nnunet_t1t2.checkpoints`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from nnunet_t1t2.checkpoints import load_checkpoint
from nnunet_t1t2.discovery import with_our_trainers
from nnunet_t1t2.environment import environment_set
from nnunet_t1t2.errors import UserError

#: The reader nnU-Net's plans must name for :mod:`nnunet_t1t2.prediction.inference` to hand the
#: network the same arrays as ``nnUNetv2_predict`` would.
SUPPORTED_READER = "SimpleITKIO"
DEFAULT_CHECKPOINT = "checkpoint_final.pth"


@dataclass(frozen=True)
class TrainedModel:
    """A model folder (``Trainer__Plans__configuration``) and the folds to predict with."""

    folder: Path
    folds: tuple[str, ...]
    checkpoint: str
    dataset_json: dict
    plans: dict

    @property
    def labels(self) -> dict[str, int]:
        """Class name -> label value, background included, as the model's dataset.json gives them."""
        return {name: int(value) for name, value in self.dataset_json["labels"].items()}

    @property
    def channel_names(self) -> list[str]:
        channels = self.dataset_json.get("channel_names", self.dataset_json.get("modality", {}))
        return [channels[k] for k in sorted(channels, key=int)]

    def describe(self) -> str:
        return f"{self.folder} (folds {', '.join(self.folds)}, input: {', '.join(self.channel_names)})"


def find_model(model: str | None, dataset: str | None, trainer: str | None, plans: str | None,
               configuration: str | None, cache: Path) -> Path:
    """The model folder named by ``-m`` (a zip or a folder) or by ``-d/-tr/-p/-c``."""
    if model is not None:
        path = Path(model)
        if not path.exists():
            raise UserError(f"model {path} does not exist")
        root = install_zip(path, cache) if path.is_file() else path
        return _pick_model_folder(root, path, trainer, plans, configuration)
    if dataset is None or trainer is None:
        raise UserError("name the model with -m MODEL.zip|MODEL_FOLDER, or with -d DATASET -tr TRAINER "
                        "[-p PLANS] [-c CONFIGURATION]")
    return _results_model_folder(dataset, trainer, plans or "nnUNetPlans", configuration or "3d_fullres")


def check_model(folder: Path, folds: list[str] | None, checkpoint: str = DEFAULT_CHECKPOINT) -> TrainedModel:
    """The model in ``folder`` with the folds to use (by default every fold that has ``checkpoint``),
    refused with the reason and the fix if ``predict`` cannot use it."""
    for needed in ("plans.json", "dataset.json"):
        if not (folder / needed).is_file():
            raise UserError(f"model folder {folder} has no {needed}; it is not a trained nnU-Net model folder "
                            f"(Dataset.../Trainer__Plans__configuration)")
    dataset_json = _read_json(folder / "dataset.json")
    plans = _read_json(folder / "plans.json")
    available = sorted(p.parent.name.removeprefix("fold_") for p in folder.glob(f"fold_*/{checkpoint}"))
    if folds is None:
        folds = [f for f in available if f != "all"] or available
        if not folds:
            raise UserError(f"model folder {folder} has no fold with {checkpoint}; train it first "
                            f"(nnUNetv2_train), or pick another checkpoint with -chk")
    missing = [f for f in folds if f not in available]
    if missing:
        raise UserError(f"model folder {folder} has no {checkpoint} for fold {', '.join(missing)}; "
                        f"folds with one: {', '.join(available) or 'none'} (choose with -f)")
    model = TrainedModel(folder, tuple(folds), checkpoint, dataset_json, plans)
    if len(model.channel_names) != 1:
        raise UserError(f"model {folder} takes {len(model.channel_names)} input channels "
                        f"({', '.join(model.channel_names)}); predict gives it one MR image per case. Use "
                        f"nnUNetv2_predict with <case>_0000, _0001 ... files for multi-channel models")
    reader = plans.get("image_reader_writer", SUPPORTED_READER)
    if reader != SUPPORTED_READER:
        raise UserError(f"model {folder} was planned with nnU-Net's {reader}, whose array axis order differs from "
                        f"SimpleITK's; predict only serves {SUPPORTED_READER} models. Use nnUNetv2_predict on "
                        f"NIfTI files for this one")
    configuration = folder.name.split("__")[-1]
    if plans.get("configurations", {}).get(configuration, {}).get("previous_stage") is not None:
        raise UserError(f"model {folder} is a cascade stage that needs the low-resolution stage's predictions; "
                        f"predict serves single-stage models (use nnUNetv2_predict for the cascade)")
    return model


def load_predictor(model: TrainedModel, device: str, use_mirroring: bool, trust_checkpoint: bool = False):
    """nnU-Net's ``nnUNetPredictor`` holding the model's weights (one set per fold). Each fold's
    checkpoint is first read as data only, unless ``trust_checkpoint``: nnU-Net's predictor
    unpickles it with everything it names."""
    import torch
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    for fold in model.folds:
        load_checkpoint(model.folder / f"fold_{fold}" / model.checkpoint, trust_checkpoint)
    predictor = nnUNetPredictor(use_mirroring=use_mirroring, device=torch.device(device), allow_tqdm=False)
    folds = tuple(f if f == "all" else int(f) for f in model.folds)
    try:
        with environment_set(with_our_trainers(os.environ)):
            predictor.initialize_from_trained_model_folder(str(model.folder), folds, model.checkpoint)
    except Exception as e:  # nnU-Net reports an incompatible checkpoint as whatever torch or it raises
        raise UserError(f"model {model.folder} cannot be loaded by nnU-Net ({type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''}); was it trained with another nnU-Net "
                        f"version, or with a trainer that is not installed here?") from None
    return predictor


def install_zip(zip_path: Path, cache: Path) -> Path:
    """The folder that nnU-Net's ``install_model_from_zip_file`` extracted ``zip_path`` into, under
    ``cache/<content hash>``: installed on first use, atomically (a half-extracted model is never
    found), and reused afterwards."""
    import zipfile

    from nnunetv2.model_sharing.model_import import install_model_from_zip_file

    if not zipfile.is_zipfile(zip_path):
        raise UserError(f"model {zip_path} is neither a folder nor a zip file (nnUNetv2_export_model_to_zip "
                        f"writes one)")
    target = cache / _content_hash(zip_path)
    if target.is_dir():
        return target
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with environment_set({"nnUNet_results": str(staging)}):
            install_model_from_zip_file(str(zip_path))
        os.replace(staging, target)
    except (zipfile.BadZipFile, OSError) as e:
        shutil.rmtree(staging, ignore_errors=True)
        if target.is_dir():  # installed meanwhile by another process
            return target
        raise UserError(f"model {zip_path} cannot be installed into {cache}: {e}") from None
    return target


def default_cache() -> Path:
    """``$NNUNET_T1T2_CACHE``, else ``$XDG_CACHE_HOME/nnunet-t1t2/models`` (``~/.cache`` by default)."""
    if os.environ.get("NNUNET_T1T2_CACHE"):
        return Path(os.environ["NNUNET_T1T2_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nnunet-t1t2" / "models"


def _pick_model_folder(root: Path, given: Path, trainer: str | None, plans: str | None,
                       configuration: str | None) -> Path:
    """The one model folder at or under ``root`` that matches the trainer, plans and configuration given."""
    if (root / "plans.json").is_file():
        return root
    candidates = sorted(p.parent for p in root.rglob("plans.json")
                        if (p.parent / "dataset.json").is_file() and p.parent.name.count("__") == 2)
    wanted = (trainer, plans, configuration)
    matching = [c for c in candidates if all(w in (None, part) for w, part in zip(wanted, c.name.split("__")))]
    if len(matching) == 1:
        return matching[0]
    names = ", ".join(c.name for c in candidates) or "none"
    if not matching:
        raise UserError(f"model {given} holds no model folder matching -tr {trainer or '*'} -p {plans or '*'} "
                        f"-c {configuration or '*'}; it holds: {names}")
    raise UserError(f"model {given} holds several models ({names}); pick one with -tr, -p and -c")


def _results_model_folder(dataset: str, trainer: str, plans: str, configuration: str) -> Path:
    from nnunetv2.utilities.file_path_utilities import get_output_folder

    from nnunet_t1t2.nnunet_paths import dataset_name

    if not os.environ.get("nnUNet_results"):
        raise UserError("nnUNet_results is not set: set it to the folder holding your trained models, or give "
                        "the model folder or zip with -m")
    folder = Path(get_output_folder(dataset_name(dataset), trainer, plans, configuration))
    if not folder.is_dir():
        raise UserError(f"no trained model at {folder}: check -d, -tr, -p and -c, or train it with "
                        f"nnUNetv2_train {dataset} {configuration} FOLD -tr {trainer} -p {plans}")
    return folder


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"{path} cannot be read ({e})") from None


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]
