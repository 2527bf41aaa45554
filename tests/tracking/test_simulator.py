"""The truck simulator end to end: ``greenisle simulate_trucks`` against a real JT/T 808 listener on a free
loopback port, the points it stores, and the alerts a stray truck raises at the next sweep.

Transactional: the listener runs in a thread with its own database connection and must see the trips and
terminals the test commits, as the test must see the points it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from greenisle.audit.models import Event
from greenisle.dispatch.planning import day_origin
from greenisle.tracking.fleet import fleet_load, phone_for_plate
from greenisle.tracking.jt808 import codec
from greenisle.tracking.jt808.terminal import Refused, TerminalIdentity, TerminalLink
from greenisle.tracking.models import ProtocolVersion, Terminal, TrackPoint, TruckAlert
from greenisle.tracking.server import ListenerThread, config_from_settings, run
from greenisle.tracking.services import truck_alerts_sweep
from greenisle.tracking.simulator import FleetConfig, FleetRunner
from tracking.factories import fleet_truck, planned_trip

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def listener(db: None) -> Any:
    thread = ListenerThread(config_from_settings(host="127.0.0.1", port=0, stats_interval=0))
    port = thread.start()
    yield port
    thread.stop()


@pytest.fixture
def day() -> dt.date:
    # Two days ago: the whole trip lies in the past and is replayed as fast as the speed-up allows.
    return timezone.localdate() - dt.timedelta(days=2)


@pytest.fixture
def fleet(collector: Any, day: dt.date) -> tuple[Any, Any]:
    strays = fleet_truck(collector)
    steady = fleet_truck(collector, depot=strays.depot)
    planned_trip(strays, day=day, start=dt.time(9, 0))
    planned_trip(steady, day=day, start=dt.time(9, 30), unload_after=1)
    return strays, steady


def test_trucks_drive_their_trips_over_jt808_and_the_stray_raises_alerts(
    listener: int, fleet: tuple[Any, Any], day: dt.date
) -> None:
    strays, steady = fleet
    out = io.StringIO()
    call_command(
        "simulate_trucks",
        date=day,
        host="127.0.0.1",
        port=listener,
        speed_up=7200,
        interval=30,
        stray=strays.plate,
        report_every=60,
        stdout=out,
    )
    log = out.getvalue()
    assert "stopped" in log

    # Each truck got a terminal bound to it, numbered from its plate, and registered over TCP: the first
    # (by plate) as a 2019 terminal, the second as a 2013 one.
    first, second = Terminal.objects.filter(vehicle__in=fleet).order_by("vehicle__plate")
    assert first.vehicle == strays and first.phone == phone_for_plate(strays.plate)
    assert (
        first.protocol_version == ProtocolVersion.V2019 and second.protocol_version == ProtocolVersion.V2013
    )
    assert first.registered_at is not None and second.imei == ""
    assert Event.objects.filter(action="tracking.terminal.created").count() == 2
    assert Event.objects.filter(action="tracking.terminal.registered").count() == 2

    # Every report of the day was stored: a point every 30 simulated seconds from departure to arrival.
    origin = day_origin(day)
    for vehicle in fleet:
        points = list(TrackPoint.objects.filter(vehicle=vehicle).order_by("recorded_at"))
        assert len(points) > 150
        assert points[0].recorded_at < points[1].recorded_at
        assert all(origin < p.recorded_at < origin + dt.timedelta(hours=14) for p in points)
        assert all(p.mileage_km is not None and p.mileage_km > 8000 for p in points)
        assert not any(p.backfill for p in points)
        gaps = [
            (b.recorded_at - a.recorded_at).total_seconds()
            for a, b in zip(points[1:], points[2:], strict=False)
        ]
        assert max(gaps) <= 30
    # Cabin temperature is a 2019 attachment.
    assert TrackPoint.objects.filter(vehicle=strays, cabin_temp_c__isnull=False).exists()
    assert not TrackPoint.objects.filter(vehicle=steady, cabin_temp_c__isnull=False).exists()

    report = truck_alerts_sweep(now=origin + dt.timedelta(hours=15))
    assert report.trucks == 2
    kinds = set(TruckAlert.objects.filter(vehicle=strays).values_list("kind", flat=True))
    assert {"off_route", "unplanned_stop", "cabin_hot"} <= kinds
    assert not TruckAlert.objects.filter(vehicle=steady).exists()
    assert not TruckAlert.objects.open().exists()  # the stray is over: every alert cleared
    assert Event.objects.filter(action="tracking.truck_alert.opened").count() == len(kinds)


def test_an_unknown_terminal_is_refused_on_register(listener: int) -> None:
    async def main() -> int:
        identity = TerminalIdentity(phone="14000000001", edition=2019, plate="苏F99999")
        link = await TerminalLink.connect("127.0.0.1", listener, identity=identity, reply_timeout=5)
        try:
            await link.register()
        except Refused as exc:
            return exc.result
        finally:
            await link.close()
        return -1

    assert run(main()) == 4  # JT/T 808-2019 8.9: no such terminal


class DroppingProxy:
    """A loopback TCP relay that, on its first connection, closes both sides instead of forwarding the
    client's ``drop_at``-th chunk (a radio link lost in a tunnel)."""

    def __init__(self, upstream: int, drop_at: int) -> None:
        self.upstream = upstream
        self.drop_at = drop_at
        self.connections = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _pipe(self, reader: Any, writer: Any, count: list[int] | None) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if count is not None:
                    count[0] += 1
                    if count[0] == self.drop_at:
                        break
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: Any, writer: Any) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        count = [0] if self.connections == 1 else None
        client = asyncio.ensure_future(self._pipe(reader, up_writer, count))
        server = asyncio.ensure_future(self._pipe(up_reader, writer, None))
        await asyncio.wait([client, server], return_when=asyncio.FIRST_COMPLETED)
        writer.close()
        up_writer.close()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


