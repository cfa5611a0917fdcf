"""The report's figures: T2 Dice per strategy and class, T2 Dice against the number of T2 training
patients (where the study varies it, :mod:`.sizes`), and after the paper's, Dice against the
number of retrained conv layers (Fig. 5), the segmentations side by side (Fig. 6,
:mod:`.overlays`), and the total compute time per strategy (Fig. 7). Dice is the mean over test
patients with the bootstrap 95 % interval of :meth:`StudyResults.estimate` as error bars. Each
figure is drawn from whatever results exist, and says what is missing.
"""
from __future__ import annotations

from pathlib import Path
from statistics import fmean

from nnunet_t1t2.study.paper_values import COMPUTE_TIME_FINDING, FOLD_TABLES
from nnunet_t1t2.study.classes import CLASSES
from nnunet_t1t2.study.results import StudyResults
from nnunet_t1t2.study.statistics import Estimate
from nnunet_t1t2.study.strategies import STRATEGIES

FIGURE_FILES = {
    "dice": "dice_per_strategy.png",
    "fig5": "fig5_dice_vs_retrained_layers.png",
    "fig6": "fig6_overlays.png",
    "fig7": "fig7_compute_time.png",
    "sizes": "dice_vs_t2_training_patients.png",
}
DPI = 120


def write_figures(results: StudyResults, folder: Path) -> dict[str, Path]:
    """Draw every figure into ``folder``; return their paths by name."""
    import matplotlib

    matplotlib.use("Agg")
    from nnunet_t1t2.study.overlays import draw_overlays

    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / file for name, file in FIGURE_FILES.items()}
    draw_dice_per_strategy(results, paths["dice"])
    draw_dice_vs_retrained_layers(results, paths["fig5"])
    draw_overlays(results, paths["fig6"])
    draw_compute_time(results, paths["fig7"])
    if results.protocol.sweeps_t2_sizes:
        draw_dice_vs_t2_size(results, paths["sizes"])
    else:
        del paths["sizes"]
    return paths


def error_bars(values: list[Estimate]) -> list[list[float]]:
    """Lower and upper error bar lengths of each estimate (0 where it has no interval)."""
    lengths = [[max(v.mean - v.low, 0), max(v.high - v.mean, 0)] if v.low is not None else [0, 0] for v in values]
    return [list(side) for side in zip(*lengths)]


def draw_dice_per_strategy(results: StudyResults, path: Path) -> None:
    """T2 test Dice per strategy, one marker per class, with bootstrap 95 % intervals."""
    import matplotlib.pyplot as plt

    strategies = results.protocol.t2_strategies
    figure, axes = plt.subplots(figsize=(8, 0.45 * max(len(strategies), 3) + 1.6))
    for offset, tissue in zip((-0.24, -0.08, 0.08, 0.24), CLASSES):
        points = [(y + offset, results.estimate(s.key, "T2", tissue.key)) for y, s in enumerate(strategies)]
        points = [(y, value) for y, value in points if value is not None]
        if points:
            axes.errorbar([v.mean for _, v in points], [y for y, _ in points], xerr=error_bars([v for _, v in points]),
                          fmt="o", color=tissue.colour, capsize=3, label=tissue.short_name)
    if strategies:
        axes.set_yticks(range(len(strategies)), [s.label for s in strategies], fontsize=8)
        axes.invert_yaxis()
        axes.legend(fontsize=7, loc="lower left")
    else:
        axes.text(0.5, 0.5, "no T2 strategy was run", transform=axes.transAxes, ha="center")
    axes.set_xlim(0, 1.02)
    axes.set_xlabel("DSC on the T2 test set: mean over patients, bootstrap 95 % interval")
    axes.set_title("T2 test Dice per strategy", fontsize=10)
    _save(figure, path)


def draw_dice_vs_t2_size(results: StudyResults, path: Path) -> None:
    """T2 test Dice against the number of T2 training patients, one panel per class (bone, soft tissue,
    air), one line per strategy with the bootstrap 95 % intervals; dashed: a strategy trained once for
    every size (no fine-tuning)."""
    import matplotlib.pyplot as plt

    from nnunet_t1t2.study.sizes import SIZE_CLASSES, curve, size_label, size_positions

    positions = size_positions(results)
    points = curve(results)
    strategies = results.protocol.strategies
    figure, panels = plt.subplots(1, len(SIZE_CLASSES), figsize=(4 * len(SIZE_CLASSES), 4.2), sharey=True,
                                  squeeze=False)
    spread = 0.06 * (max(positions.values()) - min(positions.values()) or 1)
    for axes, tissue in zip(panels[0], SIZE_CLASSES):
        for number, strategy in enumerate(strategies):
            line = [(positions[p.size], p.value) for p in points
                    if p.strategy == strategy and p.tissue == tissue and p.value is not None]
            if not line:
                continue
            shift = spread * (number - (len(strategies) - 1) / 2) / max(len(strategies), 1)
            axes.errorbar([x + shift for x, _ in line], [v.mean for _, v in line],
                          yerr=error_bars([v for _, v in line]), marker="o", capsize=3,
                          linestyle="-" if strategy.trains_on_t2 else "--", label=strategy.label)
        axes.set_xticks(list(positions.values()), [size_label(results, size) for size in positions])
        axes.set_title(tissue.short_name, fontsize=10)
        axes.set_xlabel("T2 training patients")
        axes.set_ylim(0, 1)
    panels[0][0].set_ylabel("T2 test DSC (mean over patients, 95 % CI)")
    if any(p.value is not None for p in points):
        panels[0][-1].legend(fontsize=7, loc="lower right")
    else:
        panels[0][0].text(0.5, 0.5, "no T2 strategy has been evaluated yet", transform=panels[0][0].transAxes,
                          ha="center")
    figure.suptitle("How many T2 training patients: T2 test Dice per strategy", fontsize=10)
    _save(figure, path)


