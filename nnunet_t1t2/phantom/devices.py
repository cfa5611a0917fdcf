"""Immobilisation devices of a radiotherapy planning CT, moulded to the patient's skin.

A planning CT shows what holds the head still: a moulded cushion under the back of the head and a
thermoplastic mask over the face and the front of the head, both in contact with the skin, both
absent from the MR. They are what a conversion must not call the patient, and their density spans
the head threshold: a cushion of beads or dense foam lies a few hundred HU above air, a
thermoplastic sheet above water, so neither can be told from skin by its HU.

Each device is a shell of the drawn thickness outside the body, on one side of the head along y
(the patient lies supine: +y is posterior). Its fraction of each CT voxel comes from the distance to
the body on the CT grid (the CT-only part of a voxel the body shares with the device is device), so
the shell touches the skin with the body's own partial volume and has a soft outer surface.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from nnunet_t1t2.phantom.ct import body_extent_y, slab_fraction
from nnunet_t1t2.phantom.geometry import Grid
from nnunet_t1t2.phantom.variation import PhantomVariation


@dataclass(frozen=True)
class DeviceShell:
    """A device moulded to the skin. ``reach`` is the fraction of the head's depth (front to back)
    that it covers, from the back (``posterior``) or from the front."""

    name: str
    hu: float
    thickness_mm: float
    reach: float
    posterior: bool

    def to_json(self) -> dict:
        return asdict(self)


def draw_devices(rng: np.random.Generator, variation: PhantomVariation) -> list[DeviceShell]:
    """The devices ``variation`` asks for. Both are always drawn, from a stream of their own, so that
    one device's shape does not depend on whether the other is used, and the rest of the patient does
    not depend on either."""
    cushion = DeviceShell("cushion", hu=float(rng.uniform(-400.0, -100.0)), thickness_mm=float(rng.uniform(15.0, 30.0)),
                          reach=float(rng.uniform(0.2, 0.35)), posterior=True)
    mask = DeviceShell("thermoplastic_mask", hu=float(rng.uniform(100.0, 300.0)),
                       thickness_mm=float(rng.uniform(2.0, 3.2)), reach=float(rng.uniform(0.45, 0.55)), posterior=False)
    return [device for device, wanted in ((cushion, variation.cushion), (mask, variation.thermoplastic_mask)) if wanted]


def device_fractions(devices: list[DeviceShell], body_fraction: np.ndarray, grid: Grid) -> list[tuple[float, np.ndarray]]:
    """(HU, fraction of each voxel of ``grid`` that the device fills) for each device; the devices'
    reaches along y never overlap (a cushion reaches at most 35 % of the depth, a mask 55 %)."""
    if not devices:
        return []
    body = body_fraction > 0.5
    y = grid.origin[1] + grid.spacing[1] * np.arange(grid.size[1])
    front, back = body_extent_y(body, y, grid.spacing[1])
    voxel_mm = float(np.prod(grid.spacing)) ** (1 / 3)
    # Distance from a voxel centre to the skin: to the nearest body voxel centre, less half a voxel.
    skin_distance = ndimage.distance_transform_edt(~body, sampling=grid.spacing[::-1]) - voxel_mm / 2
    outside = 1.0 - body_fraction
    fractions = []
    for device in devices:
        depth = device.reach * (back - front)
        side = (slab_fraction(y, grid.spacing[1], back - depth, np.inf) if device.posterior
                else slab_fraction(y, grid.spacing[1], -np.inf, front + depth))
        shell = slab_fraction(skin_distance.ravel(), voxel_mm, -np.inf, device.thickness_mm).reshape(body.shape)
        fractions.append((device.hu, (outside * shell * side[None, :, None]).astype(np.float32)))
    return fractions
