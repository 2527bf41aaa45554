"""Fill-rate estimation and threshold forecasting for smart bins (pure: no Django, no I/O).

A bin reports its fill level (%) every few minutes. Between two pickups the level creeps up by a few
percent a day; a pickup makes it fall sharply to near 0 %; the sensor adds ±1–3 % of noise and now and
then a wild spike. Route planning wants one number per bin, the fill rate in % per day, and from it
the moment the bin reaches its threshold. :func:`fill_rate` estimates the rate, :func:`time_to_threshold`
turns it into a date.

Method of :func:`fill_rate`:

1. **Clean.** Keep the points in ``[now - window, now]`` whose fill is finite and plausible (within
   -100…200 %; anything further out is garbage, not noise). Sort by time. Points sharing a timestamp
   collapse into one, with the median of their fills.
2. **Split at emptyings.** An emptying is a drop of at least ``emptied_drop_pct`` between consecutive
   points. Drops are looked for on a running median of three, which keeps the step of a real
   emptying where it is but flattens an isolated spike, so that a single 100 % glitch followed by a
   normal reading is not mistaken for a pickup. (The price: a drop counts only when the new level
   persists for a second reading, or is the latest reading; a lone low reading between two high ones
   is a glitch.) The series is cut at every emptying into fill segments (cycles).
3. **Fit each segment robustly.** Segments with fewer than ``min_points`` points or spanning less than
   ``min_span`` are ignored. Each remaining segment gets a Theil–Sen slope: the median of the slopes
   between all pairs of its points. Up to half of the points may be outliers (spikes, a stray
   reading taken during the emptying) without moving the median much, and on noise-free linear data
   it is exact. To bound the O(m²) cost, at most :data:`MAX_FIT_POINTS` points are fitted over the
   whole window, shared among the segments in proportion to their point counts (but never fewer than
   :data:`MIN_FIT_POINTS` per segment); a segment is thinned by taking evenly spaced points, always
   keeping its first and last.
4. **Combine.** The segment slopes are averaged, each weighted by its time span (longer segments carry
   more evidence) times a mild recency factor ``2 ** (-age / window)``, where ``age`` is the time from
   the segment's last point to ``now``: a segment that ended at the start of the window counts half
   as much as one that ends now. A negative result (a bin does not empty itself; that is sensor
   drift) is clamped to 0.0.

The function never raises on bad data: an empty or one-point series, NaN or infinite fills, unsorted
input, duplicates and identical timestamps all end in a rate or in ``None``. It does raise
:class:`ValueError` for programming errors: a naive ``now`` or ``Point.at``, or nonsensical parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["MAX_FIT_POINTS", "MIN_FIT_POINTS", "FillRate", "Point", "fill_rate", "time_to_threshold"]

#: Most points fitted across the whole window (Theil–Sen is quadratic in the number of points).
MAX_FIT_POINTS = 150
#: Fewest points fitted for a segment when the budget is shared (unless the segment has fewer).
MIN_FIT_POINTS = 24

# Fills outside this band are not sensor noise but garbage; such points are dropped.
_PLAUSIBLE_MIN_PCT = -100.0
_PLAUSIBLE_MAX_PCT = 200.0
# Rates at or below this (% per day) mean "not filling": no crossing is predicted.
_RATE_EPSILON = 1e-9
_SECONDS_PER_DAY = 86_400.0


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


@dataclass(frozen=True, slots=True)
class Point:
    """One fill reading: when it was observed (timezone-aware) and the fill level in %."""

    at: datetime
    fill_pct: float

    def __post_init__(self) -> None:
        _require_aware(self.at, "Point.at")


@dataclass(frozen=True, slots=True)
class FillRate:
    """An estimated fill rate and the evidence behind it.

    ``points_used`` counts the (de-duplicated) points in the segments that contributed,
    ``span_hours`` is the sum of those segments' spans, and ``cycles`` is how many fill segments
    between emptyings contributed.
    """

    pct_per_day: float
    points_used: int
    span_hours: float
    cycles: int


@dataclass(frozen=True, slots=True)
class _Segment:
    times: list[datetime]
    fills: list[float]

    @property
    def span(self) -> timedelta:
        return self.times[-1] - self.times[0]


def _clean(points: Sequence[Point], start: datetime, end: datetime) -> tuple[list[datetime], list[float]]:
    """Points in ``[start, end]`` with a plausible finite fill, sorted, one per timestamp (median fill)."""
    by_time: dict[datetime, list[float]] = {}
    for point in points:
        try:
            fill = float(point.fill_pct)
        except (TypeError, ValueError, OverflowError):
            continue
        if not (math.isfinite(fill) and _PLAUSIBLE_MIN_PCT <= fill <= _PLAUSIBLE_MAX_PCT):
            continue
        if start <= point.at <= end:
            by_time.setdefault(point.at, []).append(fill)
    times = sorted(by_time)
    fills = [by_time[at] for at in times]
    return times, [group[0] if len(group) == 1 else _median(sorted(group)) for group in fills]


def _median(sorted_values: Sequence[float]) -> float:
    """Median of a non-empty, already sorted sequence."""
    n = len(sorted_values)
    mid = n // 2
    if n % 2:
        return sorted_values[mid]
    return (sorted_values[mid - 1] + sorted_values[mid]) / 2.0


def _running_median3(values: Sequence[float]) -> list[float]:
    """Median of each value and its two neighbours (end points kept as they are)."""
    if len(values) < 3:
        return list(values)
    smoothed = [values[0]]
    for a, b, c in zip(values, values[1:], values[2:], strict=False):  # lengths n, n-1, n-2
        if a > b:
            a, b = b, a
        # now a <= b: the median is b if c >= b, a if c <= a, else c
        smoothed.append(b if c >= b else a if c <= a else c)
    smoothed.append(values[-1])
    return smoothed


def _split_at_emptyings(times: list[datetime], fills: list[float], drop_pct: float) -> list[_Segment]:
    """Cut the series wherever the (spike-filtered) fill drops by ``drop_pct`` or more."""
    if not times:
        return []
    smoothed = _running_median3(fills)
    segments: list[_Segment] = []
    begin = 0
    for i in range(1, len(times)):
        if smoothed[i - 1] - smoothed[i] >= drop_pct:
            segments.append(_Segment(times[begin:i], fills[begin:i]))
            begin = i
    segments.append(_Segment(times[begin:], fills[begin:]))
    return segments


def _thin(count: int, keep: int) -> list[int]:
    """``keep`` evenly spaced indices into ``range(count)``, first and last included."""
    if keep >= count:
        return list(range(count))
    if keep < 2:
        return [0, count - 1]
    step = (count - 1) / (keep - 1)
    return sorted({round(k * step) for k in range(keep)})


def _theil_sen_slope(days: Sequence[float], fills: Sequence[float]) -> float:
    """Median of pairwise slopes; ``days`` strictly increasing, at least two points."""
    m = len(days)
    slopes = [(fills[j] - fills[i]) / (days[j] - days[i]) for i in range(m - 1) for j in range(i + 1, m)]
    slopes.sort()
    return _median(slopes)


def fill_rate(
    points: Sequence[Point],
    *,
    now: datetime,
    window: timedelta = timedelta(days=14),
    emptied_drop_pct: float = 20.0,
    min_span: timedelta = timedelta(hours=6),
    min_points: int = 3,
) -> FillRate | None:
    """Robust fill rate (% per day) over ``[now - window, now]``, or ``None`` when nothing is usable.

    See the module docstring for the method.
    """
    _require_aware(now, "now")
    if window <= timedelta(0):
        raise ValueError("window must be positive")
    if not emptied_drop_pct > 0.0:
        raise ValueError("emptied_drop_pct must be positive")
    if min_points < 2:
        raise ValueError("min_points must be at least 2")

    times, fills = _clean(points, now - window, now)
    usable = [
        segment
        for segment in _split_at_emptyings(times, fills, emptied_drop_pct)
        if len(segment.times) >= min_points and segment.span >= min_span
    ]
    if not usable:
        return None

    total_points = sum(len(segment.times) for segment in usable)
    window_seconds = window.total_seconds()
    weighted_sum = 0.0
    total_weight = 0.0
    span_seconds = 0.0
    for segment in usable:
        count = len(segment.times)
        keep = min(count, max(MIN_FIT_POINTS, round(MAX_FIT_POINTS * count / total_points)))
        picked = _thin(count, keep)
        origin = segment.times[0]
        days = [(segment.times[i] - origin).total_seconds() / _SECONDS_PER_DAY for i in picked]
        slope = _theil_sen_slope(days, [segment.fills[i] for i in picked])

        seconds = segment.span.total_seconds()
        age = (now - segment.times[-1]).total_seconds()
        weight = seconds * 2.0 ** (-age / window_seconds)
        weighted_sum += weight * slope
        total_weight += weight
        span_seconds += seconds

    if not total_weight > 0.0:
        return None
    rate = weighted_sum / total_weight
    if not math.isfinite(rate):
        return None
    return FillRate(
        pct_per_day=max(rate, 0.0),
        points_used=total_points,
        span_hours=span_seconds / 3600.0,
        cycles=len(usable),
    )


def time_to_threshold(
    *,
    fill_pct: float,
    rate: FillRate | None,
    threshold_pct: float,
    now: datetime,
    horizon: timedelta = timedelta(days=365),
) -> datetime | None:
    """When the bin reaches ``threshold_pct`` at ``rate``, starting from ``fill_pct`` at ``now``.

    ``now`` if the bin is already at or over the threshold; ``None`` when there is no rate, the rate is
    (practically) zero, the inputs are not finite, or the crossing lies beyond ``horizon``.
    """
    if not (math.isfinite(fill_pct) and math.isfinite(threshold_pct)):
        return None
    if fill_pct >= threshold_pct:
        return now
    if rate is None or not rate.pct_per_day > _RATE_EPSILON:
        return None
    days = (threshold_pct - fill_pct) / rate.pct_per_day
    if not days * _SECONDS_PER_DAY <= horizon.total_seconds():
        return None
    try:
        return now + timedelta(days=days)
    except OverflowError:
        return None
