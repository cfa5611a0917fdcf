"""The tissue classes the study reports, each with its evaluation key, its names and its colour.

The classes and their keys come from the label map (:mod:`nnunet_t1t2.labels`) through the
evaluation's own classes (:func:`~nnunet_t1t2.evaluation.evaluation_classes`: every label and the
paper's merged air), so that a table, a sentence, a figure and a lookup in an evaluation summary all
name a class the same way; only how the report words and draws them is written here.
"""
from __future__ import annotations

from dataclasses import dataclass

from nnunet_t1t2.evaluation import PAPER_AIR, evaluation_classes
from nnunet_t1t2.labels import BACKGROUND, LABELS


@dataclass(frozen=True)
class TissueClass:
    key: str
    """The class's key in the evaluation summary ("2", "(0, 3)")."""
    labels: tuple[int, ...]
    name: str
    """A table's heading: "Bone"."""
    words: str
    """As a sentence says it: "bone"."""
    paper: str | None
    """The paper's name for the class, where the paper reports it."""
    colour: str
    """Its colour in the report's figures."""

    @property
    def short_name(self) -> str:
        """A legend's or a column's name: the heading up to its first comma."""
        return self.name.split(",")[0]

    @property
    def in_head(self) -> bool:
        """True for a label inside the head (not the merged air, which includes the air around it)."""
        return BACKGROUND not in self.labels


#: Evaluation class name -> (heading, words, the paper's name, colour), in the report's order.
_WORDING = {
    "bone": ("Bone", "bone", "bone", "tab:orange"),
    "soft_tissue": ("Soft tissue", "soft tissue", "soft_tissue", "tab:green"),
    PAPER_AIR: ("Air, including the air around the head (the paper's air)", "air including the air around the head",
                "air", "tab:blue"),
    "air": ("Air inside the head", "air inside the head", None, "tab:purple"),
}
_EVALUATED = {evaluated.name: evaluated for evaluated in evaluation_classes(LABELS)}

CLASSES = tuple(TissueClass(_EVALUATED[name].key, _EVALUATED[name].labels, *wording)
                for name, wording in _WORDING.items())
BY_NAME = dict(zip(_WORDING, CLASSES))
BY_KEY = {tissue.key: tissue for tissue in CLASSES}
BONE_CLASS = BY_NAME["bone"]
#: The classes of the labels inside the head.
HEAD_CLASSES = tuple(tissue for tissue in CLASSES if tissue.in_head)
