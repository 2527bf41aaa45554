"""The fill bands the command-centre map colours bins by, relative to each bin's own threshold.

A bin at or over its threshold has asked for a pickup (DESIGN.md core loop: default 80 %); one within
``APPROACHING_POINTS`` of it will ask soon; below that it is in hand. A bin that has never reported a
valid fill is "no reading". Pure: the map's legend and the GeoJSON both read ``BANDS`` (the labels are with the map layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

APPROACHING_POINTS: Final = 20.0


@dataclass(frozen=True)
class FillBand:
    key: str
    colour: str


OVER: Final = FillBand("over", "#b3261e")
APPROACHING: Final = FillBand("approaching", "#c77c02")
NORMAL: Final = FillBand("normal", "#1f7a4d")
NO_READING: Final = FillBand("none", "#8a8f98")
BANDS: Final[tuple[FillBand, ...]] = (OVER, APPROACHING, NORMAL, NO_READING)


def fill_band(fill_pct: float | None, threshold_pct: float) -> FillBand:
    """The band of a bin filled to ``fill_pct`` (None: no reading) with threshold ``threshold_pct``."""
    if fill_pct is None:
        return NO_READING
    if fill_pct >= threshold_pct:
        return OVER
    if fill_pct >= threshold_pct - APPROACHING_POINTS:
        return APPROACHING
    return NORMAL
