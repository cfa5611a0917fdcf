"""Is a registration good enough to take labels from? Two figures, recorded for every case:

* ``head_mask_dice``: overlap of the MR's own head mask with the registered CT's. It catches gross
  failures (wrong image, flipped axes) but little else: on the phantom a 10 mm shift still leaves
  0.87-0.92 (aligned: 0.94-0.98).
* ``bone_signal_ratio``: median MR signal in the CT's bone over that in the CT's soft tissue.
  Cortical bone gives no signal on T1- or T2-weighted MR, so where the CT bone lands on the MR says
  how well they are aligned: on the phantom 0.15-0.45 aligned, 0.45-0.85 at 4 mm off, 0.8-1.1 at
  10 mm.
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
