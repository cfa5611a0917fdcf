"""Why ITK could not read a MetaImage (.mha/.mhd) or NRRD file whose header is fine.

When the voxel data are shorter than the header promises, or a ``.mhd`` names a data file that is not
there, ITK's exception says only "Reason: No such file or directory" (a stale system error), for a
file that exists. Comparing the header's promise with the bytes on disk gives the user the real
reason. Only called after ITK has failed, so a file ITK reads is never second-guessed.
"""
from __future__ import annotations

import math
from pathlib import Path

#: Bytes per voxel component of MetaImage element types and NRRD types.
METAIMAGE_BYTES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
                   "MET_LONG": 8, "MET_ULONG": 8, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4,
                   "MET_DOUBLE": 8}
NRRD_BYTES = {**dict.fromkeys(("char", "signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8",
                               "uint8_t"), 1),
              **dict.fromkeys(("short", "short int", "signed short", "signed short int", "int16", "int16_t",
                               "ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"), 2),
              **dict.fromkeys(("int", "signed int", "int32", "int32_t", "uint", "unsigned int", "uint32",
                               "uint32_t", "float"), 4),
              **dict.fromkeys(("longlong", "long long", "long long int", "signed long long",
                               "signed long long int", "int64", "int64_t", "ulonglong", "unsigned long long",
                               "unsigned long long int", "uint64", "uint64_t", "double"), 8)}
#: Header bytes read at most: headers are a few hundred bytes; this bounds the read of a non-image.
MAX_HEADER_BYTES = 65536


def missing_data_reason(path: Path) -> str | None:
    """What is wrong with the voxel data of ``path`` (a MetaImage or NRRD file), or None if the
    header and the data on disk agree (or the format is not one of these)."""
    name = path.name.lower()
    if name.endswith((".mha", ".mhd")):
        return _metaimage_reason(path)
    if name.endswith((".nrrd", ".nhdr")):
        return _nrrd_reason(path)
    return None


def _header_bytes(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(MAX_HEADER_BYTES)


def _metaimage_reason(path: Path) -> str | None:
    head = _header_bytes(path)
    fields: dict[str, str] = {}
    header_end = 0
    for line in head.splitlines(keepends=True):
        header_end += len(line)
        key, _, value = line.decode("latin-1").partition("=")
        fields[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            break
    else:
        return None
    try:
        voxels = math.prod(int(size) for size in fields["DimSize"].split())
        channels = int(fields.get("ElementNumberOfChannels", "1"))
        promised = voxels * channels * METAIMAGE_BYTES[fields["ElementType"]]
    except (KeyError, ValueError):
        return None
    compressed = fields.get("CompressedData", "False").lower() == "true"
    if compressed:
        if "CompressedDataSize" not in fields or not fields["CompressedDataSize"].isdigit():
            return None
        promised = int(fields["CompressedDataSize"])
    what = "compressed voxel data" if compressed else "voxel data"
    data_file = fields["ElementDataFile"]
    if data_file == "LOCAL":
        held = path.stat().st_size - header_end
        where = "the file holds"
    elif " " in data_file or "%" in data_file or data_file.upper() == "LIST":
        return None  # a list or pattern of slice files: left to ITK's message
    else:
        data_path = path.parent / data_file
        if not data_path.is_file():
            return f"the header names the voxel data file {data_file}, which does not exist ({data_path})"
        held = data_path.stat().st_size
        where = f"its data file {data_file} holds"
    if held < promised:
        return f"the file is truncated: the header promises {promised} bytes of {what}, {where} {held}"
    return None


def _nrrd_reason(path: Path) -> str | None:
    head = _header_bytes(path)
    if not head.startswith(b"NRRD"):
        return None
    end = head.find(b"\n\n")
    if end < 0:
        return None
    fields = {}
    for line in head[:end].decode("latin-1").splitlines()[1:]:
        key, separator, value = line.partition(":")
        if separator and not line.startswith("#"):
            fields[key.strip()] = value.strip().lstrip("=").strip()
    if fields.get("encoding") != "raw" or "data file" in fields or "datafile" in fields:
        return None  # compressed or detached data: ITK's own NRRD message says what it found
    try:
        promised = math.prod(int(size) for size in fields["sizes"].split()) * NRRD_BYTES[fields["type"]]
    except (KeyError, ValueError):
        return None
    held = path.stat().st_size - (end + 2)
    if held < promised:
        return f"the file is truncated: the header promises {promised} bytes of voxel data, the file holds {held}"
    return None
