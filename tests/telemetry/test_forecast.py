"""Fill-rate estimation and threshold forecasting (pure functions, no database)."""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenisle.telemetry.forecast import FillRate, Point, fill_rate, time_to_threshold

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI)
STEP = dt.timedelta(minutes=15)
DAY = dt.timedelta(days=1)


def linear(*, start: dt.datetime, end: dt.datetime, fill0: float, rate: float, step: dt.timedelta = STEP):
    """Points every ``step`` from ``start`` up to and including ``end``, ``fill0 + rate * days``."""
    points = []
    at = start
    while at <= end:
        points.append(Point(at, fill0 + rate * (at - start) / DAY))
        at += step
    return points


def sawtooth(*, rate: float, fill0: float, empty_at: float, residual: float, days: float = 14.0):
    """A bin filling at ``rate`` and emptied down to ``residual`` as soon as it passes ``empty_at``."""
    points = []
    fill = fill0
    at = NOW - dt.timedelta(days=days)
    while at <= NOW:
        points.append(Point(at, fill))
        at += STEP
        fill += rate * (STEP / DAY)
        if fill >= empty_at:
            fill = residual
    return points


def least_squares_slope(points) -> float:
    days = [(p.at - NOW) / DAY for p in points]
    fills = [p.fill_pct for p in points]
    mean_d, mean_f = sum(days) / len(days), sum(fills) / len(fills)
    cov = sum((d - mean_d) * (f - mean_f) for d, f in zip(days, fills, strict=True))
    return cov / sum((d - mean_d) ** 2 for d in days)


def rate_of(points, **kwargs) -> float:
    result = fill_rate(points, now=NOW, **kwargs)
    assert result is not None
    return result.pct_per_day


# --- hand-computed examples -----------------------------------------------------------------------


def test_clean_linear_fill_of_5_pct_per_day():
    points = linear(start=NOW - 14 * DAY, end=NOW, fill0=10.0, rate=5.0)
    result = fill_rate(points, now=NOW)
    assert result is not None
    assert result.pct_per_day == pytest.approx(5.0, abs=0.01)
    assert result.cycles == 1
    assert result.points_used == 14 * 96 + 1
    assert result.span_hours == pytest.approx(14 * 24)


def test_crossing_at_60_pct_filling_5_pct_per_day_is_exactly_four_days_later():
    rate = FillRate(pct_per_day=5.0, points_used=100, span_hours=48.0, cycles=1)
    assert time_to_threshold(fill_pct=60.0, rate=rate, threshold_pct=80.0, now=NOW) == NOW + 4 * DAY


def test_forecast_from_an_estimated_rate():
    points = linear(start=NOW - 3 * DAY, end=NOW, fill0=45.0, rate=5.0)
    rate = fill_rate(points, now=NOW)
    crossing = time_to_threshold(fill_pct=60.0, rate=rate, threshold_pct=80.0, now=NOW)
    assert crossing is not None
    assert abs(crossing - (NOW + 4 * DAY)) < dt.timedelta(minutes=1)


# --- emptyings ------------------------------------------------------------------------------------


def test_sawtooth_with_two_emptyings_gives_the_true_rate():
    # 10 %/day, emptied to 2 % when passing 60 %: starts at 20 %, so emptied after 4 and ~9.8 days.
    points = sawtooth(rate=10.0, fill0=20.0, empty_at=60.0, residual=2.0)
    result = fill_rate(points, now=NOW)
    assert result is not None
    assert result.pct_per_day == pytest.approx(10.0, abs=0.01)
    assert result.cycles == 3
    # Whereas a least-squares line through the whole series is diluted by the drops.
    assert least_squares_slope(points) < 3.0


def test_emptying_spread_over_two_readings_is_still_an_emptying():
    before = linear(start=NOW - 8 * DAY, end=NOW - 4 * DAY, fill0=50.0, rate=6.0)
    during = [Point(NOW - 4 * DAY + STEP, 45.0)]  # the truck is mid-way
    after = linear(start=NOW - 4 * DAY + 2 * STEP, end=NOW, fill0=1.0, rate=6.0)
    result = fill_rate(before + during + after, now=NOW)
    assert result is not None
    assert result.pct_per_day == pytest.approx(6.0, rel=0.01)
    assert result.cycles == 2


