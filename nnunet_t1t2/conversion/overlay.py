"""A PNG per case for checking the registration by eye: the MR with the outlines of the CT-derived
bone (red) and head (yellow) on three orthogonal slices through the middle of the head."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nnunet_t1t2.conversion.tissue import LABELS

#: Characters per line of the title at its font size, across the figure's width.
TITLE_WIDTH = 140


def write_overlay_png(mr: sitk.Image, labels: sitk.Image, path: Path, title: str) -> None:
    # The object-oriented Agg API needs no pyplot state and no backend switch (safe in worker processes).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    image = sitk.GetArrayViewFromImage(mr)
    label_array = sitk.GetArrayViewFromImage(labels)
    head = label_array != LABELS["background"]
    bone = label_array == LABELS["bone"]
    centre = _middle_of(head)
    sx, sy, sz = mr.GetSpacing()
    views = (  # (slice of the zyx arrays, height/width of a pixel, name)
        ((centre[0], slice(None), slice(None)), sy / sx, "axial"),
        ((slice(None), centre[1], slice(None)), sz / sx, "coronal"),
        ((slice(None), slice(None), centre[2]), sz / sy, "sagittal"),
    )
    shown = np.concatenate([image[index][head[index]] for index, _, _ in views])
    low, high = np.percentile(shown if shown.size else image, (1, 99))
    figure = Figure(figsize=(10, 3.6), dpi=80)
    figure.suptitle("\n".join(textwrap.wrap(title, TITLE_WIDTH)), fontsize=9)
    for axis, (index, aspect, name) in zip(figure.subplots(1, 3), views):
        origin = "upper" if name == "axial" else "lower"
        axis.imshow(image[index], cmap="gray", vmin=low, vmax=high, aspect=aspect, origin=origin,
                    interpolation="nearest")
        for mask, colour in ((head, "yellow"), (bone, "red")):
            if mask[index].any():
                axis.contour(mask[index].astype(np.uint8), levels=[0.5], colors=colour, linewidths=0.7,
                             origin=origin)
        axis.set_title(name, fontsize=8)
        axis.set_axis_off()
    figure.tight_layout()
    FigureCanvasAgg(figure).print_png(str(path))


def _middle_of(mask: np.ndarray) -> tuple[int, int, int]:
    """Index of the middle of the mask's bounding box (of the array if the mask is empty)."""
    if not mask.any():
        return tuple(n // 2 for n in mask.shape)
    middle = []
    for axis in range(3):
        occupied = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        middle.append(int(occupied[0] + occupied[-1]) // 2)
    return tuple(middle)
