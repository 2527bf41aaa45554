"""The smart-bin simulator behind ``greenisle simulate_bins``: bins fill up and report over HTTP.

No ORM here: the command reads the starting fills and, each tick, which bins have been collected,
and hands them in. Each tick posts one reading for a batch of bins to ``POST /api/v1/readings``
(header ``X-Device-Key``; 201 accepted, 200 duplicate). A bin fills by a few percent per reading
until it is full; once its pickup request is *collected* (the producer signed the manifest), its
next reading is ~3 %, which is what closes the request on the server.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
READINGS_PATH = "/api/v1/readings"
USER_AGENT = "greenisle-bin-simulator/1"
# (connect, read) seconds: a server that does not answer must not stall a tick for long.
TIMEOUT = (3.05, 10.0)


@dataclass
class SimulatedBin:
    """One bin as the simulator knows it: its key and what it last reported."""

    serial: str
    key: str
    capacity_kg: float
    threshold_pct: float
    fill_pct: float
    sequence: int
    battery_pct: float


@dataclass
class TickResult:
    """What one tick did, for the log line."""

    sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    emptied: int = 0
    crossed: int = 0
    connection_error: str = ""
    first_rejection: str = ""
    serials_posted: list[str] = field(default_factory=list)


class Simulator:
    """Round-robin over the bins, ``batch`` per tick; collected bins go first and report empty."""

    def __init__(
        self,
        *,
        bins: Sequence[SimulatedBin],
        base_url: str,
        batch: int,
        rng: random.Random | None = None,
        session: Any = None,
        clock: Callable[[], dt.datetime] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.bins = list(bins)
        self.url = base_url.rstrip("/") + READINGS_PATH
        self.batch = batch
        self.rng = rng or random.Random()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.clock = clock or (lambda: dt.datetime.now(CHINA))
        self.should_stop = should_stop
        self._next = 0
        self._by_serial = {b.serial: b for b in self.bins}

    def choose(self, collected: Collection[str]) -> list[tuple[SimulatedBin, bool]]:
        """This tick's bins: every collected one (emptied at once, so the loop closes while you watch),
        then the next ones in turn."""
        chosen = [(self._by_serial[s], True) for s in sorted(collected) if s in self._by_serial][: self.batch]
        taken = {b.serial for b, _ in chosen}
        for _ in range(len(self.bins)):
            if len(chosen) >= self.batch:
                break
            candidate = self.bins[self._next]
            self._next = (self._next + 1) % len(self.bins)
            if candidate.serial not in taken:
                chosen.append((candidate, False))
                taken.add(candidate.serial)
        return chosen

    def next_fill(self, device: SimulatedBin, *, emptied: bool) -> float:
        if emptied:
            return round(self.rng.uniform(2.0, 4.0), 1)
        return round(min(100.0, device.fill_pct + self.rng.uniform(1.5, 6.0)), 1)

    def payload(self, device: SimulatedBin, fill: float, *, emptied: bool) -> dict[str, Any]:
        """The reading in the HTTP JSON contract (observed_at with the +08:00 offset devices send)."""
        battery = device.battery_pct - self.rng.uniform(0.0, 0.2)
        if battery < 20:
            battery = 100.0  # the maintenance round swapped the pack
        return {
            "observed_at": self.clock().isoformat(timespec="milliseconds"),
            "fill_pct": fill,
            "net_weight_kg": round(device.capacity_kg * fill / 100 * self.rng.uniform(0.85, 1.0), 1),
            "temperature_c": round(min(45.0, max(-5.0, self.rng.gauss(22.0, 4.0))), 1),
            "door_open": (not emptied) and self.rng.random() < 0.03,
            "battery_pct": round(battery, 1),
            "sequence": device.sequence + 1,
        }

    def tick(self, collected: Collection[str] = ()) -> TickResult:
        """Post one reading per chosen bin. A connection error ends the tick (the server is down: the
        rest would fail the same way); the bins not posted keep their fill and go again later."""
        result = TickResult()
        for device, emptied in self.choose(collected):
            if self.should_stop():
                break
            fill = self.next_fill(device, emptied=emptied)
            body = self.payload(device, fill, emptied=emptied)
            try:
                response = self.session.post(
                    self.url, json=body, headers={"X-Device-Key": device.key}, timeout=TIMEOUT
                )
            except requests.RequestException as exc:
                result.connection_error = _short(exc)
                break
            # Any answer means the server saw this sequence number: never send it again.
            device.sequence += 1
            result.sent += 1
            result.serials_posted.append(device.serial)
            if response.status_code in (200, 201):
                if response.status_code == 201:
                    result.accepted += 1
                else:
                    result.duplicate += 1
                if emptied:
                    result.emptied += 1
                elif device.fill_pct < device.threshold_pct <= fill:
                    result.crossed += 1
                device.fill_pct = fill
                device.battery_pct = body["battery_pct"]
            else:
                result.rejected += 1
                if not result.first_rejection:
                    result.first_rejection = (
                        f"{device.serial}: HTTP {response.status_code} {response.text[:200]}"
                    )
        return result


def _short(exc: requests.RequestException) -> str:
    """requests' messages repeat the whole pool state; the innermost reason is what helps."""
    reason: BaseException = exc
    while reason.__context__ is not None and reason.__context__ is not reason:
        reason = reason.__context__
    text = str(reason) or type(reason).__name__
    return f"{type(exc).__name__}: {text[:160]}"