def test_recent_segments_count_slightly_more():
    older = linear(start=NOW - 14 * DAY, end=NOW - 7 * DAY - STEP, fill0=10.0, rate=4.0)
    recent = linear(start=NOW - 7 * DAY, end=NOW, fill0=0.0, rate=6.0)
    result = fill_rate(older + recent, now=NOW)
    assert result is not None
    assert result.cycles == 2
    # weight = span * 2 ** (-age / window), age = time from the segment's last point to now
    w_older = (7 * DAY - STEP) / DAY * 2 ** (-((7 * DAY + STEP) / (14 * DAY)))
    w_recent = 7.0
    expected = (4.0 * w_older + 6.0 * w_recent) / (w_older + w_recent)
    assert result.pct_per_day == pytest.approx(expected, rel=1e-9)
    assert 5.0 < result.pct_per_day < 6.0


# --- noise and spikes -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_noise_and_spikes_still_give_the_rate_within_10_pct(seed):
    rng = random.Random(seed)
    points = sawtooth(rate=5.0, fill0=10.0, empty_at=45.0, residual=1.0)  # one emptying after 7 days
    noisy = [Point(p.at, p.fill_pct + rng.uniform(-2.0, 2.0)) for p in points]
    for index in rng.sample(range(0, len(noisy), 3), 5):  # non-adjacent 100 % spikes
        noisy[index] = Point(noisy[index].at, 100.0)
    result = fill_rate(noisy, now=NOW)
    assert result is not None
    assert result.pct_per_day == pytest.approx(5.0, rel=0.10)
    assert result.cycles == 2  # a spike is not an emptying


def test_a_drop_to_zero_glitch_is_not_an_emptying():
    points = linear(start=NOW - 5 * DAY, end=NOW, fill0=30.0, rate=3.0)
    points[200] = Point(points[200].at, 0.0)
    result = fill_rate(points, now=NOW)
    assert result is not None
    assert result.cycles == 1
    assert result.pct_per_day == pytest.approx(3.0, rel=0.01)


def test_slow_negative_drift_is_clamped_to_zero():
    points = linear(start=NOW - 10 * DAY, end=NOW, fill0=60.0, rate=-1.0)
    result = fill_rate(points, now=NOW)
    assert result is not None
    assert result.pct_per_day == 0.0
    assert time_to_threshold(fill_pct=50.0, rate=result, threshold_pct=80.0, now=NOW) is None


# --- short segments -------------------------------------------------------------------------------


def test_segments_shorter_than_min_span_or_with_too_few_points_are_ignored():
    long = linear(start=NOW - 10 * DAY, end=NOW - 3 * DAY, fill0=5.0, rate=5.0)  # ends at 40 %
    brief = linear(
        start=NOW - 3 * DAY + STEP, end=NOW - 3 * DAY + 4 * dt.timedelta(hours=1), fill0=0.0, rate=200.0
    )
    sparse = [Point(NOW - 2 * DAY, 1.0), Point(NOW - 1 * DAY, 6.0)]  # 24 h but only two points
    result = fill_rate(long + brief + sparse, now=NOW)
    assert result is not None
    assert result.cycles == 1
    assert result.points_used == len(long)
    assert result.pct_per_day == pytest.approx(5.0, abs=0.01)


def test_only_short_segments_give_none():
    points = linear(start=NOW - dt.timedelta(hours=5), end=NOW, fill0=10.0, rate=5.0)
    assert fill_rate(points, now=NOW) is None
    assert fill_rate(points, now=NOW, min_span=dt.timedelta(hours=4)) is not None
    assert fill_rate(points[:4], now=NOW, min_span=dt.timedelta(0), min_points=5) is None


# --- degenerate input -----------------------------------------------------------------------------


def test_empty_and_single_point_give_none():
    assert fill_rate([], now=NOW) is None
    assert fill_rate([Point(NOW, 50.0)], now=NOW) is None


