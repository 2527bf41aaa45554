"""The simulator's bin model: how a smart bin fills, is emptied and misbehaves. Pure Python, no I/O.

Two clocks
    *Wall-clock time* (``now``, an aware datetime) is what every reading carries as ``observed_at``, and
    what the platform's rules about time passing are judged on: readings more than ten minutes in the
    future are refused, a bin is offline after missed reporting intervals, a door open longer than the
    limit raises an alert, and a reading is stored once per (bin, ``observed_at``). Fault durations and
    the daily temperature cycle therefore follow the wall clock too.

    *Simulated time* runs ``speed`` times faster (default 720: one simulated day per two real minutes)
    and drives only what accumulates: waste (each bin's own rate, 2–15 % a day) and battery drain. A
    bin that reports every two real minutes thus reports a simulated day's waste each time: the demo
    visibly moves while every timestamp is true. The price: the platform's fill-rate forecast, which
    reads the readings against their real timestamps, sees rates ``speed`` times the daily ones (run
    with ``--speed 1`` for true-to-life forecasts).

    A bin's fill clock starts at its first reading of this run, not at its last stored reading, so a
    demo restarted hours later does not fill every bin at once.

Readings
    The reported fill is the true level plus bounded noise (±2 %, most within ±1 %); the net weight
    follows from the capacity and the bin's own bulk density; the temperature is the bin's base plus a
    daily cycle (wall clock) and noise; the door is briefly open now and then (someone dropping waste
    off, closed by the next reading). A bin whose pickup request was collected is emptied to 2–5 %.

Faults
    With probability ``fault_probability`` per reading (``--faults``), a bin without a fault starts one,
    each kind equally likely (:data:`FAULT_KINDS`): one reading flagged ``D`` (instrument fault, values
    kept: the platform does not ignore flagged values, so a bogus low fill would close a request), a
    temperature spike over the alert limit for 1–3 readings, a door left open longer than the alert
    limit (1.2–2 × ``DOOR_OPEN_LIMIT_S``), the bin going silent for longer than it takes to be marked
    offline (1.1–1.5 × missed intervals × its reporting interval) and one bad packet in place of a
    reading: malformed JSON or an out-of-range value over HTTP and MQTT, a bad CRC or a garbled frame
    over HJ 212. An emptied bin's next reading is never a fault: it is what closes the request.

Pacing
    :class:`Pacer` releases ``rate`` readings a second (a token bucket); :class:`RoundRobin` hands them
    to the bins in turn, emptied bins first, silent ones skipped without using up a reading.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "BAD_PACKETS",
    "CHINA",
    "DEFAULT_SPEED",
    "FAULT_KINDS",
    "BadPacket",
    "Emission",
    "Fault",
    "FillModel",
    "Pacer",
    "RoundRobin",
    "SimBin",
    "SimReading",
]

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
DEFAULT_SPEED = 720.0  # one simulated day per two real minutes
DAY_S = 86_400.0

# Per-bin parameters, drawn once per bin.
FILL_RATE_PCT_PER_DAY = (2.0, 15.0)
BULK_DENSITY_SHARE = (0.85, 1.0)  # net weight at 100 % as a share of the weight capacity
TEMPERATURE_BASE_C = (16.0, 26.0)
TEMPERATURE_DAILY_AMPLITUDE_C = 3.0  # warmest at 15:00, coldest at 03:00 (wall clock)
BATTERY_DRAIN_PCT_PER_DAY = (0.3, 0.8)
BATTERY_SWAP_BELOW_PCT = 20.0
# Per reading.
FILL_NOISE_PCT = 2.0  # bounded: triangular over ±2 %, so most readings are within ±1 %
EMPTIED_PCT = (2.0, 5.0)
DOOR_BRIEFLY_OPEN = 0.02
HOT_READINGS = (1, 3)
HOT_OVER_LIMIT_C = (1.0, 17.0)
DOOR_FAULT_TIMES_LIMIT = (1.2, 2.0)
SILENT_TIMES_OFFLINE = (1.1, 1.5)


class Fault(enum.StrEnum):
    QUALITY = "quality"  # one reading flagged D
    HOT = "hot"  # temperature over the limit for 1–3 readings
    DOOR = "door"  # door left open longer than the alert limit
    SILENT = "silent"  # nothing sent for longer than the offline limit
    BAD_PACKET = "bad_packet"  # one broken packet instead of a reading


FAULT_KINDS: tuple[Fault, ...] = tuple(Fault)


class BadPacket(enum.StrEnum):
    MALFORMED_JSON = "malformed_json"
    OUT_OF_RANGE = "out_of_range"
    BAD_CRC = "bad_crc"
    GARBLED = "garbled"


BAD_PACKETS: dict[str, tuple[BadPacket, ...]] = {
    "http": (BadPacket.MALFORMED_JSON, BadPacket.OUT_OF_RANGE),
    "mqtt": (BadPacket.MALFORMED_JSON, BadPacket.OUT_OF_RANGE),
    "hj212": (BadPacket.BAD_CRC, BadPacket.GARBLED),
}


@dataclass
class SimBin:
    """One simulated bin: what it is, how it fills, how it reports, and its fault state."""

    serial: str
    transport: str
    capacity_kg: float
    threshold_pct: float
    fill_pct: float  # the true level
    battery_pct: float = 100.0
    reporting_interval_s: int = 900
    sequence: int = 0
    # Drawn by FillModel.new_bin.
    rate_pct_per_day: float = 5.0
    density_share: float = 0.9
    temperature_base_c: float = 20.0
    battery_drain_pct_per_day: float = 0.5
    # Credentials (raw), as the transports need them.
    key: str = ""
    mqtt_username: str = ""
    hj212_mn: str = ""
    hj212_pw: str = ""
    hj212_crc_mode: str = "standard"
    # Running state.
    clock: dt.datetime | None = None  # wall time the fill was last brought up to date
    last_observed: dt.datetime | None = None
    reported_fill: float | None = None  # the last fill reported with a normal reading
    fault: Fault | None = None
    fault_until: dt.datetime | None = None
    fault_readings: int = 0
    emptied_pending: bool = False


@dataclass(frozen=True)
class SimReading:
    """One reading as the bin sends it; ``observed_at`` is wall-clock time in UTC+8."""

    observed_at: dt.datetime
    fill_pct: float
    net_weight_kg: float
    temperature_c: float
    door_open: bool
    battery_pct: float
    sequence: int
    quality: str = "N"


@dataclass(frozen=True)
class Emission:
    """What a bin does when its turn comes: a reading, a bad packet in its place, or nothing (silent)."""

    bin: SimBin
    reading: SimReading | None
    bad: BadPacket | None = None
    fault: Fault | None = None  # a fault that started with this emission
    crossed: bool = False  # a normal reading that took the reported fill over the threshold
    emptied: bool = False  # the first reading after the bin was emptied


@dataclass
class FillModel:
    """Advances bins through time and decides their readings. All randomness comes from ``rng``."""

    rng: random.Random = field(default_factory=random.Random)
    speed: float = DEFAULT_SPEED
    fault_probability: float = 0.0
    door_open_limit_s: float = 900.0
    offline_missed_intervals: int = 3
    temperature_limit_c: float = 45.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be > 0")
        if not 0.0 <= self.fault_probability <= 1.0:
            raise ValueError("fault probability must be within 0–1")

    def new_bin(self, **fields: object) -> SimBin:
        """A bin with its own fill rate, bulk density, base temperature and battery drain."""
        rng = self.rng
        drawn = {
            "rate_pct_per_day": round(rng.uniform(*FILL_RATE_PCT_PER_DAY), 2),
            "density_share": round(rng.uniform(*BULK_DENSITY_SHARE), 3),
            "temperature_base_c": round(rng.uniform(*TEMPERATURE_BASE_C), 1),
            "battery_drain_pct_per_day": round(rng.uniform(*BATTERY_DRAIN_PCT_PER_DAY), 2),
        }
        return SimBin(**{**drawn, **fields})  # type: ignore[arg-type]

    # -- time ----------------------------------------------------------------------------------

    def advance(self, b: SimBin, now: dt.datetime) -> None:
        """Bring the true fill and the battery up to ``now`` (simulated time = real time × speed)."""
        if b.clock is None or now <= b.clock:
            b.clock = now if b.clock is None else b.clock
            return
        days = (now - b.clock).total_seconds() * self.speed / DAY_S
        b.clock = now
        b.fill_pct = min(100.0, b.fill_pct + b.rate_pct_per_day * days)
        b.battery_pct -= b.battery_drain_pct_per_day * days
        if b.battery_pct < BATTERY_SWAP_BELOW_PCT:
            b.battery_pct = 100.0  # the maintenance round swapped the pack

    def empty(self, b: SimBin, now: dt.datetime) -> None:
        """The collector took the waste: 2–5 % is left, and the next reading says so."""
        self.advance(b, now)
        b.fill_pct = round(self.rng.uniform(*EMPTIED_PCT), 1)
        b.emptied_pending = True
        if b.fault in (Fault.HOT, Fault.QUALITY, Fault.BAD_PACKET):
            b.fault, b.fault_readings = None, 0

    def silent(self, b: SimBin, now: dt.datetime) -> bool:
        """Whether the bin is in a silent spell (ended spells are cleared here)."""
        if b.fault is not Fault.SILENT:
            return False
        if b.fault_until is not None and now < b.fault_until:
            return True
        b.fault, b.fault_until = None, None
        return False

    def observed_at(self, b: SimBin, now: dt.datetime) -> dt.datetime:
        """``now`` in UTC+8 at the transport's resolution, always after the bin's previous reading.

        HJ 212's DataTime has whole seconds, JSON times milliseconds. A bin reporting more often than
        that would otherwise send two readings with the same time, and the second would be a duplicate.
        """
        step = dt.timedelta(seconds=1) if b.transport == "hj212" else dt.timedelta(milliseconds=1)
        local = now.astimezone(CHINA)
        local = local.replace(microsecond=0 if b.transport == "hj212" else local.microsecond // 1000 * 1000)
        if b.last_observed is not None and local <= b.last_observed:
            local = b.last_observed + step
        b.last_observed = local
        return local

    # -- readings ------------------------------------------------------------------------------

    def _start_fault(self, b: SimBin, now: dt.datetime) -> Fault:
        rng = self.rng
        kind = rng.choice(FAULT_KINDS)
        b.fault, b.fault_until, b.fault_readings = kind, None, 0
        if kind is Fault.HOT:
            b.fault_readings = rng.randint(*HOT_READINGS)
        elif kind is Fault.DOOR:
            seconds = self.door_open_limit_s * rng.uniform(*DOOR_FAULT_TIMES_LIMIT)
            b.fault_until = now + dt.timedelta(seconds=seconds)
        elif kind is Fault.SILENT:
            offline_after = self.offline_missed_intervals * b.reporting_interval_s
            b.fault_until = now + dt.timedelta(seconds=offline_after * rng.uniform(*SILENT_TIMES_OFFLINE))
        else:
            b.fault_readings = 1
        return kind

    def _temperature(self, b: SimBin, now: dt.datetime) -> float:
        local = now.astimezone(CHINA)
        hours = local.hour + local.minute / 60
        daily = TEMPERATURE_DAILY_AMPLITUDE_C * math.sin((hours - 9.0) / 24.0 * 2 * math.pi)
        value = b.temperature_base_c + daily + self.rng.gauss(0.0, 0.6)
        return round(min(self.temperature_limit_c - 3.0, max(-10.0, value)), 1)

    def emit(self, b: SimBin, now: dt.datetime) -> Emission:
        """The bin's turn at wall time ``now``: advance it, maybe start a fault, and say what it sends."""
        rng = self.rng
        self.advance(b, now)
        if self.silent(b, now):
            return Emission(bin=b, reading=None)
        if b.fault is Fault.DOOR and (b.fault_until is None or now >= b.fault_until):
            b.fault, b.fault_until = None, None  # someone finally closed it
        started: Fault | None = None
        if b.fault is None and not b.emptied_pending and rng.random() < self.fault_probability:
            started = self._start_fault(b, now)
            if started is Fault.SILENT:
                return Emission(bin=b, reading=None, fault=started)

        noise = rng.triangular(-FILL_NOISE_PCT, FILL_NOISE_PCT, 0.0)
        fill = round(min(100.0, max(0.0, b.fill_pct + noise)), 1)
        weight = round(b.capacity_kg * b.fill_pct / 100 * b.density_share * rng.uniform(0.99, 1.01), 1)
        temperature = self._temperature(b, now)
        door_open = rng.random() < DOOR_BRIEFLY_OPEN
        quality = "N"
        bad: BadPacket | None = None
        if b.fault is Fault.HOT:
            temperature = round(self.temperature_limit_c + rng.uniform(*HOT_OVER_LIMIT_C), 1)
        elif b.fault is Fault.DOOR:
            door_open = True
        elif b.fault is Fault.QUALITY:
            quality = "D"
        elif b.fault is Fault.BAD_PACKET:
            bad = rng.choice(BAD_PACKETS[b.transport])
        if b.fault in (Fault.HOT, Fault.QUALITY, Fault.BAD_PACKET):
            b.fault_readings -= 1
            if b.fault_readings <= 0:
                b.fault, b.fault_readings = None, 0
        emptied = b.emptied_pending
        if emptied:
            door_open = False  # the collector closed it behind them
            b.emptied_pending = False

        b.sequence += 1
        reading = SimReading(
            observed_at=self.observed_at(b, now),
            fill_pct=fill,
            net_weight_kg=max(0.0, weight),
            temperature_c=temperature,
            door_open=door_open,
            battery_pct=round(max(0.0, min(100.0, b.battery_pct)), 1),
            sequence=b.sequence,
            quality=quality,
        )
        crossed = False
        if bad is None:
            previous = b.reported_fill
            crossed = previous is not None and previous < b.threshold_pct <= fill
            b.reported_fill = fill
        return Emission(bin=b, reading=reading, bad=bad, fault=started, crossed=crossed, emptied=emptied)


