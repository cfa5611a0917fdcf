"""One patient's head as an implicit shape in continuous head coordinates.

Nothing here knows about voxels: :meth:`HeadAnatomy.tissue_at` answers "which tissue is at these
points?", and each image samples it through its own pose, which is what keeps T1, T2, CT and the
truth consistent with each other and with the recorded transforms.

The cranium is a set of radial layers around the origin (brain, CSF, inner table, diploe, outer
table, scalp), each radius or thickness a smooth function of direction: a per-patient low-order
wobble plus the regional pattern of real skulls (thick frontal and occipital bone, thin temporal
squama, thin skull base). The face, neck and the structures in them (orbits, sinuses, nasal cavity,
mastoid cells, mandible, cervical spine) are ellipsoids and bands placed relative to that cranium.
Tissues are painted in order of precedence; air cavities come last, each inside its own bone wall,
so that they are always enclosed.
"""
from __future__ import annotations

import numpy as np

from nnunet_t1t2.phantom.head import Cavity, Ellipsoid, HeadParameters
from nnunet_t1t2.phantom.shapes import (
    direction_basis,
    ellipsoid_radius,
    elliptic_cylinder_sdf,
    norm,
    smooth_union,
    smoothstep,
    take,
)
from nnunet_t1t2.phantom.tissues import Tissue

MASTOID_COVER_MM = 6.0  # soft tissue over the mastoid process
FRONTAL_SINUS_DIRECTION = np.array([0.0, -1.0, -0.15]) / np.linalg.norm([0.0, -1.0, -0.15])
SPHENOID_DIRECTION = np.array([0.0, -0.35, -1.0]) / np.linalg.norm([0.0, -0.35, -1.0])
MASTOID_DIRECTION = np.array([0.8, 0.35, -0.5]) / np.linalg.norm([0.8, 0.35, -0.5])


