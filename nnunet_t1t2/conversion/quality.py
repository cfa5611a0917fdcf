"""Is a registration good enough to take labels from? Two figures, recorded for every case:

* ``head_mask_dice``: overlap of the MR's own head mask with the registered CT's. It catches gross
  failures (wrong image, flipped axes): on the small phantom 0.97 aligned, 0.87 at 14 mm off,
  0.76 at 28 mm.
* ``bone_signal_ratio``: median MR signal in the CT's bone over that in the CT's soft tissue.
  Cortical bone gives no signal on T1- or T2-weighted MR, so misplaced CT bone lands on brighter
  tissue: on the phantom 0.13-0.30 aligned, 0.31-0.55 at 7 mm off, 0.6-0.86 at 14 mm (T1 lower,
  as its dark CSF hides part of the error).

Both limits only reject clear failures; the overlay PNG of each case is there for the rest.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.tissue import LABELS, dice
from nnunet_t1t2.errors import UserError


@dataclass(frozen=True)
class QualityLimits:
    min_head_dice: float = 0.8
    max_bone_signal_ratio: float = 0.7

    def as_dict(self) -> dict:
        return asdict(self)


def registration_quality(mr: sitk.Image, mr_head: sitk.Image, ct_head: sitk.Image, labels: sitk.Image) -> dict:
    """The quality figures of a registered case (all images on the MR grid)."""
    signal = sitk.GetArrayViewFromImage(mr)
    label = sitk.GetArrayViewFromImage(labels)
    bone, soft = signal[label == LABELS["bone"]], signal[label == LABELS["soft_tissue"]]
    ratio = float(np.median(bone) / np.median(soft)) if bone.size and soft.size and np.median(soft) > 0 else None
    return {"head_mask_dice": round(dice(mr_head, ct_head), 4),
            "bone_signal_ratio": None if ratio is None else round(ratio, 4)}


def check_quality(quality: dict, limits: QualityLimits, what: str) -> None:
    """Raise :class:`UserError` for a registration that clearly failed."""
    if quality["head_mask_dice"] < limits.min_head_dice:
        raise UserError(f"{what}: registration failed: the head masks of the MR and of the registered CT overlap "
                        f"with Dice {quality['head_mask_dice']:.2f} < {limits.min_head_dice:g}; this image is left out")
    if quality["bone_signal_ratio"] is None:
        raise UserError(f"{what}: no bone or no soft tissue with MR signal inside the head after registration; "
                        f"this image is left out")
    if quality["bone_signal_ratio"] > limits.max_bone_signal_ratio:
        raise UserError(f"{what}: registration failed: the CT's bone lies on bright MR tissue (median MR signal "
                        f"in bone {quality['bone_signal_ratio']:.2f} of that in soft tissue, more than "
                        f"{limits.max_bone_signal_ratio:g}; cortical bone has almost none); this image is left out")
