"""Is a registered pose the CT's real place on this MR? Evidence from the case itself, not its contrast.

A fixed figure of the images at the found pose (how dark the MR is under the CT's bone, say) depends
on contrast, resolution, noise and partial volume as much as on alignment, so any fixed limit on it
refuses good cases from other scanners. What does not depend on them is how the pose compares with
the poses around it and with the alternative that a wrong input would favour, all measured with the
registration's own similarity (Mattes mutual information over the MR head, on the working copies):

* ``uncertainty_mm``: the registration restarted from poses a few mm and degrees around the result
  ends, on average over the head, this far from it (the median over the restarts), or, where a
  restart ended at a pose clearly more similar than the result (by more than the optimiser's
  noise), as far as that pose, if farther. A clear optimum draws every restart back to itself; a
  misregistered pose loses them to the real optimum (on coarse, thick-slice images some restarts
  stop part of the way there, so their median alone understates the error; the better optimum they
  found does not); an ambiguous optimum scatters them. This is the registration uncertainty
  recorded for each case.
* ``sharpness``: at the optimum the restarts found, the fraction of the similarity lost when the CT
  is moved along each axis (the smallest of the six moves), relative to the fraction the MR loses
  against itself under the same moves. The MR's own loss carries its resolution, blur, noise and
  contrast, so the ratio compares like with like: the patient's own CT matches about half as sharply
  as the MR matches itself, a CT that belongs to no pose of this head (another patient's) matches
  nowhere sharply. The moves are the tolerance, at least two voxels of the working copies.
* ``mirror_gain``: how much better the left-right mirrored CT, registered the same way (restarts
  included), fits than the CT as stored at that optimum, as a fraction of the similarity there. A
  flipped CT (or MR) fits better mirrored; a correct one fits worse mirrored; for a nearly symmetric
  head both fit alike (near 0), and then the labels agree too. Only a gain beyond the optimiser's
  noise refuses the case.

The tolerance is the larger of a number of MR voxels (their largest edge) and a floor in mm, so the
limits scale with each case's resolution. Every figure is recorded in ``conversion.json``.

Cost: the check runs about a dozen registrations on the working copies, so work is shared wherever the
figures allow it: the mirrored CT and other patients' CTs reuse the MR's working copies (the mirror is
of the CT's working copy), the check's registrations draw fewer samples than the one that places the
labels (:class:`CheckEffort`), and what does not depend on the pose (the MR's own sharpness, the
mirrored CT's fit: :class:`ImageEvidence`) is measured once per image, not again for a continued
registration.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.registration import Registration, RegistrationProblem

#: Restarts start this far from the pose under test (at least; more for coarse images) ...
RESTART_SHIFT_MM = 4.0
RESTART_ANGLE_DEG = 4.0
#: ... along these directions (shift and rotation axis), the corners of a tetrahedron.
RESTART_DIRECTIONS = np.array([[1, 1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, 1]], dtype=float) / np.sqrt(3)
#: Sharpness is probed by moves of the tolerance, but at least this many voxels of the working copies.
SHARPNESS_PROBE_VOXELS = 2
#: Head voxels whose displacement is averaged (a fixed, evenly spread subset).
DISPLACEMENT_POINTS = 4000
#: Two optimisations of the same similarity differ by about a tenth of this fraction of it: a pose
#: more similar than another by more than this is clearly better (the mirror test's default limit too).
SIMILARITY_NOISE = 0.005


@dataclass(frozen=True)
class CheckEffort:
    """How hard the check's own registrations work. They only have to tell optima apart (every pose
    they end at is then scored by :meth:`RegistrationProblem.similarity`), not place labels, so they
    draw ``sample_fraction`` of the registration's samples per level (its seed, so they repeat exactly)."""

    sample_fraction: float = 0.5

    def samples_per_level(self, problem: RegistrationProblem) -> int:
        return max(1, round(self.sample_fraction * problem.settings.samples_per_level))