def _sphere_directions(n: int) -> np.ndarray:
    """``n`` near-uniform unit vectors (Fibonacci lattice), (3, n)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5 ** 0.5) * k
    rho = np.sqrt(1 - z * z)
    return np.stack([rho * np.cos(phi), rho * np.sin(phi), z]).astype(np.float32)


class HeadAnatomy:
    """Tissue and bone density at any point of one patient's head. Points are (3, N) float32
    arrays of head coordinates (see :mod:`nnunet_t1t2.phantom.shapes`)."""

    def __init__(self, params: HeadParameters):
        self.p = params
        self._wobbles = np.asarray([params.brain_wobble, params.skull_wobble], dtype=np.float32)
        self._density_wobble = np.asarray(params.bone_density_wobble, dtype=np.float32)
        self._sulcus_waves = np.asarray(params.sulcus_waves_per_mm, dtype=np.float32)
        self._sulcus_phases = np.asarray(params.sulcus_phases, dtype=np.float32)[:, None]
        self._max_body_radius = max([
            float(self._layers(_sphere_directions(4000))["skin"].max()) + 3.0,
            *(float(np.linalg.norm(m.centre)) + max(m.semi_axes) + MASTOID_COVER_MM for m in params.mastoids),
        ])

    @property
    def bounds_mm(self) -> tuple[np.ndarray, np.ndarray]:
        """A box in head coordinates that contains the whole body (the neck runs out of it)."""
        s = self.p.scale
        return np.array([-110.0, -120.0, -400.0]) * s, np.array([110.0, 125.0, 110.0]) * s

    # --- cranium: radial layers -------------------------------------------------------------
    def _skull_thickness(self, u: np.ndarray, wobble: np.ndarray) -> np.ndarray:
        sk = self.p.skull_mm
        ux, uy, uz = u
        front_back = np.where(uy < 0, np.float32(sk["frontal"]), np.float32(sk["occipital"]))
        thickness = sk["vault"] + (front_back - sk["vault"]) * uy * uy
        temporal = ux * ux * smoothstep(0.75, 0.2, np.abs(uz + 0.1))
        thickness += (sk["temporal"] - thickness) * temporal
        thickness += (sk["base"] - thickness) * smoothstep(-0.35, -0.7, uz)
        thickness *= 1.0 + wobble
        bossing = np.exp((FRONTAL_SINUS_DIRECTION.astype(np.float32) @ u - 1.0) / 0.03)
        thickness += self.p.frontal_bossing_mm * bossing
        return np.maximum(thickness, np.float32(self.p.min_bone_mm))

    def _layers(self, u: np.ndarray) -> dict[str, np.ndarray]:
        brain_wobble, skull_wobble = self._wobbles @ direction_basis(u)
        a = np.float32(self.p.brain_semi_axes_mm)
        semi = (a[0], np.where(u[1] < 0, a[1], a[2]), np.where(u[2] > 0, a[3], a[4]))
        brain = ellipsoid_radius(u, semi) * (1.0 + brain_wobble)
        inner_skull = brain + np.float32(self.p.csf_mm)
        outer_skull = inner_skull + self._skull_thickness(u, skull_wobble)
        temporal = u[0] * u[0] * smoothstep(0.8, 0.3, np.abs(u[2]))
        skin = outer_skull + (np.float32(self.p.scalp_mm) + np.float32(self.p.temporalis_mm) * temporal)
        return {"brain": brain, "inner_skull": inner_skull, "outer_skull": outer_skull, "skin": skin}

    def radii(self, direction: np.ndarray) -> dict[str, float]:
        """The layer radii along one direction (used to place structures on the skull)."""
        u = np.asarray(direction, dtype=np.float32).reshape(3, 1)
        return {name: float(r[0]) for name, r in self._layers(u).items()}

    # --- the whole head ----------------------------------------------------------------------
    def _body_sdf(self, points, box, r, skin, face, neck) -> np.ndarray:
        """Signed distance to the skin: cranium, face and neck blended, mastoids covered."""
        body = smooth_union(smooth_union(r - skin, face, 12.0), neck, 20.0)
        for mastoid in self.p.mastoids:
            near = mastoid.near(points, box, MASTOID_COVER_MM + 20.0)
            body[near] = smooth_union(body[near], mastoid.sdf(take(points, near)) - MASTOID_COVER_MM, 10.0)
        return body

    def tissue_at(self, points: np.ndarray) -> np.ndarray:
        """Tissue id (:class:`Tissue`) at each point."""
        p = self.p
        r = norm(points)
        face = p.face.sdf(points)
        neck = elliptic_cylinder_sdf(points, p.neck_centre_mm, p.neck_semi_axes_mm, p.neck_top_mm)
        # A cheap, conservative test first rules out most of the air around the head (the blends
        # of _body_sdf grow the body by at most a quarter of their width).
        margin = 10.0
        near = np.flatnonzero((r < self._max_body_radius + margin) | (face < margin) | (neck < margin))
        ids = np.full(r.shape, Tissue.OUTSIDE_AIR, dtype=np.uint8)
        if near.size:
            ids[near] = self._tissue_near_body(take(points, near), r[near], face[near], neck[near])
        return ids

    def _tissue_near_body(self, points, r, face, neck) -> np.ndarray:
        p = self.p
        u = points / np.maximum(r, 1e-3)
        layers = self._layers(u)
        ids = np.full(r.shape, Tissue.OUTSIDE_AIR, dtype=np.uint8)
        box = (points.min(axis=1), points.max(axis=1))

        depth = -self._body_sdf(points, box, r, layers["skin"], face, neck)
        fat_mm = p.fat_mm * (1.0 + smoothstep(-0.2, -0.8, u[2]))
        ids[depth > 0] = Tissue.MUSCLE
        ids[(depth > 0) & (depth < p.skin_mm + fat_mm)] = Tissue.FAT
        ids[(depth > 0) & (depth < p.skin_mm)] = Tissue.SKIN

        self._paint_cranium(ids, points, box, r, layers)
        self._paint_face_and_neck(ids, points, box)
        for cavity in p.cavities:
            self._paint_cavity(ids, points, box, cavity)
        return ids

    def _paint_cranium(self, ids, points, box, r, layers) -> None:
        p = self.p
        ids[r < layers["outer_skull"]] = Tissue.CORTICAL_BONE
        diploe = (r < layers["outer_skull"] - p.outer_table_mm) & (r > layers["inner_skull"] + p.inner_table_mm)
        ids[diploe] = Tissue.MARROW
        ids[r < layers["inner_skull"]] = Tissue.CSF
        brain = np.flatnonzero(r < layers["brain"])
        ids[brain] = Tissue.GREY_MATTER
        b_r, b_outer = r[brain], layers["brain"][brain]
        wave = np.cos(self._sulcus_waves @ take(points, brain) + self._sulcus_phases).mean(axis=0)
        white = b_r < b_outer - p.grey_matter_mm * (1.0 + 0.8 * wave)
        ids[brain[white]] = Tissue.WHITE_MATTER
        sulcus = (wave > 0.35) & (b_r > b_outer - p.grey_matter_mm - 2.0)
        ids[brain[sulcus]] = Tissue.CSF
        for nucleus in p.deep_grey:
            self._paint_inside(ids, points, box, nucleus, Tissue.GREY_MATTER, only=Tissue.WHITE_MATTER)
        for ventricle in p.ventricles:
            self._paint_inside(ids, points, box, ventricle, Tissue.CSF)

    def _paint_face_and_neck(self, ids, points, box) -> None:
        p = self.p
        # Mandible: a U-shaped band a few mm under the lower face's skin.
        z0, z1 = p.mandible_z_mm
        if box[0][2] < z1 and box[1][2] > z0:
            band = np.flatnonzero((points[2] > z0) & (points[2] < z1) & (points[1] < p.face.centre[1]))
            face_depth = -p.face.sdf(take(points, band))
            d0, d1 = p.mandible_depth_mm
            in_band = (face_depth > d0) & (face_depth < d1)
            ids[band[in_band]] = Tissue.CORTICAL_BONE
            z = points[2, band]
            core = in_band & (face_depth > d0 + p.cortex_mm) & (face_depth < d1 - p.cortex_mm) \
                & (z > z0 + p.cortex_mm) & (z < z1 - p.cortex_mm)
            ids[band[core]] = Tissue.MARROW

        if box[0][2] < p.spine_top_mm:
            self._paint_spine(ids, points)
        for mastoid in p.mastoids:
            self._paint_inside(ids, points, box, mastoid, Tissue.CORTICAL_BONE)
        for eye in p.eyes:
            orbit = Ellipsoid((eye[0], eye[1] + 0.6 * p.eye_radius_mm, eye[2]), tuple(a * p.eye_radius_mm for a in (1.35, 1.7, 1.3)))
            near = orbit.near(points, box, p.min_bone_mm)
            d = orbit.sdf(take(points, near))
            behind_eye = points[1, near] > eye[1]
            ids[near[(d < p.min_bone_mm) & behind_eye]] = Tissue.CORTICAL_BONE
            ids[near[d < 0]] = Tissue.FAT
            self._paint_inside(ids, points, box, Ellipsoid(eye, (p.eye_radius_mm,) * 3), Tissue.EYE)

    def _paint_spine(self, ids, points) -> None:
        """Cervical vertebrae (marrow in a cortical shell, discs between) and the spinal canal
        (cord in CSF inside a bony arch)."""
        p = self.p
        s = p.scale
        column = np.flatnonzero((points[2] < p.spine_top_mm) & (np.abs(points[0]) < 30 * s)
                                & (np.abs(points[1] - p.spine_centre_y_mm - 12 * s) < 30 * s))
        q = take(points, column)
        body = elliptic_cylinder_sdf(q, (0.0, p.spine_centre_y_mm), (10.0 * s, 9.0 * s), p.spine_top_mm)
        ids[column[body < 0]] = Tissue.CORTICAL_BONE
        ids[column[body < -p.cortex_mm]] = Tissue.MARROW
        disc = np.mod(q[2] - p.spine_top_mm, 18.0 * s) > 18.0 * s - 5.0
        ids[column[(body < 0) & disc]] = Tissue.DISC
        canal = np.hypot(q[0], q[1] - (p.spine_centre_y_mm + 9.0 * s + 8.0))
        ids[column[canal < 7.0 + max(p.min_bone_mm, 3.0)]] = Tissue.CORTICAL_BONE
        ids[column[canal < 7.0]] = Tissue.CSF
        ids[column[canal < 4.0]] = Tissue.WHITE_MATTER

    @staticmethod
    def _paint_inside(ids, points, box, shape: Ellipsoid, tissue: Tissue, only: Tissue | None = None) -> None:
        near = shape.near(points, box)
        inside = shape.sdf(take(points, near)) < 0
        if only is not None:
            inside &= ids[near] == only
        ids[near[inside]] = tissue

    @staticmethod
    def _paint_cavity(ids, points, box, cavity: Cavity) -> None:
        near = cavity.shape.near(points, box, cavity.wall_mm)
        d = cavity.shape.sdf(take(points, near))
        if cavity.wall_mm > 0:
            ids[near[d < cavity.wall_mm]] = Tissue.CORTICAL_BONE
        ids[near[d < 0]] = Tissue.MUCOSA
        ids[near[d < -cavity.mucosa_mm]] = Tissue.INTERNAL_AIR

    def cortical_hu_scale(self, points: np.ndarray) -> np.ndarray:
        """Regional factor on the patient's cortical-bone HU: denser skull base, a smooth
        per-patient variation elsewhere."""
        u = points / np.maximum(norm(points), 1e-3)
        factor = 1.0 + self.p.bone_density_base_boost * smoothstep(-0.3, -0.7, u[2])
        return factor + self._density_wobble @ direction_basis(u)
