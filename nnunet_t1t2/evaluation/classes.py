"""Which classes are evaluated: the data set's foreground labels plus the paper's merged air class.

Our CT-derived labels split air into background (0, outside the head) and air (3, inside the
head). Mecheter et al. scored one air class that includes the air around the head, so besides the
head-only ``air`` we report ``air_incl_outside`` = labels {0, 3}, the row to compare with the
paper's tables. Other label sets work too: every non-zero label is a class, and the merged row is
added whenever the labels include both ``background`` and ``air``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nnunetv2.evaluation.evaluate_predictions import label_or_region_to_key

from nnunet_t1t2.errors import UserError
from nnunet_t1t2.labels import LABELS as DEFAULT_LABELS

PAPER_AIR = "air_incl_outside"


@dataclass(frozen=True)
class EvaluatedClass:
    """A named set of label values scored as one class (a single label, or a merged region)."""

    name: str
    labels: tuple[int, ...]

    @property
    def key(self) -> str:
        """The class's key in the summary, spelled as nnU-Net spells a label (``"1"``) or a region
        (``"(0, 3)"``), so that nnU-Net's ``load_summary_json`` reads our summaries."""
        return label_or_region_to_key(self.labels[0] if self.is_label else self.labels)

    @property
    def is_label(self) -> bool:
        """True for one of the data set's own labels; False for a merged row, which
        ``foreground_mean`` leaves out so that no voxel counts twice."""
        return len(self.labels) == 1


def evaluation_classes(labels: dict[str, int]) -> list[EvaluatedClass]:
    """Every foreground label (value != 0) in label order, then the paper's merged air class."""
    classes = [EvaluatedClass(name, (value,)) for name, value in sorted(labels.items(), key=lambda kv: kv[1])
               if value != 0]
    if "background" in labels and "air" in labels:
        classes.append(EvaluatedClass(PAPER_AIR, tuple(sorted((labels["background"], labels["air"])))))
    return classes


def read_dataset_json(path: str | Path) -> tuple[dict[str, int], str]:
    """The label names and file ending of an nnU-Net ``dataset.json``.

    Region-based label sets (lists as label values) and ignore labels are refused rather than
    scored wrongly: the paper's evaluation has neither.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        labels, file_ending = content["labels"], content["file_ending"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a readable nnU-Net dataset.json with 'labels' and 'file_ending' "
                        f"({type(e).__name__}: {e})") from None
    if "ignore" in labels:
        raise UserError(f"{path}: ignore labels are not supported by nnunet-t1t2 evaluate")
    regions = [name for name, value in labels.items() if not isinstance(value, int)]
    if regions:
        raise UserError(f"{path}: region-based labels ({', '.join(regions)}) are not supported; "
                        f"give each label one integer value")
    return labels, file_ending
