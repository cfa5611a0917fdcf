"""Draw a random head: the per-patient variation of the phantom's anatomy.

Nominal sizes are those of an adult head, in millimetres, scaled per patient by 0.93-1.03; each is
jittered by a few per cent. Bone plates are floored at ``min_bone_mm``, the one concession to coarse
grids (see :mod:`nnunet_t1t2.phantom.sizes`). A :class:`~nnunet_t1t2.phantom.variation.PhantomVariation`
scales the head, its bone plates (floor included) and its cortical tables after the draw, so that the
random stream, and with it every other feature of the patient, stays the same.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnunet_t1t2.phantom.anatomy import FRONTAL_SINUS_DIRECTION, MASTOID_DIRECTION, SPHENOID_DIRECTION, HeadAnatomy
from nnunet_t1t2.phantom.head import Cavity, Ellipsoid, HeadParameters, Vec3
from nnunet_t1t2.phantom.shapes import N_DIRECTION_TERMS
from nnunet_t1t2.phantom.variation import PhantomVariation


@dataclass(frozen=True)
class _Draw:
    """Random helpers for one head of overall size ``scale``."""

    rng: np.random.Generator
    scale: float

    def jitter(self, value: float, relative: float = 0.05) -> float:
        return float(value * self.rng.uniform(1 - relative, 1 + relative))

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def wobble(self, amplitude: float) -> tuple[float, ...]:
        """Coefficients of a smooth relative variation over directions (see ``direction_basis``)."""
        return tuple(float(c) for c in self.rng.normal(0.0, amplitude, N_DIRECTION_TERMS))

    def scaled(self, *xyz: float) -> Vec3:
        return tuple(float(v * self.scale) for v in xyz)

    def jittered(self, *xyz: float, relative: float = 0.05) -> Vec3:
        return self.scaled(*(self.jitter(v, relative) for v in xyz))


def mirrored(centre: Vec3) -> tuple[Vec3, Vec3]:
    """The patient's right and left copies of a structure centred at ``centre`` (x > 0 = left)."""
    return (-centre[0], centre[1], centre[2]), centre


def draw_head_parameters(rng: np.random.Generator, min_bone_mm: float,
                         variation: PhantomVariation = PhantomVariation()) -> HeadParameters:
    """A random head whose bone plates, cavity walls and septa are at least ``min_bone_mm`` (times the
    variation's skull scale)."""
    draw = _Draw(rng, float(rng.uniform(0.93, 1.03)) * variation.head_scale)
    min_bone_mm *= variation.skull_scale
    fields = {**_draw_cranium(draw, min_bone_mm, variation), **_draw_brain(draw),
              **_draw_face_and_neck(draw, min_bone_mm)}
    # The mastoids and sinuses sit in or on the skull, so they are placed once its radii are known.
    skull = HeadAnatomy(HeadParameters(**fields, mastoids=(), cavities=()))
    mastoids, mastoid_cells = _place_mastoids(draw, skull, min_bone_mm)
    return HeadParameters(**fields, mastoids=mastoids, cavities=_place_sinuses(draw, skull, min_bone_mm) + mastoid_cells)


def _draw_cranium(draw: _Draw, min_bone_mm: float, variation: PhantomVariation) -> dict:
    skull, tables = variation.skull_scale, variation.table_scale
    return dict(
        scale=draw.scale,
        brain_semi_axes_mm=draw.jittered(64.0, 79.0, 84.0, 64.0, 44.0),  # left-right, front, back, up, down
        brain_wobble=draw.wobble(0.012),
        skull_mm={
            "vault": draw.uniform(5.5, 7.5) * skull,
            "frontal": draw.uniform(8.0, 10.5) * skull,
            "occipital": draw.uniform(8.5, 11.0) * skull,
            "temporal": draw.uniform(3.0, 4.5) * skull,
            "base": draw.uniform(2.5, 4.0) * skull,
        },
        skull_wobble=draw.wobble(0.04),
        outer_table_mm=max(draw.uniform(1.6, 2.4), min_bone_mm / 2) * tables,
        inner_table_mm=max(draw.uniform(1.2, 1.8), min_bone_mm / 2) * tables,
        frontal_bossing_mm=draw.uniform(8.0, 12.0) * skull + min_bone_mm,
        bone_density_base_boost=draw.uniform(0.05, 0.2),
        bone_density_wobble=draw.wobble(0.04),
        scalp_mm=draw.uniform(4.5, 6.5),
        temporalis_mm=draw.uniform(5.0, 9.0),
        skin_mm=draw.uniform(1.5, 2.5),
        fat_mm=draw.uniform(2.0, 4.0),
        min_bone_mm=min_bone_mm,
    )


