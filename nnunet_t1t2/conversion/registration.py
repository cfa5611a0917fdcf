"""Rigid CT-to-MR registration and resampling of CT onto the MR grid (all done by SimpleITK).

Fixed image = MR, moving image = CT, so the transform maps MR physical points to CT physical points
and the CT can be resampled straight onto the MR grid, where the labels live. Mattes mutual
information copes with the unrelated grey values of the two modalities; sampling only inside the
MR head mask keeps the empty background and the couch (visible on CT only) out of the metric; the
pyramid (coarse to fine) makes the optimum reachable from the scanner coordinates' start.

Speed: the pyramid runs on copies of both images averaged down to voxels of about
``working_spacing_mm``, where smoothing and shrinking cost little, and only a last level uses the
images' own resolution; the metric computes image gradients at its sample points instead of
filtering whole images. On the paper-size phantom that costs about 3 CPU seconds per image instead
of a minute, and the error against the true transform is 0.04-0.14 mm.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from itertools import product

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.errors import UserError

#: HU of the voxels that the CT does not cover, after resampling (air: outside the head).
OUTSIDE_CT_HU = -1024.0
#: The CT must cover at least this fraction of the MR head's bounding box before registration.
MIN_FIELD_OF_VIEW_OVERLAP = 0.5
#: Resampling HU with a cubic B-spline keeps small air cavities and thin bone at their contrast,
#: where linear interpolation between CT voxels blurs them: with the true transform, Dice against
#: the small phantom's truth is 0.93 instead of 0.85 for air and 0.95 instead of 0.94 for bone.
HU_INTERPOLATOR = sitk.sitkBSpline
#: Head voxels of the working copies that a similarity is measured on, at most: enough that two
#: poses compare well within the check's similarity noise, while a head of 2 mm voxels has ~500 000.
SIMILARITY_SAMPLES = 100_000
#: CT voxels beyond the MR grid's reach that the cubic B-spline still needs.
BSPLINE_MARGIN_VOXELS = 3


@dataclass(frozen=True)
class RegistrationSettings:
    """Registration parameters; they are recorded with every case, so a change converts again.

    Pyramid levels (``shrink_factors`` of the working copies, with ``smoothing_sigmas_mm``) whose
    image would be fewer than ``min_level_voxels`` across are skipped; each level draws about
    ``samples_per_level`` random points inside the MR head, enough for a stable mutual-information
    histogram whatever the image size. The optimiser's steps start at ``learning_rate`` mm (or the
    rotation that moves the head as far) and a level ends when they fall below ``min_step``."""

    working_spacing_mm: float = 2.0
    shrink_factors: tuple[int, ...] = (4, 2, 1)
    smoothing_sigmas_mm: tuple[float, ...] = (4.0, 2.0, 0.0)
    min_level_voxels: int = 32
    samples_per_level: int = 10_000
    histogram_bins: int = 32
    iterations: int = 200
    learning_rate: float = 1.0
    min_step: float = 1e-3
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


@dataclass(frozen=True)
class RegistrationProblem:
    """One CT and one MR image prepared for registering and for judging poses: the full-resolution
    images, their copies averaged down to the working spacing (where the pyramid and every check
    run) and the MR head masks that restrict the similarity to the head."""

    mr: sitk.Image
    ct: sitk.Image
    mr_head: sitk.Image
    settings: RegistrationSettings
    coarse_mr: sitk.Image
    coarse_ct: sitk.Image
    coarse_head: sitk.Image

    @classmethod
    def prepare(cls, mr: sitk.Image, ct: sitk.Image, mr_head: sitk.Image,
                settings: RegistrationSettings) -> RegistrationProblem:
        fixed, head = sitk.Cast(mr, sitk.sitkFloat32), sitk.Cast(mr_head, sitk.sitkFloat32)
        coarse_mr, coarse_ct, coarse_head = (_average_down(image, settings.working_spacing_mm)
                                             for image in (fixed, ct, head))
        return cls(fixed, ct, mr_head, settings, coarse_mr, coarse_ct, coarse_head > 0.5)

    def with_ct(self, ct: sitk.Image, coarse_ct: sitk.Image | None = None) -> RegistrationProblem:
        """The same MR image (its copies and head mask reused, not prepared again) with another CT, or
        with ``coarse_ct`` alone, a CT already on the working spacing (for registrations on the working
        copies only, ``native=False``)."""
        coarse = coarse_ct if coarse_ct is not None else _average_down(ct, self.settings.working_spacing_mm)
        return replace(self, ct=ct if coarse_ct is None else coarse_ct, coarse_ct=coarse)

    @property
    def levels(self) -> list[tuple[int, float]]:
        """The pyramid levels (shrink factor, smoothing sigma in mm) the working copies allow."""
        s = self.settings
        return [(shrink, sigma) for shrink, sigma in zip(s.shrink_factors, s.smoothing_sigmas_mm)
                if min(self.coarse_mr.GetSize()) // shrink >= s.min_level_voxels] or [(1, 0.0)]

    @property
    def has_native_level(self) -> bool:
        """True when averaging down changed the images, so a last level at their own resolution pays."""
        return any(small.GetSize() != full.GetSize()
                   for small, full in zip((self.coarse_mr, self.coarse_ct), (self.mr, self.ct)))

    def head_centre(self) -> tuple[float, ...]:
        return _centroid(self.mr_head)

    def scanner_pose(self) -> sitk.Euler3DTransform:
        """The scanner's coordinates (identity), rotating about the MR head's centre: where a
        registration starts."""
        return sitk.Euler3DTransform(self.head_centre())

    @cached_property
    def _head_voxels(self) -> int:
        return int(np.count_nonzero(sitk.GetArrayViewFromImage(self.coarse_head)))

    def similarity(self, transform: sitk.Transform, moving: sitk.Image | None = None) -> float:
        """Mattes mutual information of the MR's working copy and the CT's (or ``moving``, another image
        on the working grid) at ``transform``, over every head voxel or, in a larger head, the same
        :data:`SIMILARITY_SAMPLES` of them at every call (the seed fixed, so two poses compare on the
        same points); larger is more similar."""
        method = sitk.ImageRegistrationMethod()
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=self.settings.histogram_bins)
        method.SetMetricFixedMask(self.coarse_head)
        if self._head_voxels > SIMILARITY_SAMPLES:
            method.SetMetricSamplingStrategy(method.RANDOM)
            method.SetMetricSamplingPercentage(SIMILARITY_SAMPLES / self._head_voxels, self.settings.sampling_seed)
        # The value needs no image gradients; filtering whole images for them would cost most of the call.
        method.SetMetricUseFixedImageGradientFilter(False)
        method.SetMetricUseMovingImageGradientFilter(False)
        method.SetInterpolator(sitk.sitkLinear)
        method.SetInitialTransform(transform)
        return -float(method.MetricEvaluate(self.coarse_mr, self.coarse_ct if moving is None else moving))

    def optimise(self, start: sitk.Euler3DTransform, what: str, levels: list[tuple[int, float]] | None = None,
                 native: bool = True, samples_per_level: int | None = None) -> Registration:
        """The pyramid over the working copies from ``start`` (all its levels unless ``levels``),
        then, if ``native`` and averaging changed the images, one level at their own resolution;
        ``samples_per_level`` overrides the settings' on the working copies (a check that only compares
        optima needs fewer than the registration that places the labels)."""
        settings = replace(self.settings, samples_per_level=samples_per_level or self.settings.samples_per_level)
        result = _optimise(self.coarse_mr, self.coarse_ct, self.coarse_head, start, levels or self.levels,
                           settings, what)
        if native and self.has_native_level:
            result = _optimise(self.mr, self.ct, self.mr_head, result.transform, [(1, 0.0)], self.settings, what)
        return result


def register(problem: RegistrationProblem, what: str) -> Registration:
    """Rigidly register the problem's CT to its MR, starting from the scanner coordinates (identity)
    with the rotation centred on the MR head: a pyramid on copies averaged down to the working
    spacing, then, if that averaged anything, one level at the images' own resolution. ``what``
    names patient and files in error messages."""
    _check_field_of_view_overlap(problem.ct, problem.mr_head, what)
    return problem.optimise(problem.scanner_pose(), what)


def _optimise(fixed: sitk.Image, moving: sitk.Image, fixed_mask: sitk.Image, initial: sitk.Euler3DTransform,
              levels: list[tuple[int, float]], settings: RegistrationSettings, what: str) -> Registration:
    """One run of SimpleITK's registration over the pyramid ``levels`` (shrink factor, smoothing
    sigma in mm), about ``settings.samples_per_level`` random samples inside ``fixed_mask`` each."""
    mask_voxels = float(np.count_nonzero(sitk.GetArrayViewFromImage(fixed_mask)))
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.histogram_bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentagePerLevel(
        [min(1.0, settings.samples_per_level * shrink ** 3 / mask_voxels) for shrink, _ in levels],
        settings.sampling_seed)
    method.SetMetricFixedMask(fixed_mask)
    method.SetMetricUseFixedImageGradientFilter(False)
    method.SetMetricUseMovingImageGradientFilter(False)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=settings.learning_rate, minStep=settings.min_step, numberOfIterations=settings.iterations,
        relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([shrink for shrink, _ in levels])
    method.SetSmoothingSigmasPerLevel([sigma for _, sigma in levels])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    try:
        result = method.Execute(fixed, moving)
    except RuntimeError as e:
        raise UserError(f"{what}: registration failed ({str(e).strip().splitlines()[-1]})") from None
    return Registration(sitk.Euler3DTransform(sitk.CompositeTransform(result).GetNthTransform(0)),
                        metric_value=float(method.GetMetricValue()),
                        stop_condition=method.GetOptimizerStopConditionDescription())


def resample_ct_to_mr(ct: sitk.Image, mr: sitk.Image, registration: Registration) -> tuple[sitk.Image, float]:
    """CT Hounsfield units on the MR grid, and the fraction of the MR grid that the CT covers;
    uncovered voxels are set to :data:`OUTSIDE_CT_HU`."""
    reachable = _crop_to_reach(ct, mr, registration.transform)
    resampled = sitk.Resample(reachable, mr, registration.transform, HU_INTERPOLATOR, float("nan"), sitk.sitkFloat32)
    hu = sitk.GetArrayFromImage(resampled)
    outside = np.isnan(hu)
    hu[outside] = OUTSIDE_CT_HU
    image = sitk.GetImageFromArray(hu)
    image.CopyInformation(mr)
    return image, 1.0 - np.count_nonzero(outside) / outside.size


def _average_down(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """``image`` with whole blocks of voxels averaged, so that its spacing approaches ``spacing_mm``."""
    return sitk.BinShrink(image, [max(1, int(spacing_mm // s)) for s in image.GetSpacing()])


def _crop_to_reach(ct: sitk.Image, mr: sitk.Image, transform: sitk.Transform) -> sitk.Image:
    """The part of ``ct`` that resampling onto the MR grid can touch: the B-spline interpolator
    prepares coefficients for every voxel it is given, and most of a CT's field of view (couch,
    shoulders) lies outside the MR's."""
    mr_corners = product(*[(-0.5, size - 0.5) for size in mr.GetSize()])
    index = np.array([ct.TransformPhysicalPointToContinuousIndex(
        transform.TransformPoint(mr.TransformContinuousIndexToPhysicalPoint(corner))) for corner in mr_corners])
    low = np.clip(np.floor(index.min(axis=0)).astype(int) - BSPLINE_MARGIN_VOXELS, 0, None)
    high = np.minimum(np.ceil(index.max(axis=0)).astype(int) + BSPLINE_MARGIN_VOXELS + 1, ct.GetSize())
    if np.any(high - low < 2 * BSPLINE_MARGIN_VOXELS):
        return ct  # (almost) no overlap: let resampling fill the MR grid with "outside"
    return ct[int(low[0]):int(high[0]), int(low[1]):int(high[1]), int(low[2]):int(high[2])]


