"""A procedural, seeded head phantom with paired T1w/T2w MR, CT and ground truth.

No clinical data can be shipped, so the demo, the tests and the benchmarks run on this phantom.
Each patient is an implicit anatomy in continuous head coordinates (:mod:`.anatomy`) sampled on
every image grid through that image's pose (:mod:`.render`), then passed through MR (:mod:`.mr`)
or CT (:mod:`.ct`) acquisition physics.

Ground truth (:mod:`.truth`): labels on each MR grid, 0 outside the head, 1 soft tissue, 2 bone,
3 air inside the head, from the noise-free HU averaged over 2x2x2 sub-voxels of the MR voxel
(patient only): bone > 600 HU, air < -500 HU, soft tissue otherwise, the head being the tissue
with its enclosed holes filled. Fatty marrow (a few hundred HU) is therefore soft tissue unless
averaged with cortical bone.

Transforms (:mod:`.geometry`): 4x4 matrices on physical LPS mm named ``<to>_from_<from>``;
``ct_from_t1 @ p_t1`` is the same anatomical point in CT space, the fixed-to-moving direction
that ``sitk.Resample(ct, t1, transform)`` expects.

Layout of ``DIR/phantom_NNN/``: ``t1.nii.gz``, ``ct.nii.gz``, ``truth_t1.nii.gz``,
``tissues_t1.nii.gz``, for some patients ``t2.nii.gz``, ``truth_t2.nii.gz``, ``tissues_t2.nii.gz``,
plus ``tissue_legend.json`` and ``phantom.json`` (geometry, transforms, anatomy, acquisition), and
with immobilisation devices ``devices_ct.nii.gz`` (the fraction of each CT voxel they fill).

Variation (:mod:`.variation`): one :class:`PhantomVariation` gives the same patients other voxels and
slices, thinner or thicker bone, darker marrow, more noise and bias, another head size, or a planning
CT's cushion and thermoplastic mask (:mod:`.devices`).
"""
from nnunet_t1t2.phantom.generate import generate_phantom
from nnunet_t1t2.phantom.patient import simulate_patient
from nnunet_t1t2.phantom.sizes import SIZES
from nnunet_t1t2.phantom.variation import PhantomVariation

__all__ = ["generate_phantom", "simulate_patient", "PhantomVariation", "SIZES"]
