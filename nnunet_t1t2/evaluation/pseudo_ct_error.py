"""How far a pseudo-CT is from the patient's CT: the mean absolute error in HU, the figure pseudo-CT
studies report (inside the head, inside the bone)."""
from __future__ import annotations

import numpy as np


def mean_absolute_error_hu(pseudo_ct: np.ndarray, ct: np.ndarray, inside: np.ndarray | None = None) -> float | None:
    """Mean of |pseudo-CT - CT| in HU over the voxels where ``inside`` is true (all voxels without a
    mask); None for an empty mask, as for any metric without voxels to score. Computed in float64, so
    int16 images cannot overflow."""
    if pseudo_ct.shape != ct.shape or (inside is not None and inside.shape != ct.shape):
        raise ValueError(f"pseudo-CT {pseudo_ct.shape}, CT {ct.shape} and mask "
                         f"{None if inside is None else inside.shape} must have one shape")
    error = np.abs(pseudo_ct.astype(np.float64) - ct.astype(np.float64))
    error = error if inside is None else error[inside]
    return float(error.mean()) if error.size else None
