"""MR acquisition: from noise-free partial-volume signal to a stored T1w or T2w image.

The order follows the physics: the point-spread function blurs the object, the receive-coil
sensitivity (a smooth multiplicative bias field, different for every scan) scales it, and the
receiver adds complex Gaussian noise, of which the magnitude image keeps the modulus (Rician
noise, which is why air is never zero on MR). The result is scaled to arbitrary scanner units and
stored as int16, as scanners export it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

BIAS_TERMS = ("x", "y", "z", "xx", "yy", "zz", "xy", "xz", "yz")


@dataclass(frozen=True)
class MrAcquisition:
    gain: float  # scanner units per unit of relative signal
    noise_sigma: float  # standard deviation of each noise channel, in relative signal
    psf_sigma_voxels: float
    bias_coefficients: tuple[float, ...]  # log-bias polynomial in field-of-view coordinates

    def to_json(self) -> dict:
        return {**asdict(self), "bias_terms": list(BIAS_TERMS)}


def draw_mr_acquisition(rng: np.random.Generator, noise_scale: float = 1.0, bias_scale: float = 1.0) -> MrAcquisition:
    """A scan's gain, noise, blur and bias field; ``noise_scale`` and ``bias_scale`` make them noisier
    and more strongly shaded than a typical clinical head coil's."""
    return MrAcquisition(
        gain=float(rng.uniform(700.0, 1400.0)),
        noise_sigma=float(rng.uniform(0.02, 0.035)) * noise_scale,
        psf_sigma_voxels=float(rng.uniform(0.4, 0.6)),
        bias_coefficients=tuple(float(c) * bias_scale for c in rng.normal(0.0, 0.1, len(BIAS_TERMS))),
    )


def bias_field(shape_zyx: tuple[int, int, int], coefficients) -> np.ndarray:
    """exp(polynomial of degree <= 2) over the field of view, each axis scaled to [-1, 1]."""
    z, y, x = (np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape_zyx)
    x, y, z = x[None, None, :], y[None, :, None], z[:, None, None]
    terms = (x, y, z, x * x, y * y, z * z, x * y, x * z, y * z)
    log_bias = sum(np.float32(c) * t for c, t in zip(coefficients, terms))
    return np.exp(np.broadcast_to(log_bias, shape_zyx)).astype(np.float32)


def acquire_mr(signal: np.ndarray, acquisition: MrAcquisition, rng: np.random.Generator) -> np.ndarray:
    """The stored int16 magnitude image of the noise-free relative ``signal`` (z, y, x)."""
    blurred = ndimage.gaussian_filter(signal, acquisition.psf_sigma_voxels, mode="nearest")
    clean = blurred * bias_field(signal.shape, acquisition.bias_coefficients)
    real = clean + acquisition.noise_sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    imaginary = acquisition.noise_sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    magnitude = np.hypot(real, imaginary)
    return np.clip(np.rint(acquisition.gain * magnitude), 0, np.iinfo(np.int16).max).astype(np.int16)