def test_nan_and_infinite_fills_are_dropped():
    clean = linear(start=NOW - 4 * DAY, end=NOW, fill0=10.0, rate=5.0)
    dirty = list(clean)
    dirty.insert(10, Point(NOW - 3 * DAY + dt.timedelta(minutes=7), math.nan))
    dirty.insert(20, Point(NOW - 3 * DAY + dt.timedelta(minutes=8), math.inf))
    dirty.insert(30, Point(NOW - 2 * DAY + dt.timedelta(minutes=9), -math.inf))
    dirty.insert(40, Point(NOW - 2 * DAY + dt.timedelta(minutes=10), 1e300))
    assert fill_rate(dirty, now=NOW) == fill_rate(clean, now=NOW)
    assert fill_rate([Point(p.at, math.nan) for p in clean], now=NOW) is None


def test_unsorted_and_duplicated_input_gives_the_same_result():
    points = sawtooth(rate=7.0, fill0=30.0, empty_at=80.0, residual=3.0)
    shuffled = points * 2
    random.Random(1).shuffle(shuffled)
    assert fill_rate(shuffled, now=NOW) == fill_rate(points, now=NOW)


def test_identical_timestamps_collapse_to_their_median():
    assert fill_rate([Point(NOW, 10.0 + k) for k in range(50)], now=NOW) is None
    points = linear(start=NOW - 2 * DAY, end=NOW, fill0=10.0, rate=5.0)
    # Three readings per timestamp: the true one and two disagreeing ones either side.
    triplicated = [Point(p.at, p.fill_pct + d) for p in points for d in (-30.0, 0.0, 30.0)]
    assert rate_of(triplicated) == pytest.approx(5.0, abs=1e-9)


def test_timestamps_in_other_zones_are_compared_as_instants():
    points = linear(start=NOW - 3 * DAY, end=NOW, fill0=10.0, rate=5.0)
    in_utc = [Point(p.at.astimezone(dt.UTC), p.fill_pct) for p in points]
    assert fill_rate(in_utc, now=NOW) == fill_rate(points, now=NOW)


# --- window ---------------------------------------------------------------------------------------


def test_only_points_inside_the_window_are_used():
    old = linear(start=NOW - 30 * DAY, end=NOW - 15 * DAY, fill0=0.0, rate=5.0)  # 5 %/day, long ago
    recent = linear(start=NOW - 14 * DAY, end=NOW, fill0=0.0, rate=2.0)
    future = linear(start=NOW + STEP, end=NOW + 2 * DAY, fill0=28.0, rate=40.0)  # clock skew
    result = fill_rate(old + recent + future, now=NOW)
    assert result is not None
    assert result.pct_per_day == pytest.approx(2.0, abs=1e-9)
    assert result.points_used == len(recent)


def test_a_shorter_window_sees_only_the_latest_behaviour():
    slow = linear(start=NOW - 10 * DAY, end=NOW - 3 * DAY, fill0=0.0, rate=1.0)
    fast = linear(start=NOW - 3 * DAY + STEP, end=NOW, fill0=7.0, rate=10.0)  # same segment, faster
    assert rate_of(slow + fast, window=2 * DAY) == pytest.approx(10.0, abs=1e-9)


# --- time_to_threshold ----------------------------------------------------------------------------


RATE_5 = FillRate(pct_per_day=5.0, points_used=100, span_hours=48.0, cycles=1)


def test_at_or_over_the_threshold_is_now():
    assert time_to_threshold(fill_pct=80.0, rate=RATE_5, threshold_pct=80.0, now=NOW) == NOW
    assert time_to_threshold(fill_pct=95.0, rate=None, threshold_pct=80.0, now=NOW) == NOW


def test_no_rate_or_zero_rate_gives_none():
    zero = FillRate(pct_per_day=0.0, points_used=100, span_hours=48.0, cycles=1)
    tiny = FillRate(pct_per_day=1e-12, points_used=100, span_hours=48.0, cycles=1)
    for rate in (None, zero, tiny):
        assert time_to_threshold(fill_pct=10.0, rate=rate, threshold_pct=80.0, now=NOW) is None


