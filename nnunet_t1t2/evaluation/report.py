"""Write a summary as JSON (nnU-Net's ``summary.json`` layout, extended) and as a spreadsheet CSV,
and render the short table the CLI prints."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from nnunet_t1t2.atomic import write_text_atomically
from nnunet_t1t2.evaluation.metrics import COUNTS, METRICS
from nnunet_t1t2.evaluation.surface import DISTANCES

CSV_COLUMNS = ("statistic", "case", "class", "labels", *METRICS, *DISTANCES, *COUNTS)
"""One row per case and class (``statistic`` = ``case``), then per class the summary rows:
``mean``, ``mean_n_cases`` (cases that entered each mean), ``mean_ci95_low``/``high``, ``pooled`` (with
the summed counts), ``pooled_ci95_low``/``high``. Undefined values are empty cells, and so are the
surface distances (HD95, ASSD in mm) of the pooled rows, which have none."""


def write_json(summary: dict, path: str | Path) -> None:
    """Keys sorted as nnU-Net sorts them; ``allow_nan=False`` guarantees no NaN reaches the file."""
    write_text_atomically(Path(path), json.dumps(summary, indent=4, sort_keys=True, allow_nan=False) + "\n")


def write_csv(summary: dict, path: str | Path) -> None:
    """The summary as rows of :data:`CSV_COLUMNS`, for a spreadsheet."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, restval="")
    writer.writeheader()
    writer.writerows(_csv_rows(summary))
    write_text_atomically(Path(path), text.getvalue())


def _csv_rows(summary: dict):
    classes = summary["classes"]

    def row(statistic: str, case: str, key: str, values: dict) -> dict:
        cells = {column: "" if values.get(column) is None else values[column]
                 for column in (*METRICS, *DISTANCES, *COUNTS)}
        labels = " ".join(str(label) for label in classes[key]["labels"])
        return {"statistic": statistic, "case": case, "class": classes[key]["name"], "labels": labels, **cells}

    for case in summary["metric_per_case"]:
        for key, values in case["metrics"].items():
            yield row("case", case["case"], key, values)
    across, pooled = summary["ci95"]["across_cases"], summary["ci95"]["pooled"]
    for key in classes:
        yield row("mean", "", key, summary["mean"][key])
        yield row("mean_n_cases", "", key, _per_metric(across[key], "n_cases"))
        yield row("mean_ci95_low", "", key, _per_metric(across[key], "low"))
        yield row("mean_ci95_high", "", key, _per_metric(across[key], "high"))
        yield row("pooled", "", key, summary["pooled"][key])
        yield row("pooled_ci95_low", "", key, _per_metric(pooled[key], "low"))
        yield row("pooled_ci95_high", "", key, _per_metric(pooled[key], "high"))


def _per_metric(block: dict, field: str) -> dict:
    return {metric: block[metric][field] for metric in (*METRICS, *DISTANCES) if metric in block}


def format_table(summary: dict) -> str:
    """Dice per class: mean over cases and pooled over voxels, each with its 95 % CI; and the mean HD95."""
    lines = [f"{'class':<18} {'cases':>5}  {'Dice mean [95% CI]':<28} {'Dice pooled [95% CI]':<28} HD95 mean (mm)"]
    for key, evaluated in summary["classes"].items():
        across, pooled = summary["ci95"]["across_cases"][key]["Dice"], summary["ci95"]["pooled"][key]["Dice"]
        mean_cell = _with_interval(summary["mean"][key]["Dice"], across)
        hd95 = summary["mean"][key]["HD95"]
        lines.append(f"{evaluated['name']:<18} {across['n_cases']:>5}  {mean_cell:<28} "
                     f"{_with_interval(summary['pooled'][key]['Dice'], pooled):<28} "
                     f"{'undefined' if hd95 is None else f'{hd95:.2f}'}")
    return "\n".join(lines)


def _with_interval(value: float | None, interval: dict) -> str:
    if value is None:
        return "undefined"
    if interval["low"] is None:
        return f"{value:.4f}"
    return f"{value:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"
