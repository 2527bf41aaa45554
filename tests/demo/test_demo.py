"""The Nantong demo: the smart-bin simulator's pure core, and a small demo load end to end.

The simulator runs against a fake HTTP session and a fake clock (no server, no sleeping). The load
test writes a 30-producer demo into the test database and checks what the demo promises: valid
registry identifiers, sites inside Nantong, bins with catalogue codes, contracted producers, the
printed logins, an idempotent second run and an intact audit chain.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import stat
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.core.management import call_command

from greenisle.accounts.choices import Role
from greenisle.accounts.models import Membership, User
from greenisle.audit.models import Event
from greenisle.audit.services import chain_verify
from greenisle.catalog.models import WasteCode
from greenisle.demo import nantong
from greenisle.demo.loading import DemoSummary, demo_is_loaded, demo_load, demo_logins, keys_path
from greenisle.demo.simulation import CHINA, READINGS_PATH, TIMEOUT, USER_AGENT, SimulatedBin, Simulator
from greenisle.devices.models import Bin, hash_device_key
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest, Vehicle
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.identifiers import validate_uscc
from greenisle.organizations.models import Licence, Organization, ServiceContract, Site
from greenisle.telemetry.api import ReadingPayload
from greenisle.telemetry.models import Reading
from greenisle.telemetry.services import reading_validate

# --- the simulator, with a fake session and clock -------------------------------------------------

BASE_URL = "http://demo.test:8000/"


class FakeResponse:
    def __init__(self, status_code: int, text: str = "") -> None:
        self.status_code = status_code
        self.text = text


class FakeSession:
    """Stands in for ``requests.Session``: records every post and answers from a script.

    Each script entry is a status code or an exception to raise; once the script runs out every post
    is answered 201.
    """

    def __init__(self, script: list[int | Exception] | None = None) -> None:
        self.headers: dict[str, str] = {}
        self.script = list(script or [])
        self.posts: list[dict[str, Any]] = []  # the posts that reached the "server"

    def post(self, url: str, *, json: dict[str, Any], headers: dict[str, str], timeout: Any) -> FakeResponse:
        answer = self.script.pop(0) if self.script else 201
        if isinstance(answer, Exception):
            raise answer
        self.posts.append({"url": url, "json": dict(json), "headers": dict(headers), "timeout": timeout})
        return FakeResponse(answer, text="" if answer in (200, 201) else '{"detail": "bad reading"}')


class FakeClock:
    """China time, one second further on each call."""

    def __init__(self) -> None:
        self.now = dt.datetime(2024, 6, 3, 9, 30, 0, 123456, tzinfo=CHINA)
        self.given: list[dt.datetime] = []

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        self.given.append(self.now)
        return self.now


def make_bins(count: int = 3, *, fill: float = 10.0, sequence: int = 7) -> list[SimulatedBin]:
    return [
        SimulatedBin(
            serial=f"YC02-{n:05d}",
            key=f"dk_test-key-{n}",
            capacity_kg=250.0,
            threshold_pct=80.0,
            fill_pct=fill,
            sequence=sequence,
            battery_pct=90.0,
        )
        for n in range(1, count + 1)
    ]


def make_simulator(
    bins: list[SimulatedBin], session: FakeSession, *, batch: int | None = None, **kwargs: Any
) -> Simulator:
    return Simulator(
        bins=bins,
        base_url=BASE_URL,
        batch=len(bins) if batch is None else batch,
        rng=random.Random(1),
        session=session,
        clock=kwargs.pop("clock", FakeClock()),
        **kwargs,
    )


def fills_by_serial(session: FakeSession) -> dict[str, list[float]]:
    fills: dict[str, list[float]] = {}
    for post in session.posts:
        serial = post["headers"]["X-Device-Key"].removeprefix("dk_test-key-")
        fills.setdefault(serial, []).append(post["json"]["fill_pct"])
    return fills


def test_fills_grow_until_the_bin_is_full():
    bins = make_bins(3, fill=10.0)
    session = FakeSession()
    simulator = make_simulator(bins, session)

    crossed = sum(simulator.tick().crossed for _ in range(60))  # ≥ 1.5 % a reading: full by then

    fills = fills_by_serial(session)
    assert len(fills) == 3
    for series in fills.values():
        assert len(series) == 60
        below = [f for f in series if f < 100.0]
        assert below == sorted(below) and len(set(below)) == len(below)  # strictly growing
        assert all(1.5 <= b - a <= 6.0 for a, b in zip([10.0, *below], below, strict=False))
        assert series[-1] == 100.0 and max(series) == 100.0  # capped, and stays full
    assert crossed == 3  # each bin crossed the 80 % threshold exactly once
    assert all(b.fill_pct == 100.0 for b in bins)


def test_round_robin_in_batches():
    bins = make_bins(5)
    session = FakeSession()
    simulator = make_simulator(bins, session, batch=2)

    posted = [simulator.tick().serials_posted for _ in range(3)]

    assert posted == [
        ["YC02-00001", "YC02-00002"],
        ["YC02-00003", "YC02-00004"],
        ["YC02-00005", "YC02-00001"],
    ]


def test_a_collected_bin_goes_first_and_reports_emptied():
    bins = make_bins(3, fill=40.0)
    bins[2].fill_pct = 91.0  # its pickup request was collected
    session = FakeSession()
    simulator = make_simulator(bins, session, batch=2)

    result = simulator.tick(collected={"YC02-00003", "not-one-of-ours"})

    assert result.serials_posted == ["YC02-00003", "YC02-00001"]
    assert (result.sent, result.accepted, result.emptied, result.crossed) == (2, 2, 1, 0)
    emptied = session.posts[0]["json"]
    assert 2.0 <= emptied["fill_pct"] <= 4.0
    assert emptied["door_open"] is False
    assert bins[2].fill_pct == emptied["fill_pct"]
    # Not collected any more: it fills up again from there.
    later = [simulator.tick() for _ in range(2)]
    assert sum(r.emptied for r in later) == 0
    assert bins[2].fill_pct > emptied["fill_pct"]


def test_a_rejected_reading_keeps_the_fill_but_uses_up_its_sequence():
    bins = make_bins(2, fill=30.0, sequence=4)
    session = FakeSession([400, 201])
    simulator = make_simulator(bins, session)

    result = simulator.tick()

    assert (result.sent, result.accepted, result.rejected) == (2, 1, 1)
    assert result.first_rejection.startswith("YC02-00001: HTTP 400")
    assert bins[0].fill_pct == 30.0 and bins[0].sequence == 5  # the server saw sequence 5
    assert bins[1].fill_pct > 30.0 and bins[1].sequence == 5


def test_a_duplicate_answer_counts_as_delivered():
    bins = make_bins(1, fill=30.0)
    session = FakeSession([200])
    result = make_simulator(bins, session).tick()

    assert (result.sent, result.accepted, result.duplicate, result.rejected) == (1, 0, 1, 0)
    assert bins[0].fill_pct > 30.0


def test_connection_errors_end_the_tick_but_not_the_loop():
    bins = make_bins(3, fill=20.0, sequence=0)
    down = requests.ConnectionError("Max retries exceeded")
    down.__context__ = ConnectionRefusedError(111, "Connection refused")
    session = FakeSession(
        [
            201,  # tick 1: the first bin gets through, then the server goes away
            requests.ConnectionError("connection reset"),
            down,  # tick 2: down from the start
            requests.Timeout("read timed out"),  # tick 3: still not answering
        ]
    )
    simulator = make_simulator(bins, session)

    results = [simulator.tick() for _ in range(6)]  # no exception escapes

    first, second, third = results[:3]
    assert first.sent == 1 and first.serials_posted == ["YC02-00001"]
    assert first.connection_error.startswith("ConnectionError: ")
    assert second.sent == 0 and "Connection refused" in second.connection_error  # the innermost reason
    assert third.sent == 0 and third.connection_error.startswith("Timeout: ")
    assert all(r.sent == 3 and not r.connection_error for r in results[3:])
    # A post that never reached the server does not use up a sequence number: no gaps.
    sequences: dict[str, list[int]] = {}
    for post in session.posts:
        sequences.setdefault(post["headers"]["X-Device-Key"], []).append(post["json"]["sequence"])
    assert sequences == {
        "dk_test-key-1": [1, 2, 3, 4],
        "dk_test-key-2": [1, 2, 3],
        "dk_test-key-3": [1, 2, 3],
    }
    assert [b.sequence for b in bins] == [4, 3, 3]


def test_should_stop_ends_the_tick_before_the_next_post():
    bins = make_bins(3)
    session = FakeSession()
    posts_before_stop = 2
    simulator = make_simulator(bins, session, should_stop=lambda: len(session.posts) >= posts_before_stop)

    result = simulator.tick()

    assert result.sent == posts_before_stop and len(session.posts) == posts_before_stop


def test_a_batch_below_one_is_refused():
    with pytest.raises(ValueError, match="batch"):
        make_simulator(make_bins(1), FakeSession(), batch=0)


def test_the_json_body_matches_the_reading_contract():
    bins = make_bins(4, fill=70.0, sequence=41)
    session = FakeSession()
    clock = FakeClock()
    simulator = make_simulator(bins, session, batch=3, clock=clock)

    for tick in range(12):
        simulator.tick(collected={"YC02-00002"} if tick == 5 else ())

    assert session.headers["User-Agent"] == USER_AGENT
    assert len(session.posts) == 36 == len(clock.given)
    last_sequence = {b.key: 41 for b in bins}
    for post, stamped in zip(session.posts, clock.given, strict=True):
        body = post["json"]
        assert post["url"] == "http://demo.test:8000" + READINGS_PATH
        assert post["timeout"] == TIMEOUT
        assert set(body) <= set(ReadingPayload.model_fields)
        # observed_at: ISO 8601 with the +08:00 offset, to the millisecond, from the clock.
        assert body["observed_at"].endswith("+08:00")
        observed = dt.datetime.fromisoformat(body["observed_at"])
        assert observed.utcoffset() == dt.timedelta(hours=8)
        assert observed == stamped.replace(microsecond=stamped.microsecond // 1000 * 1000)
        assert 0 <= body["fill_pct"] <= 100
        assert 0 <= body["battery_pct"] <= 100
        assert 0 <= body["net_weight_kg"] <= 250.0
        assert isinstance(body["door_open"], bool)
        # Each bin's sequence goes up by one per reading.
        key = post["headers"]["X-Device-Key"]
        assert isinstance(body["sequence"], int) and body["sequence"] == last_sequence[key] + 1
        last_sequence[key] = body["sequence"]
        # What the endpoint does with it: the schema, then the service's own checks.
        parsed = ReadingPayload.model_validate(body)
        reading = reading_validate(**parsed.dict(), now=stamped)
        assert reading.observed_at == observed
        assert reading.fill_pct == Decimal(str(body["fill_pct"]))
    # The simulator's own record agrees with what it sent.
    assert {b.key: b.sequence for b in bins} == last_sequence
    emptied = [p["json"] for p in session.posts if p["headers"]["X-Device-Key"] == "dk_test-key-2"]
    assert any(2.0 <= body["fill_pct"] <= 4.0 for body in emptied)  # the tick it was collected


# --- a small demo load ----------------------------------------------------------------------------

DEMO_PRODUCERS = 30
NANTONG_LAT = (Decimal("31.5"), Decimal("32.8"))
NANTONG_LON = (Decimal("120.2"), Decimal("122.0"))
# username → (role, kind of organisation, division) of the membership the printed login starts in.
EXPECTED_LOGINS = {
    "clerk": (Role.CLERK, OrganizationKind.PRODUCER, "320602"),
    "dispatcher": (Role.DISPATCHER, OrganizationKind.COLLECTOR, None),
    "driver": (Role.DRIVER, OrganizationKind.COLLECTOR, None),
    "receiver": (Role.RECEIVER, OrganizationKind.COLLECTOR, None),
    "facility": (Role.RECEIVER, OrganizationKind.FACILITY, "320623"),
    "inspector": (Role.INSPECTOR, OrganizationKind.REGULATOR, "320602"),
    "city": (Role.INSPECTOR, OrganizationKind.REGULATOR, nantong.CITY_CODE),
}


def row_counts() -> dict[str, int]:
    models: list[Any] = [
        Organization,
        Site,
        Licence,
        Vehicle,
        ServiceContract,
        Bin,
        User,
        Membership,
        Reading,
        PickupRequest,
        Event,
    ]
    return {m.__name__: m.objects.count() for m in models}


@pytest.fixture
def var_dir(settings: Any, tmp_path: Any) -> Any:
    """keys_path() is settings.VAR_DIR/demo/device_keys.json: keep the keys file in tmp."""
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def loaded(var_dir: Any) -> DemoSummary:
    assert not demo_is_loaded()
    progress: list[float] = []
    summary = demo_load(producers=DEMO_PRODUCERS, progress=lambda fraction, label: progress.append(fraction))
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    return summary


def call(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_small_demo_load(loaded: DemoSummary, var_dir: Any) -> None:
    counts = loaded.counts
    assert demo_is_loaded()
    assert counts["producers"] == DEMO_PRODUCERS
    assert counts["collectors"] == len(nantong.COLLECTORS) and counts["facilities"] == 1
    assert counts["regulators"] == 1 + len(nantong.DIVISIONS)
    assert counts["bins"] == counts["service_contracts"] == DEMO_PRODUCERS
    assert counts["readings"] == 3 * DEMO_PRODUCERS == Reading.objects.count()
    assert counts["open_requests"] == PickupRequest.objects.filter(status=RequestStatus.OPEN).count() > 0
    assert Organization.objects.count() == counts["organizations"]

    # Registry identifiers: valid and unique 统一社会信用代码.
    usccs = list(Organization.objects.values_list("uscc", flat=True))
    assert len(usccs) == len(set(usccs)) == counts["organizations"]
    for uscc in usccs:
        assert validate_uscc(uscc) == uscc

    # Every site is in Nantong.
    sites = list(Site.objects.values_list("name", "latitude", "longitude"))
    assert len(sites) == counts["sites"]
    for name, lat, lon in sites:
        assert NANTONG_LAT[0] <= lat <= NANTONG_LAT[1], (name, lat)
        assert NANTONG_LON[0] <= lon <= NANTONG_LON[1], (name, lon)

    # Every bin holds codes of the catalogue in force.
    current = set(WasteCode.objects.current().values_list("pk", flat=True))
    for device in Bin.objects.prefetch_related("waste_codes"):
        codes = {wc.pk for wc in device.waste_codes.all()}
        assert codes and codes <= current, device.serial

    # Every producer is some collector's client today.
    producers = set(Organization.objects.filter(kind=OrganizationKind.PRODUCER).values_list("pk", flat=True))
    contracted = set(ServiceContract.objects.active().values_list("producer_id", flat=True))
    assert len(producers) == DEMO_PRODUCERS and producers <= contracted

    # The printed logins exist, with their roles, and the demo password works.
    logins = {lg.username: lg for lg in demo_logins()}
    assert set(logins) == set(EXPECTED_LOGINS)
    for username, (role, kind, division) in EXPECTED_LOGINS.items():
        user = User.objects.get(username=username)
        assert user.check_password(nantong.DEMO_PASSWORD)
        first = Membership.objects.filter(user=user).order_by("created_at").select_related("organization")[0]
        assert (first.role, first.organization.kind) == (role, kind), username
        assert division is None or first.organization.division_id == division, username
        assert logins[username].organization == first.organization.name
    assert Membership.objects.filter(user__username="dispatcher", role=Role.ADMIN).count() == 1

    # The keys file is in tmp, private, and holds every bin's working key.
    path = keys_path()
    assert loaded.keys_file == path and path.is_relative_to(var_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text(encoding="utf-8"))
    hashes = dict(Bin.objects.values_list("serial", "key_hash"))
    assert set(keys) == set(hashes) and len(keys) == DEMO_PRODUCERS
    assert all(hash_device_key(keys[serial]) == hashes[serial] for serial in keys)

    assert "audit chain intact" in call("audit_verify")
    assert chain_verify() is None

    # A second load changes nothing.
    before = row_counts()
    keys_text = path.read_text(encoding="utf-8")
    assert (
        call("load_demo", "--producers", str(DEMO_PRODUCERS), "--no-logins").strip() == "demo already loaded"
    )
    with pytest.raises(RuntimeError, match="already loaded"):
        demo_load(producers=DEMO_PRODUCERS)
    assert row_counts() == before
    assert path.read_text(encoding="utf-8") == keys_text
    assert "audit chain intact" in call("audit_verify")
