"""The phantom's tissue classes and what each looks like on CT, T1w and T2w.

The MR values are relative signal (1 = the brightest tissue of a typical scan) chosen to follow the
contrast of clinical head scans, because that contrast is what makes bone hard to segment on T2:

* CSF and the vitreous are dark on T1w and bright on T2w; grey/white matter order swaps
  (white matter brighter on T1w, grey matter brighter on T2w);
* fat is bright on both; fatty marrow (diploe) is bright on T1w but only intermediate on T2w;
* cortical bone and air give almost no signal on either, so on MR they look alike.

Each patient gets its own jittered copy (:func:`draw_tissue_properties`), so that no network can
learn an exact intensity or HU.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from nnunet_t1t2.labels import AIR, BACKGROUND, BONE, SOFT_TISSUE


class Tissue(IntEnum):
    OUTSIDE_AIR = 0
    SKIN = 1
    FAT = 2
    MUSCLE = 3
    CORTICAL_BONE = 4
    MARROW = 5
    CSF = 6
    GREY_MATTER = 7
    WHITE_MATTER = 8
    EYE = 9
    MUCOSA = 10
    DISC = 11
    INTERNAL_AIR = 12
    HEAD_REST = 13
    COUCH = 14


@dataclass(frozen=True)
class Nominal:
    hu: float
    t1w: float
    t2w: float
    label: int
    on_mr: bool = True


NOMINAL: dict[Tissue, Nominal] = {
    Tissue.OUTSIDE_AIR: Nominal(-1000, 0.0, 0.0, BACKGROUND),
    Tissue.SKIN: Nominal(40, 0.50, 0.45, SOFT_TISSUE),
    Tissue.FAT: Nominal(-100, 0.95, 0.78, SOFT_TISSUE),
    Tissue.MUSCLE: Nominal(50, 0.36, 0.25, SOFT_TISSUE),
    Tissue.CORTICAL_BONE: Nominal(1300, 0.04, 0.03, BONE),
    Tissue.MARROW: Nominal(300, 0.80, 0.45, SOFT_TISSUE),
    Tissue.CSF: Nominal(8, 0.12, 1.00, SOFT_TISSUE),
    Tissue.GREY_MATTER: Nominal(40, 0.55, 0.62, SOFT_TISSUE),
    Tissue.WHITE_MATTER: Nominal(28, 0.78, 0.42, SOFT_TISSUE),
    Tissue.EYE: Nominal(10, 0.14, 0.95, SOFT_TISSUE),
    Tissue.MUCOSA: Nominal(35, 0.40, 0.82, SOFT_TISSUE),
    Tissue.DISC: Nominal(80, 0.34, 0.70, SOFT_TISSUE),
    Tissue.INTERNAL_AIR: Nominal(-1000, 0.0, 0.0, AIR),
    # Patient-positioning hardware: on the CT only (the MR coil and table are not in the image).
    Tissue.HEAD_REST: Nominal(-800, 0.0, 0.0, BACKGROUND, on_mr=False),
    Tissue.COUCH: Nominal(400, 0.0, 0.0, BACKGROUND, on_mr=False),
}
N_TISSUES = len(Tissue)


@dataclass(frozen=True)
class TissueProperties:
    """One patient's HU and relative MR signal per tissue, as lookup tables indexed by tissue id."""

    hu: np.ndarray
    t1w: np.ndarray
    t2w: np.ndarray

    def legend(self) -> dict[str, dict]:
        """``tissue_legend.json``: tissue id -> name, HU, relative T1w/T2w signal, label."""
        return {
            str(int(t)): {
                "name": t.name.lower(),
                "hu": round(float(self.hu[t]), 1),
                "t1w": round(float(self.t1w[t]), 5),
                "t2w": round(float(self.t2w[t]), 5),
                "label": NOMINAL[t].label,
                "on_mr": NOMINAL[t].on_mr,
            }
            for t in Tissue
        }


def draw_tissue_properties(rng: np.random.Generator, marrow_t1_contrast: float = 1.0) -> TissueProperties:
    """Jitter the nominal table: soft-tissue HU by a few HU, marrow and cortical bone over their
    physiological ranges, MR signal by up to 8 % (never enough to swap a contrast ordering).
    ``marrow_t1_contrast`` scales how far marrow's T1 signal lies above cortical bone's."""
    hu = np.array([NOMINAL[t].hu for t in Tissue], dtype=np.float32)
    t1w = np.array([NOMINAL[t].t1w for t in Tissue], dtype=np.float32)
    t2w = np.array([NOMINAL[t].t2w for t in Tissue], dtype=np.float32)
    soft = [t for t in Tissue if NOMINAL[t].label == SOFT_TISSUE and t != Tissue.MARROW]
    hu[soft] += rng.uniform(-6, 6, len(soft))
    hu[Tissue.MARROW] = rng.uniform(220, 420)
    hu[Tissue.CORTICAL_BONE] = rng.uniform(1000, 1400)
    t1w *= rng.uniform(0.92, 1.08, N_TISSUES).astype(np.float32)
    t2w *= rng.uniform(0.92, 1.08, N_TISSUES).astype(np.float32)
    contrast = np.float32(marrow_t1_contrast)
    t1w[Tissue.MARROW] = t1w[Tissue.MARROW] * contrast + t1w[Tissue.CORTICAL_BONE] * (1 - contrast)
    # Rounded as the legend prints them, so that the legend is exact.
    return TissueProperties(hu=np.round(hu, 1), t1w=np.round(t1w, 5), t2w=np.round(t2w, 5))

