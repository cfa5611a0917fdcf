"""Image grids and rigid transforms, in physical LPS millimetres as SimpleITK uses them.

Every 4x4 matrix here acts on column vectors ``[x, y, z, 1]`` and is named ``<to>_from_<from>``:
``ct_from_t1 @ p_t1`` is the CT-physical position of the anatomical point that sits at ``p_t1`` in
T1-physical space. That is the direction SimpleITK's resampling uses (fixed -> moving), so
``sitk.Resample(ct, t1, to_sitk_transform(ct_from_t1))`` puts the CT on the T1 grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk


@dataclass(frozen=True)
class Grid:
    """A voxel grid as SimpleITK sees it: size and spacing in (x, y, z) order, origin = physical
    centre of voxel (0, 0, 0), direction = row-major 3x3 matrix whose columns are the axes."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    @classmethod
    def centred_on(cls, centre, size, spacing) -> "Grid":
        """An axis-aligned grid whose field of view is centred on ``centre`` (mm)."""
        size_arr, spacing_arr = np.asarray(size), np.asarray(spacing, dtype=float)
        origin = np.asarray(centre, dtype=float) - (size_arr - 1) / 2 * spacing_arr
        return cls(tuple(int(s) for s in size), tuple(float(s) for s in spacing), tuple(float(o) for o in origin))

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        """Numpy array shape of this grid (SimpleITK's ``GetArrayFromImage`` order)."""
        return self.size[::-1]

    def physical_from_index(self) -> np.ndarray:
        """4x4 matrix mapping a continuous (x, y, z) voxel index to physical mm."""
        matrix = np.eye(4)
        matrix[:3, :3] = np.reshape(self.direction, (3, 3)) @ np.diag(self.spacing)
        matrix[:3, 3] = self.origin
        return matrix

    def to_image(self, array_zyx: np.ndarray) -> sitk.Image:
        if array_zyx.shape != self.shape_zyx:
            raise ValueError(f"array of shape {array_zyx.shape} does not fit grid {self.shape_zyx}")
        image = sitk.GetImageFromArray(array_zyx)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image

    def to_json(self) -> dict:
        return {
            "size": list(self.size),
            "spacing": list(self.spacing),
            "origin": [round(o, 6) for o in self.origin],
            "direction": list(self.direction),
        }


def rigid(rotation: np.ndarray, translation) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    matrix[:3, 3] = translation
    return matrix


def rotation_about_axis(axis, angle_deg: float) -> np.ndarray:
    """Rodrigues' formula: rotation by ``angle_deg`` about the unit vector ``axis``."""
    x, y, z = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    angle = np.deg2rad(angle_deg)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def random_rigid(rng: np.random.Generator, angle_deg: tuple[float, float], shift_mm: tuple[float, float]) -> np.ndarray:
    """A rigid motion about the physical origin: random axis, angle and shift drawn uniformly
    from the given (min, max) ranges, shift in a random direction."""
    axis = rng.normal(size=3)
    shift_direction = rng.normal(size=3)
    rotation = rotation_about_axis(axis, rng.uniform(*angle_deg))
    shift = rng.uniform(*shift_mm) * shift_direction / np.linalg.norm(shift_direction)
    return rigid(rotation, shift)


def to_sitk_transform(matrix: np.ndarray) -> sitk.Euler3DTransform:
    """The SimpleITK transform of a rigid 4x4 matrix (rotation about the physical origin)."""
    transform = sitk.Euler3DTransform()
    transform.SetMatrix(matrix[:3, :3].ravel().tolist())
    transform.SetTranslation(matrix[:3, 3].tolist())
    return transform


def describe_rigid(matrix: np.ndarray) -> dict:
    """JSON record of a rigid transform: the matrix plus the readable numbers derived from it."""
    euler = to_sitk_transform(matrix)
    cos_angle = np.clip((np.trace(matrix[:3, :3]) - 1) / 2, -1.0, 1.0)
    return {
        "matrix": [[round(float(v), 9) for v in row] for row in matrix],
        "rotation_angle_deg": round(float(np.rad2deg(np.arccos(cos_angle))), 6),
        "euler_angles_deg": [round(float(np.rad2deg(a)), 6) for a in (euler.GetAngleX(), euler.GetAngleY(), euler.GetAngleZ())],
        "translation_mm": [round(float(t), 6) for t in matrix[:3, 3]],
    }


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 matrix to an (N, 3) array of points."""
    return points @ matrix[:3, :3].T + matrix[:3, 3]
