"""The numbers that make one patient's head, as recorded in ``phantom.json``.

Shapes are given in head coordinates: LPS millimetres (x to the patient's left, y posterior,
z superior) with the origin at the centre of the brain. :class:`HeadParameters` round-trips
through JSON exactly, so a recorded patient can be rebuilt (``HeadAnatomy(HeadParameters.from_json(
record["anatomy"]))``) to re-sample its anatomy anywhere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from nnunet_t1t2.phantom.shapes import ellipsoid_sdf, indices_near

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Ellipsoid:
    centre: Vec3
    semi_axes: Vec3

    def sdf(self, points: np.ndarray) -> np.ndarray:
        return ellipsoid_sdf(points, self.centre, self.semi_axes)

    def near(self, points: np.ndarray, box, margin_mm: float = 0.0) -> np.ndarray:
        """Indices of the points that may lie within ``margin_mm`` of this ellipsoid."""
        return indices_near(points, box, self.centre, max(self.semi_axes) + margin_mm)


@dataclass(frozen=True)
class Cavity:
    """An air space lined with mucosa inside a bone wall (sinuses, nasal cavity, mastoid cells)."""

    name: str
    shape: Ellipsoid
    wall_mm: float
    mucosa_mm: float


@dataclass(frozen=True)
class HeadParameters:
    """Everything that makes one patient's head; recorded in ``phantom.json``."""

    scale: float
    brain_semi_axes_mm: tuple[float, float, float, float, float]  # left-right, front, back, up, down
    brain_wobble: tuple[float, ...]
    csf_mm: float
    grey_matter_mm: float
    sulcus_waves_per_mm: tuple[Vec3, ...]
    sulcus_phases: tuple[float, ...]
    skull_mm: dict[str, float]  # vault, frontal, occipital, temporal, base
    skull_wobble: tuple[float, ...]
    outer_table_mm: float
    inner_table_mm: float
    scalp_mm: float
    temporalis_mm: float
    skin_mm: float
    fat_mm: float
    bone_density_base_boost: float
    bone_density_wobble: tuple[float, ...]
    frontal_bossing_mm: float
    face: Ellipsoid
    neck_centre_mm: tuple[float, float]
    neck_semi_axes_mm: tuple[float, float]
    neck_top_mm: float
    eye_radius_mm: float
    eyes: tuple[Vec3, Vec3]
    ventricles: tuple[Ellipsoid, Ellipsoid]
    deep_grey: tuple[Ellipsoid, ...]
    mastoids: tuple[Ellipsoid, Ellipsoid]
    mandible_depth_mm: tuple[float, float]
    mandible_z_mm: tuple[float, float]
    spine_centre_y_mm: float
    spine_top_mm: float
    cortex_mm: float
    min_bone_mm: float
    cavities: tuple[Cavity, ...]

    def to_json(self) -> dict:
        """Plain JSON data; :meth:`from_json` rebuilds exactly the same head from it."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "HeadParameters":
        def ellipsoid(d: dict) -> Ellipsoid:
            return Ellipsoid(tuple(d["centre"]), tuple(d["semi_axes"]))

        fields = {k: _tuples(v) for k, v in data.items()}
        fields["skull_mm"] = dict(data["skull_mm"])
        fields["face"] = ellipsoid(data["face"])
        for name in ("ventricles", "deep_grey", "mastoids"):
            fields[name] = tuple(ellipsoid(d) for d in data[name])
        fields["cavities"] = tuple(Cavity(c["name"], ellipsoid(c["shape"]), c["wall_mm"], c["mucosa_mm"]) for c in data["cavities"])
        return cls(**fields)


def _tuples(value):
    """JSON lists back to the tuples the dataclasses hold."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
