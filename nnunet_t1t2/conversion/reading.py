"""Reading MR and CT images, and refusing the ones that would silently give wrong labels.

SimpleITK reads every format, but some broken inputs get through it unnoticed: a truncated NIfTI
file reads without complaint (the missing voxels come back as zeros), so do NaN voxels in NIfTI
(as zeros), and a CT stored as raw scanner values (0..4095, no rescale intercept) reads fine but
puts every threshold in the wrong place. A CT given where an MR image belongs would otherwise only
show up later as a failed registration. Every check here happens before registration, and every
message names the patient and the file, so that nothing reaches the user as a traceback from ITK.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.truncation import missing_data_reason
from nnunet_t1t2.errors import UserError

#: A head CT in Hounsfield units has air (-1000 HU) around the head: at least this fraction of the
#: voxels above the padding value must lie below ``AIR_CHECK_HU``.
MIN_AIR_FRACTION = 0.01
AIR_CHECK_HU = -500.0
#: Values below this are scanner padding (-2048, -3024 ...) outside the reconstructed field of view.
PADDING_BELOW_HU = -1500.0
#: An "MR" image is taken for a CT when at least this fraction of its voxels lies below
#: ``AIR_CHECK_HU`` (air in HU) and at least this fraction within ``SOFT_TISSUE_HU`` (water and soft
#: tissue in HU). MR magnitude images are non-negative, and shifting one by an offset moves its
#: background and its tissue together: only an offset that put the background near -1000 and the
#: tissue near 0 would mimic a head CT. z-scored MR stays far above -500.
CT_LIKE_FRACTION = 0.05
SOFT_TISSUE_HU = (-200.0, 200.0)


def image_error(patient: str, path: Path, problem: str) -> UserError:
    """The error for a problem with one input file, worded the same way everywhere."""
    return UserError(f"patient {patient}: {path}: {problem}")


def read_mr(path: Path, patient: str) -> sitk.Image:
    """An MR volume, checked to be a finite, non-constant, single-channel 3D image."""
    image = _read(path, patient)
    values = _check_volume(image, path, patient)
    if values.min() == values.max():
        raise image_error(patient, path, f"every voxel has the same value ({values.min()}); not an MR image")
    ct_evidence = _hounsfield_evidence(values)
    if ct_evidence:
        raise image_error(patient, path, f"this looks like a CT, not an MR image ({ct_evidence}); check that "
                                         f"the MR image, not the CT, is given here")
    return image


def read_ct(path: Path, patient: str) -> sitk.Image:
    """A CT volume in Hounsfield units as float32 (any rescale slope/intercept in the file applied by
    SimpleITK), refused if its values cannot be HU."""
    image = _read(path, patient)
    _check_volume(image, path, patient)
    image = sitk.Cast(image, sitk.sitkFloat32)
    values = sitk.GetArrayViewFromImage(image)
    inside_field_of_view = values[values >= PADDING_BELOW_HU]
    air_fraction = np.count_nonzero(inside_field_of_view < AIR_CHECK_HU) / max(inside_field_of_view.size, 1)
    if air_fraction < MIN_AIR_FRACTION:
        raise image_error(
            patient, path,
            f"values run from {values.min():g} to {values.max():g} with almost nothing below {AIR_CHECK_HU:g}: "
            f"these are not Hounsfield units (air around the head should be near -1000). Raw scanner values "
            f"need the rescale slope and intercept applied (HU = value * slope + intercept, the intercept is "
            f"usually -1024), either to the voxels or in the file header (NIfTI scl_slope/scl_inter)")
    return image


def read_mask(path: Path, patient: str) -> sitk.Image:
    """A binary mask (any non-zero voxel is inside) as uint8."""
    image = _read(path, patient)
    _check_volume(image, path, patient)
    return sitk.Cast(image != 0, sitk.sitkUInt8)


def _hounsfield_evidence(values: np.ndarray) -> str | None:
    """Why ``values`` look like Hounsfield units (air and soft tissue of a head CT), or None."""
    air = np.count_nonzero(values < AIR_CHECK_HU) / values.size
    low, high = SOFT_TISSUE_HU
    soft_tissue = np.count_nonzero((values >= low) & (values <= high)) / values.size
    if air < CT_LIKE_FRACTION or soft_tissue < CT_LIKE_FRACTION:
        return None
    return (f"values {float(values.min()):g} to {float(values.max()):g} HU, {air:.0%} of the voxels below "
            f"{AIR_CHECK_HU:g} like air and {soft_tissue:.0%} between {low:g} and {high:g} like soft tissue")


def fingerprint(path: Path) -> dict:
    """What identifies an input's content cheaply (name, size, modification time): a change in any
    of them makes a re-run convert the case again. A DICOM folder counts as all of its files."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stats = [f.stat() for f in files]
    return {"path": str(path.resolve()), "files": len(files), "bytes": sum(s.st_size for s in stats),
            "mtime_ns": max((s.st_mtime_ns for s in stats), default=0)}