def _check_field_of_view_overlap(ct: sitk.Image, mr_head: sitk.Image, what: str) -> None:
    """Refuse a CT whose field of view misses most of the MR head in scanner coordinates: the wrong
    file, or a header that places the image elsewhere, not something registration can fix."""
    head_low, head_high = _physical_bounds(mr_head, *_mask_index_bounds(mr_head))
    ct_low, ct_high = _physical_bounds(ct, np.zeros(3), np.array(ct.GetSize()) - 1)
    overlap = np.prod(np.clip(np.minimum(head_high, ct_high) - np.maximum(head_low, ct_low), 0, None))
    fraction = overlap / np.prod(head_high - head_low)
    if fraction < MIN_FIELD_OF_VIEW_OVERLAP:
        raise UserError(
            f"{what}: the fields of view do not overlap: the CT covers {100 * fraction:.0f}% of the head's extent "
            f"in the MR (MR head {np.round(head_low).tolist()}..{np.round(head_high).tolist()} mm, CT "
            f"{np.round(ct_low).tolist()}..{np.round(ct_high).tolist()} mm). Check that both images are of "
            f"this patient and that their headers place them in the same scanner coordinates")


def _mask_index_bounds(mask: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(mask)
    box = np.array(stats.GetBoundingBox(1))
    return box[:3], box[:3] + box[3:] - 1


def _physical_bounds(image: sitk.Image, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned physical bounding box of the voxels ``low``..``high`` (index), voxel edges included."""
    corners = [image.TransformContinuousIndexToPhysicalPoint([float(c) for c in corner])
               for corner in product(*zip(np.asarray(low) - 0.5, np.asarray(high) + 0.5))]
    return np.min(corners, axis=0), np.max(corners, axis=0)


def _centroid(mask: sitk.Image) -> tuple[float, ...]:
    stats = sitk.LabelShapeStatisticsImageFilter()
    stats.Execute(mask)
    return stats.GetCentroid(1)