def _draw_brain(draw: _Draw) -> dict:
    atrophy = draw.uniform(0.0, 1.0)  # widens the ventricles and the CSF around the brain
    ventricle_axes = draw.scaled(draw.jitter(6.0) * (1 + 0.5 * atrophy), draw.jitter(26.0), draw.jitter(9.0) * (1 + 0.4 * atrophy))
    ventricle_centre = draw.scaled(ventricle_axes[0] / draw.scale + 3.0, draw.jitter(-4.0, 0.5), draw.jitter(12.0, 0.2))
    directions = draw.rng.normal(size=(4, 3))
    wavelengths = draw.rng.uniform(16.0, 24.0, 4)
    return dict(
        csf_mm=draw.uniform(2.0, 3.0) + 1.5 * atrophy,
        grey_matter_mm=draw.uniform(2.5, 3.5),
        sulcus_waves_per_mm=tuple(tuple(float(k) for k in d / np.linalg.norm(d) * 2 * np.pi / w) for d, w in zip(directions, wavelengths)),
        sulcus_phases=tuple(float(p) for p in draw.rng.uniform(0, 2 * np.pi, 4)),
        ventricles=tuple(Ellipsoid(c, ventricle_axes) for c in mirrored(ventricle_centre)),
        deep_grey=(
            *(Ellipsoid(c, draw.jittered(9.0, 14.0, 10.0)) for c in mirrored(draw.scaled(11.0, 8.0, 1.0))),  # thalami
            *(Ellipsoid(c, draw.jittered(6.5, 15.0, 11.0)) for c in mirrored(draw.scaled(24.0, -8.0, 3.0))),  # lentiform nuclei
        ),
    )


def _draw_face_and_neck(draw: _Draw, min_bone_mm: float) -> dict:
    return dict(
        face=Ellipsoid(draw.scaled(0.0, draw.jitter(-10.0, 0.2), -62.0), draw.jittered(66.0, 88.0, 80.0, relative=0.03)),
        neck_centre_mm=(0.0, 15.0 * draw.scale),
        neck_semi_axes_mm=(draw.jitter(50.0) * draw.scale, draw.jitter(55.0) * draw.scale),
        neck_top_mm=-45.0 * draw.scale,
        eye_radius_mm=draw.jitter(12.0, 0.04) * draw.scale,
        eyes=mirrored(draw.jittered(31.0, -64.0, -40.0, relative=0.04)),
        mandible_depth_mm=(6.0, 6.0 + max(draw.jitter(11.0, 0.15), 2 * min_bone_mm)),
        mandible_z_mm=(-128.0 * draw.scale, -100.0 * draw.scale),
        spine_centre_y_mm=10.0 * draw.scale,
        spine_top_mm=-62.0 * draw.scale,
        cortex_mm=max(2.0, min_bone_mm / 2),
    )


def _place_mastoids(draw: _Draw, skull: HeadAnatomy, min_bone_mm: float) -> tuple[tuple[Ellipsoid, ...], tuple[Cavity, ...]]:
    """Two mastoid processes just outside the skull behind the ears, each holding two air cells
    separated by a bony septum."""
    cell_radius = max(draw.uniform(3.5, 4.5), 0.9 * min_bone_mm)
    septum = max(2.0, min_bone_mm)
    cell_offset = cell_radius + septum / 2
    needed = (cell_radius + septum, cell_radius + septum, cell_offset + cell_radius + septum)
    axes = tuple(max(a, b) for a, b in zip(draw.jittered(9.0, 11.0, 13.0, relative=0.1), needed))
    centre = MASTOID_DIRECTION * (skull.radii(MASTOID_DIRECTION)["outer_skull"] + 3.0)
    mastoids = tuple(Ellipsoid(c, axes) for c in mirrored(tuple(float(v) for v in centre)))
    cells = tuple(
        Cavity(f"mastoid_cell_{side}_{level}", Ellipsoid((m.centre[0], m.centre[1], m.centre[2] + dz), (cell_radius,) * 3), 0.0, 0.0)
        for side, m in zip("rl", mastoids) for level, dz in (("upper", cell_offset), ("lower", -cell_offset))
    )
    return mastoids, cells


def _place_sinuses(draw: _Draw, skull: HeadAnatomy, min_bone_mm: float) -> tuple[Cavity, ...]:
    """Frontal sinus inside the thickened frontal bone, sphenoid sinus just under the skull base,
    nasal cavity and maxillary sinuses in the face; all lined with mucosa."""
    wall = max(2.0, min_bone_mm)
    mucosa = max(draw.uniform(1.0, 2.0), min_bone_mm / 2.5)
    frontal = skull.radii(FRONTAL_SINUS_DIRECTION)
    table = skull.p.outer_table_mm
    frontal_centre = tuple(float(v) for v in FRONTAL_SINUS_DIRECTION * (frontal["inner_skull"] + frontal["outer_skull"]) / 2)
    frontal_depth = (frontal["outer_skull"] - frontal["inner_skull"]) / 2 - table - 0.5
    sphenoid_axes = draw.jittered(10.0, 10.0, 9.0, relative=0.15)
    skull_base = skull.radii(SPHENOID_DIRECTION)["outer_skull"] * SPHENOID_DIRECTION
    sphenoid_centre = (0.0, float(skull_base[1]), float(skull_base[2] - wall - sphenoid_axes[2]))
    maxillary_axes = draw.jittered(12.0, 16.0, 13.0, relative=0.1)
    return (
        Cavity("frontal_sinus", Ellipsoid(frontal_centre, (draw.jitter(13.0, 0.15) * draw.scale, frontal_depth,
                                                           draw.jitter(10.0, 0.15) * draw.scale)), table, mucosa),
        Cavity("sphenoid_sinus", Ellipsoid(sphenoid_centre, sphenoid_axes), wall, mucosa),
        Cavity("nasal_cavity", Ellipsoid(draw.scaled(0.0, -56.0, -70.0), draw.jittered(9.0, 22.0, 18.0)), wall, mucosa),
        *(Cavity(f"maxillary_sinus_{side}", Ellipsoid(c, maxillary_axes), wall, mucosa)
          for side, c in zip("rl", mirrored(draw.scaled(draw.jitter(26.0), -50.0, -75.0)))),
    )
