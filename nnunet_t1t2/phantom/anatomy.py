"""One patient's head as an implicit shape in continuous head coordinates.

Head coordinates are LPS millimetres (x to the patient's left, y posterior, z superior) with the
origin at the centre of the brain. Nothing here knows about voxels: :meth:`HeadAnatomy.tissue_at`
answers "which tissue is at these points?", and each image samples it through its own pose, which
is what keeps T1, T2, CT and the truth consistent with each other and with the recorded transforms.

The cranium is a set of radial layers around the origin (brain, CSF, inner table, diploe, outer
table, scalp), each radius or thickness a smooth function of direction: a per-patient low-order
wobble plus the regional pattern of real skulls (thick frontal and occipital bone, thin temporal
squama, thin skull base). The face, neck and the structures in them (orbits, sinuses, nasal cavity,
mastoid cells, mandible, cervical spine) are ellipsoids and bands placed relative to that cranium.
Air cavities are drawn last, each inside its own bone wall, so that they are always enclosed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from nnunet_t1t2.phantom.shapes import (
    N_DIRECTION_TERMS,
    direction_basis,
    ellipsoid_radius,
    ellipsoid_sdf,
    elliptic_cylinder_sdf,
    smooth_union,
    smoothstep,
    indices_near,
    norm,
)
from nnunet_t1t2.phantom.tissues import Tissue

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


FRONTAL_SINUS_DIRECTION = np.array([0.0, -1.0, -0.15]) / np.linalg.norm([0.0, -1.0, -0.15])
SPHENOID_DIRECTION = np.array([0.0, -0.35, -1.0]) / np.linalg.norm([0.0, -0.35, -1.0])
MASTOID_DIRECTION = np.array([0.8, 0.35, -0.5]) / np.linalg.norm([0.8, 0.35, -0.5])


def draw_head_parameters(rng: np.random.Generator, min_bone_mm: float) -> HeadParameters:
    """A random head. ``min_bone_mm`` floors every bone thickness (cortical plates, cavity walls,
    septa): coarse grids need it so that thin bone does not vanish in partial-volume averaging."""
    s = float(rng.uniform(0.93, 1.03))

    def jitter(value: float, rel: float = 0.05) -> float:
        return float(value * rng.uniform(1 - rel, 1 + rel))

    def wobble(amplitude: float) -> tuple[float, ...]:
        return tuple(float(c) for c in rng.normal(0.0, amplitude, N_DIRECTION_TERMS))

    def mirrored(centre: Vec3) -> tuple[Vec3, Vec3]:
        return (-centre[0], centre[1], centre[2]), centre

    def scaled(*xyz: float) -> Vec3:
        return tuple(float(v * s) for v in xyz)

    atrophy = float(rng.uniform(0.0, 1.0))
    wall_mm = max(2.0, min_bone_mm)
    ventricle_axes = scaled(jitter(6.0) * (1 + 0.5 * atrophy), jitter(26.0), jitter(9.0) * (1 + 0.4 * atrophy))
    ventricle_centre = scaled(ventricle_axes[0] / s + 3.0, jitter(-4.0, 0.5), jitter(12.0, 0.2))
    eye_centre = scaled(jitter(31.0, 0.04), jitter(-64.0, 0.03), jitter(-40.0, 0.05))
    maxillary_centre = scaled(jitter(26.0, 0.05), -50.0, -75.0)
    cell_radius = max(float(rng.uniform(3.5, 4.5)), 0.9 * min_bone_mm)

    params = dict(
        scale=s,
        brain_semi_axes_mm=tuple(float(v * s) for v in (jitter(64), jitter(79), jitter(84), jitter(64), jitter(44))),
        brain_wobble=wobble(0.012),
        csf_mm=float(rng.uniform(2.0, 3.0) + 1.5 * atrophy),
        grey_matter_mm=float(rng.uniform(2.5, 3.5)),
        sulcus_waves_per_mm=tuple(tuple(float(k) for k in v / np.linalg.norm(v) * 2 * np.pi / rng.uniform(16, 24))
                                  for v in rng.normal(size=(4, 3))),
        sulcus_phases=tuple(float(p) for p in rng.uniform(0, 2 * np.pi, 4)),
        skull_mm={
            "vault": float(rng.uniform(5.5, 7.5)),
            "frontal": float(rng.uniform(8.0, 10.5)),
            "occipital": float(rng.uniform(8.5, 11.0)),
            "temporal": float(rng.uniform(3.0, 4.5)),
            "base": float(rng.uniform(2.5, 4.0)),
        },
        skull_wobble=wobble(0.04),
        outer_table_mm=max(float(rng.uniform(1.6, 2.4)), min_bone_mm / 2),
        inner_table_mm=max(float(rng.uniform(1.2, 1.8)), min_bone_mm / 2),
        scalp_mm=float(rng.uniform(4.5, 6.5)),
        temporalis_mm=float(rng.uniform(5.0, 9.0)),
        skin_mm=float(rng.uniform(1.5, 2.5)),
        fat_mm=float(rng.uniform(2.0, 4.0)),
        bone_density_base_boost=float(rng.uniform(0.05, 0.2)),
        bone_density_wobble=wobble(0.04),
        frontal_bossing_mm=float(rng.uniform(8.0, 12.0)) + min_bone_mm,
        face=Ellipsoid(scaled(0.0, jitter(-10.0, 0.2), -62.0), scaled(jitter(66, 0.03), jitter(88, 0.03), jitter(80, 0.03))),
        neck_centre_mm=(0.0, 15.0 * s),
        neck_semi_axes_mm=(jitter(50.0) * s, jitter(55.0) * s),
        neck_top_mm=-45.0 * s,
        eye_radius_mm=jitter(12.0, 0.04) * s,
        eyes=mirrored(eye_centre),
        ventricles=tuple(Ellipsoid(c, ventricle_axes) for c in mirrored(ventricle_centre)),
        deep_grey=tuple(Ellipsoid(c, axes) for centre, axes in (
            (scaled(11.0, 8.0, 1.0), scaled(jitter(9.0), jitter(14.0), jitter(10.0))),
            (scaled(24.0, -8.0, 3.0), scaled(jitter(6.5), jitter(15.0), jitter(11.0))),
        ) for c in mirrored(centre)),
        mastoids=(),  # placed below, on the skull surface
        mandible_depth_mm=(6.0, 6.0 + max(jitter(11.0, 0.15), 2 * min_bone_mm)),
        mandible_z_mm=(-128.0 * s, -100.0 * s),
        spine_centre_y_mm=10.0 * s,
        spine_top_mm=-62.0 * s,
        cortex_mm=max(2.0, min_bone_mm / 2),
        min_bone_mm=min_bone_mm,
        cavities=(),
    )
    skeleton = HeadAnatomy(HeadParameters(**params))
    # Cavities and mastoids hang off the cranium, so they are placed once its radii are known.
    septum = max(2.0, min_bone_mm)
    cell_offset = cell_radius + septum / 2
    mastoid_axes = tuple(max(nominal, cells + septum) for nominal, cells in zip(
        scaled(jitter(9.0, 0.1), jitter(11.0, 0.1), jitter(13.0, 0.1)), (cell_radius, cell_radius, cell_offset + cell_radius)))
    mastoid_centre = MASTOID_DIRECTION * (skeleton.radii(MASTOID_DIRECTION)["outer_skull"] + 3.0)
    mastoids = tuple(Ellipsoid(c, mastoid_axes) for c in mirrored(tuple(float(v) for v in mastoid_centre)))
    mastoid_cells = tuple(
        Cavity(f"mastoid_cell_{side}_{level}", Ellipsoid((m.centre[0], m.centre[1], m.centre[2] + dz), (cell_radius,) * 3), 0.0, 0.0)
        for side, m in zip("rl", mastoids) for level, dz in (("upper", cell_offset), ("lower", -cell_offset))
    )

    frontal = skeleton.radii(FRONTAL_SINUS_DIRECTION)
    frontal_mid = (frontal["inner_skull"] + frontal["outer_skull"]) / 2
    frontal_depth = (frontal["outer_skull"] - frontal["inner_skull"]) / 2 - params["outer_table_mm"] - 0.5
    sphenoid_axes = scaled(jitter(10.0, 0.15), jitter(10.0, 0.15), jitter(9.0, 0.15))
    sphenoid_top = skeleton.radii(SPHENOID_DIRECTION)["outer_skull"] * SPHENOID_DIRECTION
    sphenoid_centre = (0.0, float(sphenoid_top[1]), float(sphenoid_top[2] - wall_mm - sphenoid_axes[2]))
    mucosa = max(float(rng.uniform(1.0, 2.0)), min_bone_mm / 2.5)
    cavities = (
        Cavity("frontal_sinus", Ellipsoid(tuple(float(v) for v in FRONTAL_SINUS_DIRECTION * frontal_mid),
                                          (jitter(13.0, 0.15) * s, frontal_depth, jitter(10.0, 0.15) * s)),
               params["outer_table_mm"], mucosa),
        Cavity("sphenoid_sinus", Ellipsoid(sphenoid_centre, sphenoid_axes), wall_mm, mucosa),
        Cavity("nasal_cavity", Ellipsoid(scaled(0.0, -56.0, -70.0), scaled(jitter(9.0), jitter(22.0), jitter(18.0))), wall_mm, mucosa),
        *(Cavity(f"maxillary_sinus_{side}", Ellipsoid(c, scaled(jitter(12.0, 0.1), jitter(16.0, 0.1), jitter(13.0, 0.1))), wall_mm, mucosa)
          for side, c in zip("rl", mirrored(maxillary_centre))),
        *mastoid_cells,
    )
    return HeadParameters(**{**params, "mastoids": mastoids, "cavities": cavities})


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
        self._max_skin_radius = float(self._layers(_sphere_directions(4000))["skin"].max()) + 3.0

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
    def _body_sdf(self, points: np.ndarray, r: np.ndarray, skin: np.ndarray) -> np.ndarray:
        """Signed distance to the skin: cranium, face and neck blended, mastoids covered."""
        p = self.p
        body = smooth_union(r - skin, p.face.sdf(points), 12.0)
        body = smooth_union(body, elliptic_cylinder_sdf(points, p.neck_centre_mm, p.neck_semi_axes_mm, p.neck_top_mm), 20.0)
        for mastoid in p.mastoids:
            body = smooth_union(body, mastoid.sdf(points) - 6.0, 10.0)
        return body

    def _may_be_body(self, points: np.ndarray, r: np.ndarray) -> np.ndarray:
        """A cheap, conservative test that rules out most of the air around the head (the
        blends in :meth:`_body_sdf` grow the body by at most a quarter of their width)."""
        p = self.p
        margin = 10.0
        maybe = (r < self._max_skin_radius + margin) | (p.face.sdf(points) < margin)
        maybe |= elliptic_cylinder_sdf(points, p.neck_centre_mm, p.neck_semi_axes_mm, p.neck_top_mm) < margin
        return maybe

    def tissue_at(self, points: np.ndarray) -> np.ndarray:
        """Tissue id (:class:`Tissue`) at each point."""
        r = norm(points)
        ids = np.full(r.shape, Tissue.OUTSIDE_AIR, dtype=np.uint8)
        near = np.flatnonzero(self._may_be_body(points, r))
        if near.size:
            ids[near] = self._tissue_near_body(points[:, near], r[near])
        return ids

    def _tissue_near_body(self, points: np.ndarray, r: np.ndarray) -> np.ndarray:
        p = self.p
        u = points / np.maximum(r, 1e-3)
        layers = self._layers(u)
        ids = np.full(r.shape, Tissue.OUTSIDE_AIR, dtype=np.uint8)
        box = (points.min(axis=1), points.max(axis=1))

        depth = -self._body_sdf(points, r, layers["skin"])
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
        wave = np.cos(self._sulcus_waves @ points[:, brain] + self._sulcus_phases).mean(axis=0)
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
            face_depth = -p.face.sdf(points[:, band])
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
            d = orbit.sdf(points[:, near])
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
        q = points[:, column]
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
        inside = shape.sdf(points[:, near]) < 0
        if only is not None:
            inside &= ids[near] == only
        ids[near[inside]] = tissue

    @staticmethod
    def _paint_cavity(ids, points, box, cavity: Cavity) -> None:
        near = cavity.shape.near(points, box, cavity.wall_mm)
        d = cavity.shape.sdf(points[:, near])
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