def _read(path: Path, patient: str) -> sitk.Image:
    if path.is_dir():
        return _read_dicom_series(path, patient)
    if path.name.lower().endswith((".nii", ".nii.gz")):
        _check_nifti_data(path, patient)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as e:
        reason = missing_data_reason(path)
        if reason:
            raise image_error(patient, path, reason) from None
        raise image_error(patient, path, f"cannot be read as an image ({_itk_reason(e)})") from None


def _read_dicom_series(folder: Path, patient: str) -> sitk.Image:
    """The one DICOM series in ``folder``; GDCM applies the rescale slope and intercept."""
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise image_error(patient, folder, "folder holds no DICOM series")
    if len(series) > 1:
        raise image_error(patient, folder, f"folder holds {len(series)} DICOM series ({', '.join(series)}); "
                                           f"keep only the one to convert")
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder), series[0]))
    try:
        return reader.Execute()
    except RuntimeError as e:
        raise image_error(patient, folder, f"DICOM series cannot be read ({_itk_reason(e)})") from None


def _check_nifti_data(path: Path, patient: str) -> None:
    """Read the voxel data of a NIfTI file once with nibabel, which ITK cannot be trusted with here:
    ITK reads a truncated file without complaint (the missing voxels become zeros) and turns NaN
    voxels into zeros."""
    import nibabel

    try:
        data = np.asanyarray(nibabel.load(str(path)).dataobj)
    except (EOFError, zlib.error):
        raise image_error(patient, path, "file is truncated or corrupt (the gzip stream ends early)") from None
    except OSError as e:
        raise image_error(patient, path, f"file is truncated or unreadable ({str(e).splitlines()[0]})") from None
    except Exception as e:  # nibabel's ImageFileError and others for files that are not NIfTI
        raise image_error(patient, path, f"not a readable NIfTI file ({str(e).splitlines()[0]})") from None
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        bad = data.size - np.count_nonzero(np.isfinite(data))
        raise image_error(patient, path, f"has {bad} NaN or infinite voxels")


def _check_volume(image: sitk.Image, path: Path, patient: str) -> np.ndarray:
    """The voxel values of a single-channel 3D image with only finite values."""
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise image_error(patient, path, f"has {image.GetNumberOfComponentsPerPixel()} values per voxel; "
                                         f"a single-channel (grey-value) image is needed")
    if image.GetDimension() != 3:
        raise image_error(patient, path, f"is a {image.GetDimension()}D image of size {image.GetSize()}; "
                                         f"a 3D volume is needed")
    if min(image.GetSize()) < 2:
        raise image_error(patient, path, f"is a single slice (size {image.GetSize()}); a 3D volume is needed")
    values = sitk.GetArrayViewFromImage(image)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        count = values.size - np.count_nonzero(np.isfinite(values))
        raise image_error(patient, path, f"has {count} NaN or infinite voxels")
    return values


def _itk_reason(error: RuntimeError) -> str:
    """The informative last line of an ITK exception message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else "unknown ITK error"
