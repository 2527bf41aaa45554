"""The truck simulator behind ``greenisle simulate_trucks``: the trucks of a day's published trips drive
their planned paths and report over JT/T 808, as real terminals do, to the JT/T 808 listener.

Setting up: :mod:`greenisle.tracking.fleet` reads which trucks drive what (and plans the demo
collector's day when it has none).

Driving (asyncio, one task per truck, :class:`FleetRunner`)
    - A truck connects, registers (0x0100 → 0x8100 auth code) and authenticates (0x0102 → 0x8001) with
      :class:`greenisle.tracking.jt808.terminal.TerminalLink`; every message waits for its answer and is
      resent on timeout (JT/T 808-2019 6.1).
    - Parked at the depot (before its first departure, after its last arrival) it reports its position
      once and then sends heartbeats (0x0002, 8.3). On duty it reports a 0x0200 every ``interval_s``
      simulated seconds, with mileage (attachment 0x01) and, on 2019 terminals, the cabin temperature
      (attachment 0x06, which the 2013 edition does not define). A truck behind its clock (a fast
      replay, slow answers) sends the points that are due in one 0x0704 batch (type 0).
    - A lost connection is re-opened with back-off; the truck authenticates again (registering again if
      its code is refused) and sends the points it could not deliver as 0x0704 type 1, blind-area
      back-fill (盲区补报), before going on.
    - The simulated clock (:class:`motion.SimClock`) replays the part of the day that lies in the past
      ``speed_up`` times faster than real time, and never runs ahead of the wall clock.
    - Without ``follow`` the run ends when every truck is back at its depot; with it, the trucks stay
      parked (heartbeats) and the trips of the day are read again every ``poll_s`` seconds, so a plan
      published later starts its trucks. SIGTERM/SIGINT (the command) end the run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from django.db import close_old_connections
from django.utils import timezone

from greenisle.tracking.fleet import Truck
from greenisle.tracking.jt808 import codec
from greenisle.tracking.jt808.terminal import LinkLost, LinkStats, Refused, TerminalLink
from greenisle.tracking.motion import (
    Phase,
    SimClock,
    cabin_temperature,
)

__all__ = ["FleetConfig", "FleetRunner"]

_log = logging.getLogger("greenisle.tracking.simulator")

#: A 0x0704 body, like every body, is at most 1023 bytes (JT/T 808-2019 4.4.3: body length, bits 0–9).
_BATCH_LIMIT: Final = codec.MAX_BODY_LEN
#: Status bits of the location report (JT/T 808-2019 0x0200 status): ACC on, positioned, GPS, BeiDou, and
#: (2019 only) "vehicle moving".
_ACC_ON, _POSITIONED, _GPS, _BEIDOU, _MOVING = 1 << 0, 1 << 1, 1 << 18, 1 << 19, 1 << 22
# --------------------------------------------------------------------------------------------------------
# Driving


@dataclasses.dataclass(frozen=True)
class FleetConfig:
    """Tunables of a run (the command's options)."""

    host: str = "127.0.0.1"
    port: int = 7808
    speed_up: float = 60.0
    #: Simulated seconds between two location reports on duty.
    interval_s: int = 30
    #: Real seconds between heartbeats when nothing else was sent.
    heartbeat_s: float = 30.0
    #: Simulated seconds the clock starts before the first departure.
    lead_s: float = 300.0
    reply_timeout: float = 5.0
    retries: int = 2
    follow: bool = False
    poll_s: float = 30.0
    report_every: float = 10.0


@dataclasses.dataclass
class TruckState:
    """What the report line says about one truck."""

    truck: Truck
    phase: str = "—"
    points: int = 0
    backfilled: int = 0
    heartbeats: int = 0
    connects: int = 0
    registrations: int = 0
    finished: bool = False
    last_error: str = ""


@dataclasses.dataclass
class FleetReport:
    trucks: int = 0
    points: int = 0
    backfilled: int = 0
    heartbeats: int = 0
    connects: int = 0
    registrations: int = 0
    link: LinkStats = dataclasses.field(default_factory=LinkStats)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["link"] = {k: v for k, v in data["link"].items() if k != "results"}
        return data


def _status(sample_phase: Phase, edition: int) -> int:
    status = _POSITIONED | _GPS | _BEIDOU
    if sample_phase != Phase.PARKED:
        status |= _ACC_ON
    if edition == 2019 and sample_phase in (Phase.DRIVING, Phase.STRAY_DRIVE):
        status |= _MOVING
    return status


def location_body(truck: Truck, at: dt.datetime) -> bytes:
    """The 0x0200 body of ``truck`` at ``at``."""
    sample = truck.itinerary.sample(at)
    edition = truck.identity.edition
    return codec.encode_location_body(
        latitude=sample.latitude,
        longitude=sample.longitude,
        time=at,
        status=_status(sample.phase, edition),
        altitude=5,
        speed_kmh=sample.speed_kmh,
        direction=sample.heading,
        mileage_km=round(truck.odometer_base_km + sample.odometer_km, 1),
        # Attachment 0x06 exists in the 2019 edition only.
        cabin_temp_c=cabin_temperature(truck.itinerary, at, seed=truck.seed) if edition == 2019 else None,
        satellites=14,
    )


def _batches(bodies: Sequence[bytes]) -> list[list[bytes]]:
    """Cut location bodies into 0x0704 bodies that fit (count WORD + type BYTE + length-prefixed items)."""
    out: list[list[bytes]] = []
    size = 3
    for body in bodies:
        if not out or size + 2 + len(body) > _BATCH_LIMIT:
            out.append([])
            size = 3
        out[-1].append(body)
        size += 2 + len(body)
    return out


class FleetRunner:
    """Drives ``trucks`` until they are all back (or, with ``follow``, until ``stop``)."""

    def __init__(
        self,
        trucks: Sequence[Truck],
        config: FleetConfig,
        *,
        log: Callable[[str], None] = _log.info,
        reload: Callable[[], list[Truck]] | None = None,
        wall: Callable[[], dt.datetime] = timezone.now,
    ) -> None:
        self.config = config
        self.log = log
        self.reload = reload
        self.wall = wall
        self.states: dict[uuid.UUID, TruckState] = {t.vehicle_id: TruckState(t) for t in trucks}
        self.link_stats = LinkStats()
        self.clock = self._clock(trucks)
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()

    def _clock(self, trucks: Sequence[Truck]) -> SimClock:
        now = self.wall()
        departures = [t.itinerary.departure or t.itinerary.legs[0].start for t in trucks if t.itinerary.legs]
        start = min(departures, default=now) - dt.timedelta(seconds=self.config.lead_s)
        return SimClock(sim_start=start, real_start=now, speed_up=self.config.speed_up, wall=self.wall)

    def report(self) -> FleetReport:
        report = FleetReport(trucks=len(self.states), link=LinkStats())
        report.link.add(self.link_stats)
        for state in self.states.values():
            report.points += state.points
            report.backfilled += state.backfilled
            report.heartbeats += state.heartbeats
            report.connects += state.connects
            report.registrations += state.registrations
        return report

    async def run(self, stop: asyncio.Event | None = None) -> FleetReport:
        if stop is not None:
            self._stop = stop
        for state in self.states.values():
            self._start(state)
        for state in self.states.values():
            truck = state.truck
            stray = f", 偏离 strays at leg {truck.stray.leg + 1}" if truck.stray else ""
            self.log(
                f"{truck.plate}: JT/T 808-{truck.identity.edition} 终端 phone {truck.identity.phone}, "
                f"{len(truck.trip_ids)} trip(s), {truck.itinerary.km:.1f} km, leaves "
                f"{_local(truck.itinerary.departure)}, back {_local(truck.itinerary.arrival)}{stray}"
            )
        self.log(
            f"模拟时钟 / simulated clock from {_local(self.clock.sim_start)} ×{self.config.speed_up:g} "
            f"(never ahead of the wall clock) → {self.config.host}:{self.config.port}"
        )
        reporter = asyncio.create_task(self._report_every())
        poller = asyncio.create_task(self._poll_every()) if self.config.follow and self.reload else None
        try:
            while not self._stop.is_set():
                if not self.config.follow and all(s.finished for s in self.states.values()):
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 0.5)
        finally:
            self._stop.set()
            for task in (reporter, poller):
                if task is not None:
                    task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            if poller is not None:
                await asyncio.gather(poller, return_exceptions=True)
            await asyncio.gather(reporter, return_exceptions=True)
        return self.report()

    def _start(self, state: TruckState) -> None:
        self._tasks[state.truck.vehicle_id] = asyncio.create_task(self._drive(state))

    async def _sleep(self, seconds: float) -> bool:
        """Sleep, or return True at once when stopping."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    async def _login(self, state: TruckState, code: str | None) -> tuple[TerminalLink, str]:
        truck = state.truck
        link = await TerminalLink.connect(
            self.config.host,
            self.config.port,
            identity=truck.identity,
            reply_timeout=self.config.reply_timeout,
            retries=self.config.retries,
        )
        state.connects += 1
        try:
            if code is not None:
                try:
                    await link.authenticate(code)
                    return link, code
                except Refused:
                    code = None  # the code was withdrawn: register again
            code = await link.register()
            state.registrations += 1
            await link.authenticate(code)
            return link, code
        except BaseException:
            self.link_stats.add(link.stats)
            await link.close()
            raise

    async def _drive(self, state: TruckState) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        link: TerminalLink | None = None
        code: str | None = None
        backlog: list[bytes] = []
        last: dt.datetime | None = None
        parked_reported = False
        backoff = 1.0
        activity = loop.time()
        try:
            while not self._stop.is_set():
                truck = state.truck
                itinerary = truck.itinerary
                try:
                    if link is None:
                        link, code = await self._login(state, code)
                        backoff = 1.0
                        activity = loop.time()
                        for batch in _batches(backlog):
                            await link.batch(batch, kind=1)  # 盲区补报: what the link loss kept back
                            state.backfilled += len(batch)
                        backlog = []
                    now = self.clock.now().replace(microsecond=0)
                    if not parked_reported and not itinerary.on_duty(now):
                        # Parked: one position, then heartbeats.
                        await link.location(location_body(truck, now))
                        state.points += 1
                        parked_reported = True
                        activity = loop.time()
                    due: list[dt.datetime] = []
                    upcoming = itinerary.next_report(last, config.interval_s)
                    while upcoming is not None and upcoming <= now and len(due) < 200:
                        due.append(upcoming)
                        upcoming = itinerary.next_report(upcoming, config.interval_s)
                    state.phase = str(itinerary.sample(now).phase)
                    if due:
                        bodies = [location_body(truck, at) for at in due]
                        try:
                            if len(bodies) == 1:
                                result = await link.location(bodies[0])
                            else:
                                result = 0
                                for batch in _batches(bodies):
                                    result = max(result, await link.batch(batch))
                        except LinkLost:
                            backlog.extend(bodies)
                            last = due[-1]
                            raise
                        last = due[-1]
                        state.points += len(bodies)
                        activity = loop.time()
                        if result == 1:
                            # Not authenticated (the platform restarted or replaced the session).
                            backlog.extend(bodies)
                            raise LinkLost("reports refused as unauthenticated")
                        # The last report of a stretch on duty is the truck back at its depot.
                        parked_reported = True
                        continue
                    if upcoming is None and not config.follow:
                        state.finished = True
                        state.phase = str(Phase.PARKED)
                        break
                    wait = config.heartbeat_s - (loop.time() - activity)
                    if upcoming is not None:
                        wait = min(wait, self.clock.seconds_until(upcoming))
                    else:
                        wait = min(wait, 5.0)  # following: a new trip may come
                    if await self._sleep(max(0.0, wait)):
                        break
                    if loop.time() - activity >= config.heartbeat_s:
                        await link.heartbeat()
                        state.heartbeats += 1
                        activity = loop.time()
                except (LinkLost, Refused) as exc:
                    state.last_error = str(exc)
                    self.log(f"{truck.plate}: {exc}; 重连 / reconnecting in {backoff:.0f} s")
                    if link is not None:
                        self.link_stats.add(link.stats)
                        await link.close()
                        link = None
                    if await self._sleep(backoff):
                        break
                    backoff = min(backoff * 2, 30.0)
        finally:
            if link is not None:
                self.link_stats.add(link.stats)
                await link.close()

    async def _poll_every(self) -> None:
        assert self.reload is not None
        while not await self._sleep(self.config.poll_s):
            try:
                trucks = await asyncio.to_thread(self._reload)
            except Exception as exc:  # noqa: BLE001 - a busy database is tried again at the next poll
                self.log(f"读取出车任务失败 / could not read the trips: {exc}")
                continue
            for truck in trucks:
                state = self.states.get(truck.vehicle_id)
                if state is None:
                    state = TruckState(truck)
                    self.states[truck.vehicle_id] = state
                    self._start(state)
                    self.log(
                        f"{truck.plate}: 新出车任务 / new trip(s), leaves {_local(truck.itinerary.departure)}"
                    )
                elif state.truck.trip_ids != truck.trip_ids:
                    # Same terminal, new day's work.
                    state.truck = dataclasses.replace(truck, identity=state.truck.identity)
                    self.log(f"{truck.plate}: 出车任务已更新 / trips changed")

    def _reload(self) -> list[Truck]:
        assert self.reload is not None
        close_old_connections()
        try:
            return self.reload()
        finally:
            close_old_connections()

    async def _report_every(self) -> None:
        previous = 0
        while not await self._sleep(self.config.report_every):
            report = self.report()
            phases: dict[str, int] = {}
            for state in self.states.values():
                phases[state.phase] = phases.get(state.phase, 0) + 1
            self.log(
                f"{_local(self.clock.now())} · "
                + " ".join(f"{phase} {count}" for phase, count in sorted(phases.items()))
                + f" · points {report.points} (+{report.points - previous}) · back-fill {report.backfilled}"
                f" · heartbeats {report.heartbeats} · connects {report.connects}"
            )
            previous = report.points


def _local(value: dt.datetime | None) -> str:
    return "—" if value is None else timezone.localtime(value).strftime("%m-%d %H:%M:%S")
