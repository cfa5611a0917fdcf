"""Is a registered pose the CT's real place on this MR? Evidence from the case itself, not its contrast.

A fixed figure of the images at the found pose (how dark the MR is under the CT's bone, say) depends
on contrast, resolution, noise and partial volume as much as on alignment, so any fixed limit on it
refuses good cases from other scanners. What does not depend on them is how the pose compares with
the poses around it and with the alternative that a wrong input would favour, all measured with the
registration's own similarity (Mattes mutual information over the MR head, on the working copies):

* ``uncertainty_mm``: the registration restarted from poses a few mm and degrees around the result
  ends, on average over the head, this far from it (the median over the restarts). A clear optimum
  draws every restart back to itself; a misregistered pose loses them to the real optimum; an
  ambiguous optimum scatters them. This is the registration uncertainty recorded for each case.
* ``sharpness``: at the optimum the restarts found, the similarity lost when the CT is moved by the
  tolerance along each axis, as a fraction of the similarity there (the smallest of the six moves).
  A CT that belongs to no pose of this head (another patient's) matches nowhere sharply, so a move
  costs it little.
* ``mirror_gain``: how much better the left-right mirrored CT, registered the same way, fits than the
  CT as stored at that optimum, as a fraction of the similarity there. A flipped CT (or MR) fits better
  mirrored; a correct one fits worse mirrored; for a nearly symmetric head both fit alike (near 0),
  and then the labels agree too. Only a gain beyond the optimiser's noise refuses the case.

The tolerance is the larger of a number of MR voxels (their largest edge) and a floor in mm, so the
limits scale with each case's resolution. Every figure is recorded in ``conversion.json``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.registration import Registration, RegistrationProblem, register

#: Restarts start this far from the pose under test (at least; more for coarse images) ...
RESTART_SHIFT_MM = 4.0
RESTART_ANGLE_DEG = 4.0
#: ... along these directions (shift and rotation axis), the corners of a tetrahedron.
RESTART_DIRECTIONS = np.array([[1, 1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, 1]], dtype=float) / np.sqrt(3)
#: Head voxels whose displacement is averaged (a fixed, evenly spread subset).
DISPLACEMENT_POINTS = 4000


@dataclass(frozen=True)
class PoseCheck:
    tolerance_mm: float
    uncertainty_mm: float
    restarts_mm: tuple[float, ...]
    sharpness: float
    mirror_gain: float

    def record(self) -> dict:
        return {"tolerance_mm": round(self.tolerance_mm, 3), "uncertainty_mm": round(self.uncertainty_mm, 3),
                "restarts_mm": [round(d, 3) for d in self.restarts_mm], "sharpness": round(self.sharpness, 4),
                "mirror_gain": round(self.mirror_gain, 4)}

    def problems(self, limits) -> list[str]:
        """Why the pose is refused under ``limits`` (:class:`~nnunet_t1t2.conversion.quality.QualityLimits`),
        in words; empty if it is accepted."""
        problems = []
        if self.uncertainty_mm > self.tolerance_mm:
            problems.append(
                f"restarted from poses {RESTART_SHIFT_MM:g} mm and {RESTART_ANGLE_DEG:g} degrees around the result, the "
                f"registration ends {self.uncertainty_mm:.1f} mm from it on average over the head (more than the "
                f"tolerance of {self.tolerance_mm:.1f} mm): the result is not a clear optimum")
        if self.sharpness < limits.min_sharpness:
            problems.append(
                f"moving the CT by {self.tolerance_mm:.1f} mm changes the image similarity by only "
                f"{100 * self.sharpness:.0f}% in the least sensitive direction (less than "
                f"{100 * limits.min_sharpness:.0f}%): no pose matches the MR sharply. Is the CT of this patient?")
        if self.mirror_gain > limits.max_mirror_gain:
            problems.append(
                f"the left-right mirrored CT fits this MR better than the CT as stored (by {100 * self.mirror_gain:.1f}% "
                f"of the similarity, more than {100 * limits.max_mirror_gain:g}%): the CT or the MR appears left-right "
                f"flipped")
        return problems


def check_pose(problem: RegistrationProblem, registration: Registration, tolerance: float, what: str) -> PoseCheck:
    """The figures of the module docstring for ``registration`` (any pose, found or given), with
    ``tolerance`` mm as the move that probes sharpness."""
    pose = registration.transform
    points = _head_points(problem.mr_head)
    centre = problem.head_centre()
    shift = max(RESTART_SHIFT_MM, tolerance)
    restarts = [problem.optimise(moved_pose(pose, centre, shift * RESTART_DIRECTIONS[(k + 1) % 4],
                                        RESTART_DIRECTIONS[k], RESTART_ANGLE_DEG), what, native=False)
                for k in range(len(RESTART_DIRECTIONS))]
    distances = tuple(_mean_displacement(r.transform, pose, points) for r in restarts)

    # Sharpness and the mirror test are asked of the optimum the restarts found, not of the pose: a
    # misregistered pose is judged by its distance from that optimum (above), not twice.
    optimum = max((r.transform for r in restarts), key=problem.similarity)
    at_optimum = problem.similarity(optimum)
    moved = [problem.similarity(moved_pose(optimum, centre, sign * tolerance * axis, axis, 0.0))
             for axis in np.eye(3) for sign in (1, -1)]
    sharpness = min(at_optimum - m for m in moved) / at_optimum if at_optimum > 0 else 0.0

    mirrored = RegistrationProblem.prepare(problem.mr, mirrored_left_right(problem.ct), problem.mr_head,
                                           problem.settings)
    mirrored_fit = mirrored.similarity(mirrored.optimise(_start(centre), what, native=False).transform)
    gain = (mirrored_fit - at_optimum) / at_optimum if at_optimum > 0 else float("inf")
    return PoseCheck(tolerance, float(np.median(distances)), distances, float(sharpness), float(gain))


def mirrored_left_right(image: sitk.Image) -> sitk.Image:
    """``image`` with its voxels mirrored along the image axis closest to the patient's left-right
    (LPS x) direction, the header kept: what a left-right flip in storage looks like."""
    axis = int(np.argmax(np.abs(np.reshape(image.GetDirection(), (3, 3))[0])))
    flip = [False, False, False]
    flip[axis] = True
    mirrored = sitk.Flip(image, flip)
    mirrored.CopyInformation(image)
    return mirrored


def _start(centre: tuple[float, ...]) -> sitk.Euler3DTransform:
    start = sitk.Euler3DTransform()
    start.SetCenter(centre)
    return start


def moved_pose(pose: sitk.Euler3DTransform, centre, shift_mm: np.ndarray, axis: np.ndarray,
           angle_deg: float) -> sitk.Euler3DTransform:
    """``pose`` after first rotating MR points by ``angle_deg`` about ``axis`` through ``centre`` and
    shifting them by ``shift_mm``: the same pose seen from a displaced start."""
    move = sitk.VersorRigid3DTransform()
    move.SetCenter(centre)
    move.SetRotation(np.asarray(axis, dtype=float).tolist(), float(np.deg2rad(angle_deg)))
    move.SetTranslation(np.asarray(shift_mm, dtype=float).tolist())
    matrix = np.reshape(pose.GetMatrix(), (3, 3)) @ np.reshape(move.GetMatrix(), (3, 3))
    result = _start(centre)
    result.SetMatrix(matrix.ravel().tolist())
    result.SetTranslation((np.subtract(pose.TransformPoint(move.TransformPoint(centre)), centre)).tolist())
    return result


def _head_points(mr_head: sitk.Image) -> np.ndarray:
    """Physical positions (N, 3) of an evenly spread subset of the head's voxels."""
    index = np.argwhere(sitk.GetArrayViewFromImage(mr_head) > 0)[:, ::-1]
    step = max(1, len(index) // DISPLACEMENT_POINTS)
    direction = np.reshape(mr_head.GetDirection(), (3, 3))
    return np.asarray(mr_head.GetOrigin()) + (index[::step] * mr_head.GetSpacing()) @ direction.T


def _mean_displacement(a: sitk.Transform, b: sitk.Transform, points: np.ndarray) -> float:
    return float(np.mean([np.linalg.norm(np.subtract(a.TransformPoint(p), b.TransformPoint(p))) for p in points]))
