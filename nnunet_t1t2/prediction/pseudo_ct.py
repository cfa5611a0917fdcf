"""A bulk-density pseudo-CT: every voxel gets the Hounsfield units of its predicted tissue class.

This is the simplest pseudo-CT used for MR-only radiotherapy planning and PET/MR attenuation
correction: dose and attenuation mostly depend on whether a voxel is air, soft tissue or bone, and
studies that assigned one density per class found dose differences of about 2 % or less against
the real CT (Karotki et al., J Appl Clin Med Phys 12(4):97-104, 2011, head and neck: bone
1.5 g/cm3, air cavities 0, everything else water; Jonsson et al., Radiat Oncol 5:62, 2010).

Default HU per class and where they come from:

* outside the head and air inside it: -1000 HU, air by the definition of the Hounsfield scale;
* soft tissue: +34 HU and bone: +731 HU, the mean HU of whole-brain tissue (33.7 +- 3.0) and of
  bone (731.3 +- 77.6) measured on the planning CTs of 35 brain-metastasis patients for bulk-density
  MR-only planning (Ren, Gong, Yin, Quan, "A bulk density method for MRI-only radiation therapy
  planning for brain metastases", AAPM 2019 annual meeting, abstract 44142).

A site, scanner or label definition that differs (our bone label is CT > 600 HU, cortical bone
only, so its mean lies higher than a contoured skull's) is served by ``--hu-from DATASET``: the
median HU inside each label of the registered CTs of that data set's training patients, as its
conversion recorded them (:mod:`.measured_hu`); and by ``--hu`` for single classes, which wins over
both. Every pseudo-CT is written with a record of its values and where each came from
(:meth:`BulkHU.record`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.hounsfield import HU_RANGE
from nnunet_t1t2.prediction.measured_hu import conversion_manifest, training_hu

DEFAULT_HU = {"background": -1000, "soft_tissue": 34, "bone": 731, "air": -1000}
#: Short names accepted by ``--hu`` besides the class names themselves.
ALIASES = {"soft": "soft_tissue", "tissue": "soft_tissue", "outside": "background"}
LITERATURE = "literature default (nnunet_t1t2.prediction.pseudo_ct.DEFAULT_HU)"


@dataclass(frozen=True)
class BulkHU:
    """The HU per class of a pseudo-CT (``values``) and where each value came from (``sources``)."""

    values: dict[str, int]
    sources: dict[str, str]

    def record(self) -> dict:
        """What the pseudo-CT's sidecar JSON holds."""
        return {"hu": dict(self.values), "source": dict(self.sources)}


def choose_hu(overrides: str | None = None, hu_from: str | None = None) -> BulkHU:
    """The literature values (:data:`DEFAULT_HU`), replaced by the training patients' medians of the
    data set ``hu_from`` names (:func:`measured_hu.conversion_manifest`), then by ``overrides``
    (``--hu``: ``air=-1000,soft=40,bone=900``, any subset, class names or :data:`ALIASES`)."""
    values, sources = dict(DEFAULT_HU), dict.fromkeys(DEFAULT_HU, LITERATURE)
    if hu_from is not None:
        manifest = conversion_manifest(hu_from)
        measured = training_hu(manifest)
        values.update(measured)
        sources.update(dict.fromkeys(measured, f"median over the training patients' CTs, {manifest.resolve()}"))
    given = _parse_overrides(overrides)
    values.update(given)
    sources.update(dict.fromkeys(given, "--hu"))
    return BulkHU(values, sources)


def _parse_overrides(text: str | None) -> dict[str, int]:
    hu = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, value = item.partition("=")
        name = ALIASES.get(name.strip().lower(), name.strip().lower())
        if name not in DEFAULT_HU:
            raise UserError(f"--hu {item}: unknown class '{name}'; classes are "
                            f"{', '.join(DEFAULT_HU)} (also {', '.join(ALIASES)})")
        try:
            hu[name] = int(round(float(value)))
        except ValueError:
            raise UserError(f"--hu {item}: '{value}' is not a number of Hounsfield units") from None
        if not HU_RANGE[0] <= hu[name] <= HU_RANGE[1]:
            raise UserError(f"--hu {item}: {hu[name]} HU lies outside {HU_RANGE[0]}..{HU_RANGE[1]}")
    return hu


def check_labels(model_labels: dict[str, int], hu: dict[str, int], model: str) -> None:
    """A pseudo-CT needs a HU value for every class the model predicts."""
    missing = sorted(set(model_labels) - set(hu))
    if missing:
        raise UserError(f"model {model} predicts classes {', '.join(model_labels)}; a pseudo-CT needs classes "
                        f"{', '.join(DEFAULT_HU)} (no HU for {', '.join(missing)})")


def pseudo_ct(labels: sitk.Image, model_labels: dict[str, int], hu: dict[str, int]) -> sitk.Image:
    """An int16 image in HU on the grid of ``labels``: each class's value from ``hu``."""
    lookup = np.full(max(model_labels.values()) + 1, hu["background"], dtype=np.int16)
    for name, value in model_labels.items():
        lookup[value] = hu[name]
    image = sitk.GetImageFromArray(lookup[sitk.GetArrayViewFromImage(labels)])
    image.CopyInformation(labels)
    return image