def test_crossing_beyond_the_horizon_gives_none():
    slow = FillRate(pct_per_day=0.1, points_used=100, span_hours=48.0, cycles=1)  # 700 days to go
    assert time_to_threshold(fill_pct=10.0, rate=slow, threshold_pct=80.0, now=NOW) is None
    horizon = dt.timedelta(days=1000)
    assert time_to_threshold(fill_pct=10.0, rate=slow, threshold_pct=80.0, now=NOW, horizon=horizon) == (
        NOW + 700 * DAY
    )
    assert time_to_threshold(fill_pct=60.0, rate=RATE_5, threshold_pct=80.0, now=NOW, horizon=4 * DAY) == (
        NOW + 4 * DAY
    )
    assert time_to_threshold(fill_pct=60.0, rate=RATE_5, threshold_pct=80.0, now=NOW, horizon=3 * DAY) is None


def test_non_finite_inputs_give_none_and_never_overflow():
    assert time_to_threshold(fill_pct=math.nan, rate=RATE_5, threshold_pct=80.0, now=NOW) is None
    assert time_to_threshold(fill_pct=10.0, rate=RATE_5, threshold_pct=math.inf, now=NOW) is None
    huge = dt.timedelta.max
    assert time_to_threshold(fill_pct=-1e300, rate=RATE_5, threshold_pct=80.0, now=NOW, horizon=huge) is None


# --- programming errors ---------------------------------------------------------------------------


def test_naive_datetimes_and_nonsense_parameters_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        Point(dt.datetime(2026, 10, 8, 9, 30), 50.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        fill_rate([], now=dt.datetime(2026, 10, 8, 9, 30))
    with pytest.raises(ValueError, match="min_points"):
        fill_rate([], now=NOW, min_points=1)
    with pytest.raises(ValueError, match="window"):
        fill_rate([], now=NOW, window=dt.timedelta(0))
    with pytest.raises(ValueError, match="emptied_drop_pct"):
        fill_rate([], now=NOW, emptied_drop_pct=0.0)


# --- properties -----------------------------------------------------------------------------------


ZONES = st.sampled_from([dt.UTC, SHANGHAI, zoneinfo.ZoneInfo("America/Los_Angeles")])
ANY_FILL = st.one_of(
    st.floats(min_value=-5.0, max_value=105.0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 100.0, math.nan]),
)


@st.composite
def any_point(draw):
    # Quarter-hour ticks from 20 days before to 2 days after NOW: many duplicates, some outside.
    tick = draw(st.integers(min_value=-2 * 96, max_value=20 * 96))
    return Point((NOW - tick * STEP).astimezone(draw(ZONES)), draw(ANY_FILL))


@settings(max_examples=300, deadline=None)
@given(points=st.lists(any_point(), max_size=400), min_points=st.integers(min_value=2, max_value=10))
def test_property_any_input_gives_none_or_a_finite_non_negative_rate(points, min_points):
    result = fill_rate(points, now=NOW, min_points=min_points)
    if result is not None:
        assert math.isfinite(result.pct_per_day)
        assert result.pct_per_day >= 0.0
        assert result.cycles >= 1
        assert result.points_used >= min_points * result.cycles
        assert result.span_hours >= 6.0 * result.cycles
        crossing = time_to_threshold(fill_pct=50.0, rate=result, threshold_pct=80.0, now=NOW)
        assert crossing is None or NOW <= crossing <= NOW + dt.timedelta(days=365)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=50.0),
    step_minutes=st.integers(min_value=5, max_value=60),
    empty_at=st.floats(min_value=35.0, max_value=95.0),
    residual=st.floats(min_value=0.0, max_value=5.0),
    start_fraction=st.floats(min_value=0.0, max_value=0.99),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_property_linear_fill_between_emptyings_is_recovered_within_5_pct(
    rate, step_minutes, empty_at, residual, start_fraction, seed
):
    rng = random.Random(seed)
    step = dt.timedelta(minutes=step_minutes)
    fill = residual + start_fraction * (empty_at - residual)
    at = NOW - 14 * DAY
    points = []
    while at <= NOW:
        points.append(Point(at, fill))
        gap = step * rng.uniform(0.5, 1.5)  # irregular reporting
        at += gap
        fill += rate * (gap / DAY)
        if fill >= empty_at:  # emptied somewhere within the gap, refilling linearly since
            fill = residual + rate * (gap / DAY) * rng.random()
    result = fill_rate(points, now=NOW)
    assert result is not None
    assert result.pct_per_day == pytest.approx(rate, rel=0.05)
