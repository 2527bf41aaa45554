"""Bar-chart geometry for the printed reports: where each bar goes, in page units. Pure (no PDF, no
ORM), so the arithmetic is tested on its own and the PDF code only draws rectangles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    group: int  # the category along the axis
    series: int  # which series within the group
    x: float
    y: float
    w: float
    h: float
    value: float


def nice_ceiling(value: float) -> float:
    """The axis maximum: the smallest 1, 2, 2.5 or 5 × 10^n not below ``value`` (1 for nothing)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power: float = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power + 1e-12 * power:
            return step * power
    return 10.0 * power


def grouped_bars(
    series: Sequence[Sequence[float]],
    *,
    x: float,
    y: float,
    width: float,
    height: float,
    gap: float = 0.25,
) -> tuple[list[Bar], float]:
    """Bars for ``series`` (each a sequence of values, one per group, all the same length) inside the box
    (x, y, width, height) with y growing downwards, as in a PDF. Each group takes an equal slot; ``gap``
    of the slot is left empty between groups. Returns the bars and the axis maximum. Negative values
    are drawn as zero (the reports chart amounts)."""
    if not series or not series[0]:
        return [], 1.0
    groups = len(series[0])
    if any(len(s) != groups for s in series):
        raise ValueError("every series needs one value per group")
    top = nice_ceiling(max(max(s) for s in series))
    slot = width / groups
    bar_w = slot * (1 - gap) / len(series)
    bars: list[Bar] = []
    for g in range(groups):
        for n, values in enumerate(series):
            value = max(0.0, float(values[g]))
            h = height * value / top
            bars.append(
                Bar(
                    group=g,
                    series=n,
                    x=x + g * slot + slot * gap / 2 + n * bar_w,
                    y=y + height - h,
                    w=bar_w,
                    h=h,
                    value=value,
                )
            )
    return bars, top
