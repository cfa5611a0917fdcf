"""Vectorised implicit-shape helpers.

Points are (3, N) float32 arrays in millimetres (one contiguous row per coordinate, which keeps the
per-coordinate arithmetic fast). Signed distances are negative inside. The ellipsoid distance is
the usual first-order approximation (exact on the surface, close to it nearby), which is all that
layered tissues need.
"""
from __future__ import annotations

import numpy as np

N_DIRECTION_TERMS = 18


def direction_basis(u: np.ndarray) -> np.ndarray:
    """Polynomials of degree 1 to 3 in the unit directions ``u`` (3, N), shape (18, N): a
    low-frequency basis on the sphere for smooth per-patient wobbles of radii and thicknesses."""
    x, y, z = u
    xx, yy, zz = x * x, y * y, z * z
    return np.stack([
        x, y, z,
        x * y, x * z, y * z, xx - yy, 3 * zz - 1,
        xx * x, yy * y, zz * z, xx * y, xx * z, yy * x, yy * z, zz * x, zz * y, x * y * z,
    ])


def take(points: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The points at ``indices``, kept row-contiguous (``points[:, indices]`` would be column-major
    and make every later per-coordinate operation strided)."""
    return np.take(points, indices, axis=1)


def norm(points: np.ndarray) -> np.ndarray:
    x, y, z = points
    return np.sqrt(x * x + y * y + z * z)


def ellipsoid_radius(u: np.ndarray, semi_axes) -> np.ndarray:
    """Distance from the centre to the surface of an axis-aligned ellipsoid along the unit
    directions ``u`` (3, N); each semi-axis is a scalar or an (N,) array."""
    return 1.0 / norm(np.stack([u[i] / semi_axes[i] for i in range(3)]))


def ellipsoid_sdf(points: np.ndarray, centre, semi_axes) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipsoid."""
    a = np.asarray(semi_axes, dtype=np.float32)[:, None]
    q = (points - np.asarray(centre, dtype=np.float32)[:, None]) / a
    k0 = norm(q)
    k1 = norm(q / a)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def elliptic_cylinder_sdf(points: np.ndarray, centre_xy, semi_axes_xy, z_top: float) -> np.ndarray:
    """Approximate signed distance to a vertical elliptic cylinder, open downwards, capped at
    ``z_top``."""
    qx = (points[0] - centre_xy[0]) / semi_axes_xy[0]
    qy = (points[1] - centre_xy[1]) / semi_axes_xy[1]
    k0 = np.sqrt(qx * qx + qy * qy)
    k1 = np.sqrt((qx / semi_axes_xy[0]) ** 2 + (qy / semi_axes_xy[1]) ** 2)
    return np.maximum(k0 * (k0 - 1.0) / np.maximum(k1, 1e-6), points[2] - z_top)


def smooth_union(a: np.ndarray, b: np.ndarray, blend_mm: float) -> np.ndarray:
    """Union of two signed distances with a rounded fillet of about ``blend_mm``."""
    h = np.maximum(blend_mm - np.abs(a - b), 0.0) / blend_mm
    return np.minimum(a, b) - h * h * (blend_mm / 4.0)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def indices_near(points: np.ndarray, box: tuple[np.ndarray, np.ndarray], centre, radius: float) -> np.ndarray:
    """Indices of the points within ``radius`` of ``centre``. ``box`` (min, max) bounds all the
    points, so shapes far from the current chunk cost nothing."""
    c = np.asarray(centre, dtype=np.float32)
    if np.any(box[0] > c + radius) or np.any(box[1] < c - radius):
        return np.empty(0, dtype=np.intp)
    return np.flatnonzero(norm(points - c[:, None]) < radius)
