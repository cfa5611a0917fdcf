"""Simulate one phantom patient: anatomy, poses, every image, and the record that describes them.

Random numbers come from ``SeedSequence(seed, spawn_key=(index,))`` -- the stream that
``SeedSequence(seed).spawn(n)[index]`` gives for any ``n`` -- split into one independent stream per
purpose, so a patient depends only on (seed, index), and drawing its T2 or not changes nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnunet_t1t2.phantom.anatomy import HeadAnatomy
from nnunet_t1t2.phantom.random_head import draw_head_parameters
from nnunet_t1t2.phantom.ct import acquire_ct, body_table, draw_ct_acquisition, encode_ct
from nnunet_t1t2.phantom.devices import device_fractions, draw_devices
from nnunet_t1t2.phantom.geometry import Grid, describe_rigid, random_rigid
from nnunet_t1t2.phantom.mr import acquire_mr, draw_mr_acquisition
from nnunet_t1t2.phantom.render import render
from nnunet_t1t2.phantom.sizes import PhantomSize
from nnunet_t1t2.phantom.tissues import draw_tissue_properties
from nnunet_t1t2.phantom.truth import AIR_BELOW_HU, BONE_ABOVE_HU, labels_from_hu
from nnunet_t1t2.phantom.variation import PhantomVariation

FORMAT_VERSION = 1
STREAMS = ("anatomy", "tissues", "poses", "t1", "t2", "ct", "devices")  # appended streams leave the others as they were

TRANSFORM_CONVENTION = (
    "Rigid 4x4 matrices acting on column vectors [x, y, z, 1] of physical LPS coordinates in mm, "
    "named <to>_from_<from>: p_ct = ct_from_t1 @ p_t1 is where the anatomical point at p_t1 in the "
    "T1 image's physical space lies in the CT image's physical space (likewise t2_from_t1). This is "
    "the fixed-to-moving direction of SimpleITK resampling: sitk.Resample(ct, t1, "
    "sitk.AffineTransform(M[:3, :3].ravel(), M[:3, 3])) with M = ct_from_t1 puts the CT on the T1 grid. "
    "Rotations are about the physical origin. euler_angles_deg are those of "
    "sitk.Euler3DTransform (angleX, angleY, angleZ; R = Rz @ Rx @ Ry); rotation_angle_deg is the "
    "total (axis-angle) rotation. t1_from_head places the phantom's head coordinates (origin at the "
    "brain centre) in T1 space."
)
TRUTH_DEFINITION = (
    "Labels on the MR grid: 0 outside the head, 1 soft tissue, 2 bone, 3 air inside the head. Each "
    "voxel's noise-free HU is the mean over its supersample sub-voxels of the patient alone; bone "
    f"if > {BONE_ABOVE_HU:g} HU, air if < {AIR_BELOW_HU:g} HU, else soft tissue; the head is the "
    f"tissue (>= {AIR_BELOW_HU:g} HU) with enclosed holes filled."
)


@dataclass(frozen=True)
class Volume:
    array: np.ndarray  # numpy (z, y, x) order
    grid: Grid
    rescale_intercept: float = 0.0  # NIfTI scl_inter: stored value + intercept = physical value
    description: str = ""


@dataclass
class PatientPhantom:
    patient_id: str
    volumes: dict[str, Volume] = field(default_factory=dict)  # file stem -> volume
    legend: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)


def patient_id(index: int) -> str:
    return f"phantom_{index:03d}"


def simulate_patient(seed: int, index: int, size: PhantomSize, has_t2: bool, ct_dtype: str = "int16",
                     variation: PhantomVariation = PhantomVariation()) -> PatientPhantom:
    """Everything that goes into one patient's folder, in memory. ``size`` holds the grids (for a
    variation, :func:`~nnunet_t1t2.phantom.sizes.varied_size`); ``variation`` the rest of how it differs
    from the default phantom, recorded in ``phantom.json`` unless it is the default."""
    rng = {name: np.random.default_rng(s)
           for name, s in zip(STREAMS, np.random.SeedSequence(seed, spawn_key=(index,)).spawn(len(STREAMS)))}
    params = draw_head_parameters(rng["anatomy"], size.min_bone_mm, variation)
    anatomy = HeadAnatomy(params)
    tissues = draw_tissue_properties(rng["tissues"], variation.marrow_t1_contrast)

    t1_from_head = random_rigid(rng["poses"], angle_deg=(0.0, 3.0), shift_mm=(0.0, 3.0))
    ct_from_t1 = random_rigid(rng["poses"], angle_deg=(1.0, 5.0), shift_mm=(2.0, 10.0))
    t2_from_t1 = random_rigid(rng["poses"], angle_deg=(0.5, 2.0), shift_mm=(1.0, 4.0))
    t2_grid = Grid(size.mr.size, size.mr.spacing, tuple(np.add(size.mr.origin, rng["poses"].uniform(-5.0, 5.0, 3))))

    patient = PatientPhantom(patient_id(index))
    mr_scans = {"t1": (size.mr, t1_from_head, tissues.t1w)}
    if has_t2:
        mr_scans["t2"] = (t2_grid, t2_from_t1 @ t1_from_head, tissues.t2w)
    acquisitions = {}
    for name, (grid, pose, signal_table) in mr_scans.items():
        scene = render(anatomy, tissues.hu, signal_table, grid, np.linalg.inv(pose), size.mr_supersample)
        acquisitions[name] = draw_mr_acquisition(rng[name], variation.noise_scale, variation.bias_scale)
        patient.volumes[name] = Volume(acquire_mr(scene.signal, acquisitions[name], rng[name]), grid,
                                       description=f"{name.upper()}-weighted MR, scanner units")
        patient.volumes[f"truth_{name}"] = Volume(labels_from_hu(scene.hu), grid, description="labels 0-3")
        patient.volumes[f"tissues_{name}"] = Volume(scene.tissue, grid, description="tissue ids, tissue_legend.json")

    scene = render(anatomy, tissues.hu, body_table(), size.ct, np.linalg.inv(ct_from_t1 @ t1_from_head), size.ct_supersample)
    acquisitions["ct"] = draw_ct_acquisition(rng["ct"])
    devices = draw_devices(rng["devices"], variation)
    fractions = device_fractions(devices, scene.signal, size.ct)
    stored, intercept = encode_ct(acquire_ct(scene.hu, scene.signal, size.ct, acquisitions["ct"], rng["ct"], fractions),
                                  ct_dtype)
    patient.volumes["ct"] = Volume(stored, size.ct, intercept, description="CT, HU after rescale")
    if devices:
        patient.volumes["devices_ct"] = Volume(sum(fraction for _, fraction in fractions), size.ct,
                                               description="fraction of each CT voxel the devices fill")

    transforms = {"convention": TRANSFORM_CONVENTION, "ct_from_t1": describe_rigid(ct_from_t1)}
    if has_t2:
        transforms["t2_from_t1"] = describe_rigid(t2_from_t1)
    transforms["t1_from_head"] = describe_rigid(t1_from_head)
    patient.legend = tissues.legend()
    patient.record = {
        "format_version": FORMAT_VERSION,
        "patient_id": patient.patient_id,
        "patient_index": index,
        "seed": seed,
        "size": size.name,
        "has_t2": has_t2,
        **({} if variation.is_default else {"variation": variation.to_json()}),
        "images": {
            name: {"file": f"{name}.nii.gz", "dtype": str(v.array.dtype), "rescale_intercept": v.rescale_intercept,
                   "content": v.description, **v.grid.to_json()}
            for name, v in patient.volumes.items()
        },
        "transforms": transforms,
        "truth": {"definition": TRUTH_DEFINITION, "bone_above_hu": BONE_ABOVE_HU, "air_below_hu": AIR_BELOW_HU,
                  "supersample": list(size.mr_supersample)},
        "tissue_legend": "tissue_legend.json",
        "acquisition": {name: a.to_json() for name, a in acquisitions.items()},
        **({"devices": [device.to_json() for device in devices]} if devices else {}),
        "anatomy": params.to_json(),
    }
    return patient