@dataclass(frozen=True)
class ImageEvidence:
    """What the check measures of the images whatever the pose under test: the MR's own sharpness (the
    reference of the CT's) and the best fit of the mirrored CT. Measured once per MR image and reused
    when the check runs again on a continued registration."""

    mr_sharpness: float
    mirrored_fit: float


@dataclass(frozen=True)
class PoseCheck:
    tolerance_mm: float
    uncertainty_mm: float
    restarts_mm: tuple[float, ...]
    sharpness: float
    mirror_gain: float
    optimum: sitk.Euler3DTransform
    """The best pose the restarts found."""
    optimum_mm: float
    """How far that optimum lies from the pose under test (mean over the head)."""
    optimum_gain: float
    """How much more similar that optimum is than the pose under test (a fraction; > 0: better)."""
    evidence: ImageEvidence

    def record(self) -> dict:
        return {"tolerance_mm": round(self.tolerance_mm, 3), "uncertainty_mm": round(self.uncertainty_mm, 3),
                "restarts_mm": [round(d, 3) for d in self.restarts_mm], "best_restart_mm": round(self.optimum_mm, 3),
                "best_restart_gain": round(self.optimum_gain, 4), "sharpness": round(self.sharpness, 4),
                "mirror_gain": round(self.mirror_gain, 4)}


def check_pose(problem: RegistrationProblem, registration: Registration, tolerance: float, what: str,
               evidence: ImageEvidence | None = None, effort: CheckEffort = CheckEffort()) -> PoseCheck:
    """The figures of the module docstring for ``registration`` (any pose, found or given); ``tolerance``
    mm sets how far the restarts start and how far the sharpness moves reach (at least two working voxels).
    ``evidence`` of an earlier check of the same images is reused, not measured again."""
    pose = registration.transform
    points = head_points(problem.mr_head)
    centre = problem.head_centre()
    shift = max(RESTART_SHIFT_MM, tolerance)
    restarts = _restarted(problem, pose, centre, shift, effort, what)
    distances = tuple(mean_displacement(r.transform, pose, points) for r in restarts)

    # Sharpness and the mirror test are asked of the optimum the restarts found, not of the pose: a
    # misregistered pose is judged by its distance from that optimum (above), not twice.
    at_optimum, optimum = max(((problem.similarity(r.transform), r.transform) for r in restarts),
                              key=lambda scored: scored[0])
    probe = max(tolerance, SHARPNESS_PROBE_VOXELS * problem.settings.working_spacing_mm)
    if evidence is None:
        evidence = ImageEvidence(
            _sharpness(problem, problem.scanner_pose(), centre, probe, moving=problem.coarse_mr),
            _mirrored_fit(problem, centre, shift, effort, what))
    sharpness = _sharpness(problem, optimum, centre, probe) / evidence.mr_sharpness
    gain = (evidence.mirrored_fit - at_optimum) / at_optimum if at_optimum > 0 else float("inf")
    at_pose = problem.similarity(pose)
    optimum_gain = float((at_optimum - at_pose) / at_pose) if at_pose > 0 else float("inf")
    optimum_mm = mean_displacement(optimum, pose, points)
    uncertainty = max(float(np.median(distances)), optimum_mm if optimum_gain > SIMILARITY_NOISE else 0.0)
    return PoseCheck(tolerance, uncertainty, distances, float(sharpness), float(gain), optimum, optimum_mm,
                     optimum_gain, evidence)


def _mirrored_fit(problem: RegistrationProblem, centre, shift_mm: float, effort: CheckEffort, what: str) -> float:
    """The best similarity of the left-right mirrored CT (its working copy mirrored, the MR's copies
    shared). It gets the same effort as the CT: registered from the scanner's coordinates, then
    restarted around that result (a registration from the scanner's coordinates alone can stop in a
    local optimum on thick slices, and a failed alternative would make any CT look unflipped)."""
    mirrored = problem.with_ct(problem.ct, coarse_ct=mirrored_left_right(problem.coarse_ct))
    first = mirrored.optimise(mirrored.scanner_pose(), what, native=False,
                              samples_per_level=effort.samples_per_level(problem))
    return max(mirrored.similarity(r.transform)
               for r in (first, *_restarted(mirrored, first.transform, centre, shift_mm, effort, what)))


