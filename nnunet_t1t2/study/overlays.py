"""Fig. 6: slices of T2 test patients, their CT-derived labels, and each strategy's prediction.

As in the paper, rows are slices of the test patients and columns are (a) the MR, (b) the labels
from CT, then one column per strategy, labels drawn over the MR. The slices are chosen, not drawn
at random, so that the figure is the same every time: three axial slices spread over the head
(at 35, 50 and 65 % of its height), from successive test patients where there are several.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnunet_t1t2.labels import AIR, BONE, SOFT_TISSUE
from nnunet_t1t2.study.classes import HEAD_CLASSES
from nnunet_t1t2.study.results import StudyResults

SLICE_POSITIONS = (0.35, 0.5, 0.65)
#: Label value -> its colour over the MR (brighter than the charts' colours, to show on grey).
LABEL_COLOURS = {SOFT_TISSUE: "#c8745a", BONE: "#ffe14d", AIR: "#2f6fde"}
LABEL_NAMES = {tissue.labels[0]: tissue.words for tissue in HEAD_CLASSES}
LABEL_ALPHA = 0.6


@dataclass(frozen=True)
class OverlayRow:
    case: str
    slice_index: int
    mr: np.ndarray
    labels: dict[str, np.ndarray]
    """column title -> label slice (the CT labels first, then each strategy's prediction)."""


def draw_overlays(results: StudyResults, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rows = overlay_rows(results)
    columns = 1 + max((len(row.labels) for row in rows), default=1)
    figure, axes = plt.subplots(max(len(rows), 1), columns, figsize=(1.9 * columns, 2.1 * max(len(rows), 1) + 0.6),
                                squeeze=False)
    colours = ListedColormap([LABEL_COLOURS[label] for label in sorted(LABEL_COLOURS)])
    for axis in axes.flat:
        axis.set_axis_off()
    if not rows:
        axes[0, 0].text(0, 0.5, "no T2 test prediction yet", fontsize=9)
    for r, row in enumerate(rows):
        axes[r, 0].imshow(row.mr, cmap="gray")
        axes[r, 0].text(-0.04, 0.5, f"{row.case}\nslice {row.slice_index}", transform=axes[r, 0].transAxes,
                        rotation=90, ha="right", va="center", fontsize=7)
        if r == 0:
            axes[r, 0].set_title("MR", fontsize=7)
        for c, (title, labels) in enumerate(row.labels.items(), start=1):
            axes[r, c].imshow(row.mr, cmap="gray")
            axes[r, c].imshow(np.ma.masked_equal(labels, 0), cmap=colours, vmin=0.5, vmax=len(LABEL_COLOURS) + 0.5,
                              alpha=LABEL_ALPHA, interpolation="nearest")
            if r == 0:
                axes[r, c].set_title(title, fontsize=7)
    figure.legend(handles=[Patch(color=LABEL_COLOURS[k], label=LABEL_NAMES[k]) for k in sorted(LABEL_COLOURS)],
                  loc="lower center", ncol=3, fontsize=7, frameon=False)
    figure.suptitle("T2 test slices: MR, labels from CT, and each strategy's prediction (cf. paper Fig. 6)",
                    fontsize=9)
    figure.tight_layout(rect=(0, 0.05, 1, 0.95))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def overlay_rows(results: StudyResults) -> list[OverlayRow]:
    """The figure's rows, from the first fold's and seed's predictions of every T2 strategy that has them."""
    import SimpleITK as sitk

    layout, fold, seed = results.layout, results.protocol.folds[0], results.protocol.seeds[0]
    predicted = [(s.label, layout.prediction_folder(results.model(s.key, (seed, fold)), "T2"))
                 for s in results.protocol.t2_strategies]
    predicted = [(label, folder) for label, folder in predicted if folder.is_dir()]
    cases = sorted(p.name.removesuffix(".nii.gz") for p in layout.test_labels("T2").glob("*.nii.gz"))
    if not predicted or not cases:
        return []

    def read(file: Path) -> np.ndarray:
        return sitk.GetArrayFromImage(sitk.ReadImage(str(file)))

    rows = []
    for number, position in enumerate(SLICE_POSITIONS):
        case = cases[number % len(cases)]
        reference = read(layout.test_labels("T2") / f"{case}.nii.gz")
        index = slice_in_head(reference, position)
        labels = {"labels from CT": reference[index]}
        labels.update({label: read(folder / f"{case}.nii.gz")[index] for label, folder in predicted})
        rows.append(OverlayRow(case, index, read(layout.test_images("T2") / f"{case}_0000.nii.gz")[index], labels))
    return rows


def slice_in_head(labels: np.ndarray, position: float) -> int:
    """The slice (first array axis) at ``position`` (0 to 1) of the head's extent."""
    in_head = np.flatnonzero(labels.reshape(labels.shape[0], -1).any(axis=1))
    if in_head.size == 0:
        return labels.shape[0] // 2
    return int(round(in_head[0] + position * (in_head[-1] - in_head[0])))
