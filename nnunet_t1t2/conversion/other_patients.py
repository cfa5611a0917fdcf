"""Does another patient's CT fit this MR image better than the CT given for it? Pairs mixed up in a data set.

The pose check (:mod:`.registration_check`) judges a CT against the poses around its optimum and
against its own mirror image. What it cannot always tell, on coarse or thick-slice images, is a CT of
another head of about the same size and shape: such a CT has a clear optimum too. The data set itself
holds the evidence for that: other patients' CTs, registered to the same MR image in the same way, show
how well a CT of another head fits this image, at its resolution, contrast and noise. The patient's own
CT fits it better than any of them, so an image whose CT another patient's fits clearly better (by more
than ``--max-other-patient-gain``, by default the optimiser's noise, as for the mirror test) is refused:
the CTs of two patients are swapped, or the CT given is not this patient's.

Each MR image is compared with the CTs of the next few patients in name order (wrapping around) and of
any patient whose CT file has the same size as its own (a copy of one CT for two patients). A CT that is
the same image as the one given (one subject's CT shared by several sessions) is no evidence and is only
recorded; patients of the same subject (BIDS sessions) are never compared with each other.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.registration import RegistrationProblem
from nnunet_t1t2.conversion.registration_check import CheckEffort
from nnunet_t1t2.errors import UserError


@dataclass(frozen=True)
class OtherPatientsFit:
    """How well the given CT and other patients' CTs fit one MR image (Mattes mutual information on
    the working copies, larger is better; None where another CT could not be registered)."""

    fit: float
    others: dict[str, float | None]
    same_image: tuple[str, ...] = ()
    """Patients whose CT is the very image given for this one: recorded, not compared."""

    def record(self) -> dict:
        record = {"similarity": round(self.fit, 4),
                  "other_patients_similarity": {p: None if s is None else round(s, 4) for p, s in self.others.items()}}
        if self.same_image:
            record["same_ct_as"] = list(self.same_image)
        return record


def compared_patients(patient: str, subjects: dict[str, str], ct_bytes: dict[str, int], count: int) -> list[str]:
    """The patients whose CTs ``patient``'s MR images are compared with: the ``count`` patients after
    it in name order (wrapping around) and those whose CT file has the same size as its own, never
    one of the same subject. ``subjects`` maps every patient to its subject, ``ct_bytes`` to the size
    of its CT input."""
    if count <= 0:
        return []
    order = sorted(subjects)
    start = order.index(patient)
    others = [p for p in order[start + 1:] + order[:start] if subjects[p] != subjects[patient]]
    same_size = [p for p in others if ct_bytes[p] == ct_bytes[patient]]
    return list(dict.fromkeys(others[:count] + same_size))


def fit_of_other_patients(problem: RegistrationProblem, poses: Iterable[sitk.Transform],
                          other_cts: dict[str, sitk.Image], what: str,
                          effort: CheckEffort = CheckEffort()) -> OtherPatientsFit:
    """The similarity of ``problem``'s CT at the best of ``poses`` (the registration and the optimum its
    check found: the question is whose CT this is, not whether the pose is right) and of each of
    ``other_cts`` (patient -> CT in HU) at the optimum its registration to the same MR image finds (the
    pyramid on the working copies, from the scanner's coordinates, as the given CT was registered first,
    with the check's ``effort``; the MR's copies are shared)."""
    others, same = {}, []
    for patient, ct in other_cts.items():
        if _same_image(ct, problem.ct):
            same.append(patient)
            continue
        other = problem.with_ct(ct)
        try:
            registered = other.optimise(other.scanner_pose(), what, native=False,
                                        samples_per_level=effort.samples_per_level(problem))
            others[patient] = other.similarity(registered.transform)
        except UserError:  # no optimum found: this CT fits nowhere, which is no evidence against the given one
            others[patient] = None
    return OtherPatientsFit(max(problem.similarity(pose) for pose in poses), others, tuple(same))


def _same_image(a: sitk.Image, b: sitk.Image) -> bool:
    return (a.GetSize() == b.GetSize() and np.allclose(a.GetSpacing(), b.GetSpacing())
            and np.allclose(a.GetOrigin(), b.GetOrigin())
            and np.array_equal(sitk.GetArrayViewFromImage(a), sitk.GetArrayViewFromImage(b)))
