"""Per-class precision, recall, Dice and Jaccard (IoU) of predicted head segmentations, per case and
pooled over voxels, and their surface distances (HD95, ASSD in mm) per case, with 95 % confidence
intervals, in nnU-Net's ``summary.json`` layout (extended).

Modules: :mod:`.metrics` (counts and metrics, empty-class rules), :mod:`.surface` (surface
distances), :mod:`.pseudo_ct_error` (a pseudo-CT's error in HU; :mod:`.pseudo_ct_cases`, not imported here,
scores the pseudo-CTs of predicted label images per case), :mod:`.intervals` (confidence
intervals), :mod:`.classes` (which classes are scored), :mod:`.cases` (one case), :mod:`.summary`
(aggregation), :mod:`.folders` (a folder pair), :mod:`.report` (JSON and CSV).
"""
from nnunet_t1t2.evaluation.classes import DEFAULT_LABELS, PAPER_AIR, EvaluatedClass, evaluation_classes, \
    read_dataset_json
from nnunet_t1t2.evaluation.folders import evaluate_folders
from nnunet_t1t2.evaluation.intervals import pooled_intervals, t_interval, wilson_interval
from nnunet_t1t2.evaluation.metrics import METRICS, confusion_counts, metrics_from_counts
from nnunet_t1t2.evaluation.pseudo_ct_error import mean_absolute_error_hu
from nnunet_t1t2.evaluation.report import format_table, write_csv, write_json
from nnunet_t1t2.evaluation.summary import summarize
from nnunet_t1t2.evaluation.surface import DISTANCES, surface_distances

__all__ = [
    "DEFAULT_LABELS", "PAPER_AIR", "EvaluatedClass", "evaluation_classes", "read_dataset_json", "evaluate_folders",
    "pooled_intervals", "t_interval", "wilson_interval", "METRICS", "confusion_counts", "metrics_from_counts",
    "format_table", "write_csv", "write_json", "summarize", "DISTANCES", "surface_distances",
    "mean_absolute_error_hu",
]
