"""Output file formats (no heavy imports: the CLI reads the choices when it builds its help)."""
from __future__ import annotations

#: ``--format`` choices and the file ending each writes; ``input`` keeps the input's own format.
FORMAT_ENDINGS = {"nifti": ".nii.gz", "mha": ".mha", "nrrd": ".nrrd"}
FORMATS = ("nifti", "input", "mha", "nrrd")


def output_ending(input_format: str, fmt: str) -> str:
    """The file ending of a case's output images. ``input`` keeps the input's format; DICOM input
    gives NIfTI (writing DICOM-SEG and DICOM CT objects is out of scope), so does an input of
    unknown format."""
    if fmt == "input":
        return FORMAT_ENDINGS.get(input_format, FORMAT_ENDINGS["nifti"])
    return FORMAT_ENDINGS[fmt]