def test_points_held_back_by_a_lost_link_are_sent_as_blind_area_backfill(
    listener: int, fleet: tuple[Any, Any], day: dt.date
) -> None:
    strays, _steady = fleet
    trucks = [t for t in fleet_load(day=day, speed_kmh=27, stray="none") if t.vehicle_id == strays.pk]
    with DroppingProxy(listener, drop_at=8) as proxy:
        config = FleetConfig(host="127.0.0.1", port=proxy.port, speed_up=7200, interval_s=30, report_every=60)
        runner = FleetRunner(trucks, config, log=lambda message: None)
        report = run(runner.run())
    assert proxy.connections == 2
    assert report.connects == 2 and report.registrations == 1  # authenticated again with its code
    assert report.backfilled > 0
    stored = TrackPoint.objects.filter(vehicle=strays)
    assert stored.filter(backfill=True).count() == report.backfilled
    # Nothing was lost: a point every 30 s from departure to arrival.
    times = list(stored.order_by("recorded_at").values_list("recorded_at", flat=True))
    assert max((b - a).total_seconds() for a, b in zip(times[1:], times[2:], strict=False)) <= 30


def test_batches_of_due_points_fit_the_body_limit(fleet: tuple[Any, Any], day: dt.date) -> None:
    from greenisle.tracking.simulator import _batches, location_body

    trucks = fleet_load(day=day, speed_kmh=27, stray="none")
    truck = trucks[0]
    start = truck.itinerary.departure
    assert start is not None
    bodies = [location_body(truck, start + dt.timedelta(seconds=30 * i)) for i in range(100)]
    for batch in _batches(bodies):
        assert len(codec.encode_location_batch_body(batch)) <= codec.MAX_BODY_LEN


def test_a_trip_assigned_by_hand_starts_now_and_a_trip_already_collected_is_not_driven(
    collector: Any,
) -> None:
    from greenisle.dispatch.choices import RequestStatus
    from greenisle.dispatch.models import PickupRequest, Trip

    today = timezone.localdate()
    by_hand = fleet_truck(collector)
    done = fleet_truck(collector, depot=by_hand.depot)
    trip = planned_trip(by_hand, day=today, start=dt.time(9, 0))
    Trip.objects.filter(pk=trip.pk).update(plan=None, planned_start_at=None, planned_end_at=None)
    finished = planned_trip(done, day=today, start=dt.time(9, 30))
    PickupRequest.objects.filter(stop__trip=finished).update(status=RequestStatus.COLLECTED)
    before = timezone.now()
    trucks = fleet_load(day=today, speed_kmh=27, stray="none")
    assert [t.vehicle_id for t in trucks] == [by_hand.pk]
    assert trucks[0].itinerary.departure >= before


def test_a_trip_assigned_by_hand_does_not_stand_for_the_days_plan(world: Any, trip: Any) -> None:
    from greenisle.tracking.fleet import demo_plan_ensure

    said: list[str] = []
    collector = demo_plan_ensure(
        username=world.dispatcher.username, day=timezone.localdate(), log=said.append
    )
    assert collector == world.collector.pk
    # It went on to look for requests to plan (all are on the hand-assigned trip already).
    assert any("nothing to plan" in line for line in said), said
