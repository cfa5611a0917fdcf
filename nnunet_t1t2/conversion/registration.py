"""Rigid CT-to-MR registration and resampling of CT onto the MR grid (all done by SimpleITK).

Fixed image = MR, moving image = CT, so the transform maps MR physical points to CT physical points
and the CT can be resampled straight onto the MR grid, where the labels live. Mattes mutual
information copes with the unrelated grey values of the two modalities; sampling only inside the
MR head mask keeps the empty background and the couch (visible in CT only) out of the metric; the
pyramid (coarse to fine) makes the optimum reachable from the scanner coordinates' start.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import product

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.errors import UserError

#: HU of the voxels that the CT does not cover, after resampling (air: outside the head).
OUTSIDE_CT_HU = -1024.0
#: The CT must cover at least this fraction of the MR head's bounding box before registration.
MIN_FIELD_OF_VIEW_OVERLAP = 0.5


@dataclass(frozen=True)
class RegistrationSettings:
    """Registration parameters; they are recorded with every case, so a change converts again."""

    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_sigmas_mm: tuple[float, ...] = (2.0, 1.0, 0.0)
    histogram_bins: int = 32
    sampling_fraction: float = 0.05
    iterations: int = 200
    learning_rate: float = 1.0
    sampling_seed: int = 12345

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Registration:
    """A registration result: ``transform`` maps MR physical points (mm) to CT physical points."""

    transform: sitk.Euler3DTransform
    metric_value: float | None = None
    stop_condition: str = ""
    extra: dict = field(default_factory=dict)

    def record(self) -> dict:
        """The transform and metric, in the form the conversion manifest stores them."""
        matrix = np.eye(4)
        matrix[:3, :3] = np.reshape(self.transform.GetMatrix(), (3, 3))
        matrix[:3, 3] = self.transform.TransformPoint((0.0, 0.0, 0.0))
        return {
            "transform": "Euler3DTransform",
            "maps": "MR physical point (mm, ITK/LPS) to CT physical point",
            "center_mm": list(self.transform.GetCenter()),
            "angles_rad": list(self.transform.GetParameters()[:3]),
            "translation_mm": list(self.transform.GetParameters()[3:]),
            "matrix": matrix.round(6).tolist(),
            "metric": "Mattes mutual information (more negative is better)",
            "metric_value": self.metric_value,
            "stop_condition": self.stop_condition,
            **self.extra,
        }


def identity_registration(reason: str) -> Registration:
    """The result for inputs that are already registered (SynthRAD)."""
    return Registration(sitk.Euler3DTransform(), extra={"skipped": reason})


def register_ct_to_mr(mr: sitk.Image, ct: sitk.Image, mr_head: sitk.Image, settings: RegistrationSettings,
                      what: str) -> Registration:
    """Rigidly register ``ct`` to ``mr``, starting from the scanner coordinates (identity) with the
    rotation centred on the MR head. ``what`` names patient and files in error messages."""
    _check_field_of_view_overlap(ct, mr_head, what)
    initial = sitk.Euler3DTransform()
    initial.SetCenter(_centroid(mr_head))

    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.histogram_bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(settings.sampling_fraction, settings.sampling_seed)
    method.SetMetricFixedMask(mr_head)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=settings.learning_rate, minStep=1e-4, numberOfIterations=settings.iterations,
        relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(settings.shrink_factors))
    method.SetSmoothingSigmasPerLevel(list(settings.smoothing_sigmas_mm))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    try:
        result = method.Execute(sitk.Cast(mr, sitk.sitkFloat32), ct)
    except RuntimeError as e:
        raise UserError(f"{what}: registration failed ({str(e).strip().splitlines()[-1]})") from None
    return Registration(sitk.Euler3DTransform(result.GetNthTransform(0) if result.GetName() == "CompositeTransform"
                                              else result),
                        metric_value=float(method.GetMetricValue()),
                        stop_condition=method.GetOptimizerStopConditionDescription())


def resample_ct_to_mr(ct: sitk.Image, mr: sitk.Image, registration: Registration) -> tuple[sitk.Image, float]:
    """CT Hounsfield units on the MR grid (linear interpolation), and the fraction of the MR grid
    that the CT covers; uncovered voxels are set to :data:`OUTSIDE_CT_HU`."""
    resampled = sitk.Resample(ct, mr, registration.transform, sitk.sitkLinear, float("nan"), sitk.sitkFloat32)
    hu = sitk.GetArrayFromImage(resampled)
    outside = np.isnan(hu)
    hu[outside] = OUTSIDE_CT_HU
    image = sitk.GetImageFromArray(hu)
    image.CopyInformation(mr)
    return image, 1.0 - np.count_nonzero(outside) / outside.size


def _check_field_of_view_overlap(ct: sitk.Image, mr_head: sitk.Image, what: str) -> None:
    """Refuse a CT whose field of view misses most of the MR head in scanner coordinates: the wrong
    file, or a header that places the image elsewhere, not something registration can fix."""
    head_low, head_high = _physical_bounds(mr_head, _head_index_bounds(mr_head))
    ct_low, ct_high = _physical_bounds(ct, (np.zeros(3), np.array(ct.GetSize()) - 1))
    overlap = np.prod(np.clip(np.minimum(head_high, ct_high) - np.maximum(head_low, ct_low), 0, None))
    fraction = overlap / max(np.prod(head_high - head_low), 1e-9)
    if fraction < MIN_FIELD_OF_VIEW_OVERLAP:
        raise UserError(
            f"{what}: the fields of view do not overlap: the CT covers {100 * fraction:.0f}% of the head's extent "
            f"in the MR (MR head {np.round(head_low).tolist()}..{np.round(head_high).tolist()} mm, CT "
            f"{np.round(ct_low).tolist()}..{np.round(ct_high).tolist()} mm). Check that both images are of "
            f"this patient and that their headers place them in the same scanner coordinates")


def _head_index_bounds(mask: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(mask)
    if not stats.GetNumberOfLabels():
        raise UserError("the MR head mask is empty")
    box = np.array(stats.GetBoundingBox(1))
    return box[:3], box[:3] + box[3:] - 1


def _physical_bounds(image: sitk.Image, index_bounds: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned physical bounding box of an index box (voxel edges included)."""
    low, high = index_bounds
    corners = [image.TransformContinuousIndexToPhysicalPoint([float(c) for c in corner])
               for corner in product(*zip(np.asarray(low) - 0.5, np.asarray(high) + 0.5))]
    return np.min(corners, axis=0), np.max(corners, axis=0)


def _centroid(mask: sitk.Image) -> tuple[float, ...]:
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(mask)
    return stats.GetCentroid(1)