def draw_dice_vs_retrained_layers(results: StudyResults, path: Path) -> None:
    """Fig. 5: T2 test Dice (:meth:`StudyResults.estimate`, bootstrap intervals) of conservative fine
    tuning per depth, per class, with the paper's Table 4 averages dashed."""
    import matplotlib.pyplot as plt

    depths = [s for s in STRATEGIES.values() if s.family == "conservative"]
    paper = {row.strategy: row.values for row in FOLD_TABLES[4] if row.fold == "avg"}
    figure, axes = plt.subplots(figsize=(7.5, 4.8))
    for tissue in CLASSES:
        colour = tissue.colour
        ours = [(s.retrained_convs, results.estimate(s.key, "T2", tissue.key)) for s in depths]
        ours = [(x, value) for x, value in ours if value is not None]
        if ours:
            axes.errorbar([x for x, _ in ours], [value.mean for _, value in ours],
                          yerr=error_bars([value for _, value in ours]),
                          marker="o", color=colour, capsize=3, label=f"{tissue.short_name} (ours)")
        if tissue.paper:
            axes.plot([s.retrained_convs for s in depths], [paper[s.key][tissue.paper]["DSC"] for s in depths],
                      linestyle="--", color=colour, alpha=0.6, label=f"{tissue.short_name} (paper, Table 4)")
    if not any(s in results.protocol.strategies for s in depths):
        axes.text(0.5, 0.5, "no conservative fine tuning was run (ours)", transform=axes.transAxes, ha="center")
    axes.set_xticks([s.retrained_convs for s in depths], ["FC" if s.retrained_convs == 0 else str(s.retrained_convs)
                                                          for s in depths])
    axes.set_xlabel("retrained conv layers (FC: final classifier only)")
    axes.set_ylabel("DSC on the T2 test set")
    axes.set_ylim(0, 1)
    axes.set_title("Conservative fine tuning: Dice against retrained layers (cf. paper Fig. 5)")
    axes.legend(fontsize=7, ncol=2, loc="lower right")
    _save(figure, path)


def draw_compute_time(results: StudyResults, path: Path) -> None:
    """Fig. 7: per strategy, training time to convergence (epochs to the best EMA pseudo Dice times
    seconds per epoch, as the paper defines it) and the whole training, averaged over folds."""
    import matplotlib.pyplot as plt

    rows = []
    for strategy in results.protocol.strategies:
        records = list(results.convergence_records(strategy.key).values())
        if records:
            rows.append((strategy.label, fmean(r["seconds_to_convergence"] for r in records),
                         fmean(r["seconds_total"] for r in records), fmean(r["epochs_to_convergence"] for r in records),
                         fmean(r["seconds_per_epoch"] for r in records)))
    figure, axes = plt.subplots(figsize=(8, 0.5 * max(len(rows), 3) + 1.5))
    if rows:
        positions = range(len(rows))
        axes.barh(positions, [r[2] for r in rows], color="lightgrey", label="whole training")
        axes.barh(positions, [r[1] for r in rows], color="tab:blue", label="to convergence")
        for y, (_, to_convergence, _, epochs, per_epoch) in zip(positions, rows):
            axes.text(to_convergence, y, f" {epochs:.0f} epoch(s) x {per_epoch:.1f} s", va="center", fontsize=7)
        axes.set_yticks(list(positions), [r[0] for r in rows], fontsize=8)
        axes.invert_yaxis()
        axes.legend(fontsize=8, loc="lower right")
    else:
        axes.text(0.5, 0.5, "no training has finished yet", transform=axes.transAxes, ha="center")
    axes.set_xlabel("seconds (average over folds)")
    axes.set_title("Total compute time per strategy (cf. paper Fig. 7)", fontsize=10)
    figure.text(0.01, 0.01, f"Paper: {COMPUTE_TIME_FINDING}.", fontsize=6, wrap=True)
    _save(figure, path, bottom=0.22)


def _save(figure, path: Path, bottom: float | None = None) -> None:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    if bottom is not None:
        figure.subplots_adjust(bottom=bottom)
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