class Pacer:
    """A token bucket: ``rate`` readings a second, never more than ``burst`` at once.

    ``due(t)`` is called with a monotonic time and returns how many readings may go now.
    """

    def __init__(self, rate: float, *, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self.tokens = 0.0
        self.last: float | None = None

    def due(self, t: float) -> int:
        if self.last is None:
            self.last = t
            self.tokens = 1.0  # the first reading goes at once
        else:
            self.tokens = min(self.burst, self.tokens + (t - self.last) * self.rate)
            self.last = t
        count = int(self.tokens)
        self.tokens -= count
        return count


class RoundRobin:
    """Hands out turns: bins pushed to the front first (emptied ones), then every bin in order.

    Silent bins are skipped without using up a turn; a bin may get several turns in one call when
    there are more readings due than bins.
    """

    def __init__(self, bins: Sequence[SimBin]) -> None:
        self.bins = list(bins)
        self._next = 0
        self._front: deque[SimBin] = deque()

    def push_front(self, b: SimBin) -> None:
        if b not in self._front:
            self._front.append(b)

    def take(self, count: int, skip: Callable[[SimBin], bool] = lambda b: False) -> list[SimBin]:
        chosen: list[SimBin] = []
        waiting: list[SimBin] = []
        while self._front and len(chosen) < count:
            b = self._front.popleft()
            (waiting if skip(b) else chosen).append(b)
        self._front.extend(waiting)
        misses = 0
        while self.bins and len(chosen) < count and misses < len(self.bins):
            b = self.bins[self._next]
            self._next = (self._next + 1) % len(self.bins)
            if skip(b):
                misses += 1
                continue
            misses = 0
            chosen.append(b)
        return chosen


def fault_counts(emissions: Iterable[Emission]) -> dict[str, int]:
    """How many faults of each kind started (for tests and summaries)."""
    counts = {kind.value: 0 for kind in FAULT_KINDS}
    for emission in emissions:
        if emission.fault is not None:
            counts[emission.fault.value] += 1
    return counts
