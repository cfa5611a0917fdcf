"""How a phantom differs from the built-in one: the settings in which real head data sets differ.

A training schedule that works on one phantom setting may only fit that setting; whether it learns
bone on other people's heads is checked on phantoms that differ as their data do: the scanner's
voxels and slices, the skull's and its cortical tables' thickness (and so the diploe between them),
how bright marrow is beside cortical bone on T1, image noise and coil bias, head size, and the
immobilisation devices of a radiotherapy planning CT.

Every setting is a factor on (or a replacement of) what the phantom draws for each patient, applied
after the draw: a patient's random numbers are the same under every variation, so two variations
of one seed show the same patients, and the default variation changes nothing (byte-identical files).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from nnunet_t1t2.errors import UserError

#: The range each setting may take (inclusive); voxel sizes in mm, the rest factors.
LIMITS = {
    "mr_voxel_mm": (0.5, 10.0),
    "slice_mm": (0.5, 10.0),
    "skull_scale": (0.3, 2.0),
    "table_scale": (0.3, 2.0),
    "marrow_t1_contrast": (0.0, 1.5),
    "noise_scale": (0.0, 10.0),
    "bias_scale": (0.0, 10.0),
    "head_scale": (0.7, 1.3),
}


@dataclass(frozen=True)
class PhantomVariation:
    mr_voxel_mm: float | None = None
    """In-plane MR voxel size; None: the size's own."""
    slice_mm: float | None = None
    """MR slice thickness (axial); None: the size's own."""
    skull_scale: float = 1.0
    """Factor on the thickness of every bone plate (cranium, walls, septa, mandible, spine), the
    size's floor on it included: below 1 bone is thinner than the voxels resolve at the default."""
    table_scale: float = 1.0
    """Factor on the cortical tables of the cranium: below 1 the marrow (diploe) between them widens
    and bone is two thin lines, above 1 the diploe narrows."""
    marrow_t1_contrast: float = 1.0
    """Marrow's T1 signal above cortical bone's, relative to the default: below 1 marrow darkens
    towards bone (red or sclerotic marrow), so that only the tables tell bone from marrow."""
    noise_scale: float = 1.0
    """Factor on the MR noise."""
    bias_scale: float = 1.0
    """Factor on the coefficients of the MR coil bias field's log-polynomial (stronger shading)."""
    head_scale: float = 1.0
    """Factor on head size; the fields of view grow with it, as a technologist would set them."""
    cushion: bool = False
    """A moulded cushion under the back of the head, on the CT only (:mod:`.devices`)."""
    thermoplastic_mask: bool = False
    """A thermoplastic mask over the face and the front of the head, on the CT only."""

    def __post_init__(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise UserError(f"the phantom's {name.replace('_', ' ')} must lie between {low:g} and {high:g} "
                                f"(got {value:g})")

    @property
    def is_default(self) -> bool:
        return self == PhantomVariation()

    def to_json(self) -> dict:
        """The settings that differ from the default (``phantom.json``, benchmark records)."""
        default = PhantomVariation()
        return {k: v for k, v in asdict(self).items() if v != getattr(default, k)}
