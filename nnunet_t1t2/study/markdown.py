"""Markdown pieces of the report: tables and the way numbers, intervals and durations are written."""
from __future__ import annotations

from nnunet_t1t2.study.results import Score
from nnunet_t1t2.study.statistics import PairedComparison

MISSING = "—"


def number(value: float | None, digits: int = 4) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def score(value: Score | None, digits: int = 4) -> str:
    """``0.5393 [0.5386, 0.5400]``; without brackets where there is no interval."""
    if value is None or value.value is None:
        return MISSING
    if value.low is None:
        return number(value.value, digits)
    return f"{number(value.value, digits)} [{number(value.low, digits)}, {number(value.high, digits)}]"


def paired(value: PairedComparison | None, digits: int = 3) -> str:
    """A paired difference with its sign and interval: ``+0.123 [+0.050, +0.190]``."""
    if value is None:
        return MISSING
    interval = f" [{value.low:+.{digits}f}, {value.high:+.{digits}f}]" if value.low is not None else ""
    return f"{value.difference:+.{digits}f}{interval}"


def published(value: float, half_width: float | None = None, digits: int = 4) -> str:
    """A published value with as many decimals as the paper prints, and its ± where it has one."""
    text = f"{value:.{digits}f}"
    return f"{text} ± {half_width:.4f}" if half_width is not None else text


def duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)