def _restarted(problem: RegistrationProblem, pose: sitk.Euler3DTransform, centre, shift_mm: float, effort: CheckEffort,
               what: str) -> list[Registration]:
    """The registration on the working copies restarted from poses ``shift_mm`` and
    :data:`RESTART_ANGLE_DEG` around ``pose``, one per :data:`RESTART_DIRECTIONS`, with the check's ``effort``."""
    return [problem.optimise(moved_pose(pose, centre, shift_mm * RESTART_DIRECTIONS[(k + 1) % 4],
                                        RESTART_DIRECTIONS[k], RESTART_ANGLE_DEG), what, native=False,
                             samples_per_level=effort.samples_per_level(problem))
            for k in range(len(RESTART_DIRECTIONS))]


def _sharpness(problem: RegistrationProblem, pose: sitk.Euler3DTransform, centre, probe_mm: float,
               moving: sitk.Image | None = None) -> float:
    """The smallest fraction of the similarity at ``pose`` lost by a move of ``probe_mm`` along an axis."""
    at_pose = problem.similarity(pose, moving)
    if at_pose <= 0:
        return 0.0
    moved = [problem.similarity(moved_pose(pose, centre, sign * probe_mm * axis, axis, 0.0), moving)
             for axis in np.eye(3) for sign in (1, -1)]
    return min(at_pose - m for m in moved) / at_pose


def mirrored_left_right(image: sitk.Image) -> sitk.Image:
    """``image`` with its voxels mirrored along the image axis closest to the patient's left-right
    (LPS x) direction, the header kept: what a left-right flip in storage looks like."""
    axis = int(np.argmax(np.abs(np.reshape(image.GetDirection(), (3, 3))[0])))
    flip = [False, False, False]
    flip[axis] = True
    mirrored = sitk.Flip(image, flip)
    mirrored.CopyInformation(image)
    return mirrored


def moved_pose(pose: sitk.Euler3DTransform, centre, shift_mm: np.ndarray, axis: np.ndarray,
           angle_deg: float) -> sitk.Euler3DTransform:
    """``pose`` after first rotating MR points by ``angle_deg`` about ``axis`` through ``centre`` and
    shifting them by ``shift_mm``: the same pose seen from a displaced start."""
    move = sitk.VersorRigid3DTransform()
    move.SetCenter(centre)
    move.SetRotation(np.asarray(axis, dtype=float).tolist(), float(np.deg2rad(angle_deg)))
    move.SetTranslation(np.asarray(shift_mm, dtype=float).tolist())
    matrix = np.reshape(pose.GetMatrix(), (3, 3)) @ np.reshape(move.GetMatrix(), (3, 3))
    result = sitk.Euler3DTransform(centre)
    result.SetMatrix(matrix.ravel().tolist())
    result.SetTranslation((np.subtract(pose.TransformPoint(move.TransformPoint(centre)), centre)).tolist())
    return result


def head_points(mr_head: sitk.Image) -> np.ndarray:
    """Physical positions (N, 3) of an evenly spread subset of the head's voxels."""
    index = np.argwhere(sitk.GetArrayViewFromImage(mr_head) > 0)[:, ::-1]
    step = max(1, len(index) // DISPLACEMENT_POINTS)
    direction = np.reshape(mr_head.GetDirection(), (3, 3))
    return np.asarray(mr_head.GetOrigin()) + (index[::step] * mr_head.GetSpacing()) @ direction.T


def mean_displacement(a: sitk.Transform, b: sitk.Transform, points: np.ndarray) -> float:
    return float(np.mean([np.linalg.norm(np.subtract(a.TransformPoint(p), b.TransformPoint(p))) for p in points]))
