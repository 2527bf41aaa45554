"""Personas and the core-loop world.

The cast (DESIGN.md "The people"):

- Alice (李爱丽), clerk at 南通某汽修有限公司, a small vehicle-repair producer in 崇川区 (320602);
- the collector 南通绿岛环保科技有限公司 (warehouse in 通州区, 320612): its dispatcher, a driver and a
  warehouse receiver;
- a receiver at a disposal facility in 如东县 (320623);
- regulators: the 崇川区 branch (320602), the 通州区 branch (320612) and the city bureau (320600);
- for tenancy: Bob, clerk at a second producer (a furniture workshop in 320612, a client of a second
  collector), and that second collector's dispatcher.

Test modules import factories as ``from factories import …`` (this directory is on sys.path
because it has no ``__init__.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django import db
from django.db import connection
from django.utils import timezone
from factories import (
    BinFactory,
    CollectorFactory,
    FacilityFactory,
    LicenceFactory,
    MembershipFactory,
    ProducerFactory,
    RegulatorFactory,
    ServiceContractFactory,
    SiteFactory,
    UserFactory,
    VehicleFactory,
    division,
    waste_code,
)

from greenisle.accounts.choices import Role
from greenisle.accounts.models import User
from greenisle.devices.models import Bin
from greenisle.dispatch.models import PickupRequest, Trip, Vehicle
from greenisle.dispatch.services import trip_assign
from greenisle.manifests.models import Manifest
from greenisle.manifests.services import (
    manifest_add_container,
    manifest_deliver,
    manifest_depart,
    manifest_sign,
)
from greenisle.organizations.choices import LicenceType
from greenisle.organizations.models import Organization, ServiceContract, Site
from greenisle.telemetry.services import IngestOutcome, reading_ingest, reading_validate

SIGNATURE_CODE = "246810"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # PBKDF2 at production strength costs ~0.3 s per user and per signature code.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def member(organization: Organization, role: str, username: str, display_name: str) -> User:
    """A person with one membership (their current one)."""
    user = UserFactory(username=username, display_name=display_name)
    MembershipFactory(user=user, organization=organization, role=role)
    return user


# --- organisations --------------------------------------------------------------------------------


@pytest.fixture
def producer(db: None) -> Organization:
    org = ProducerFactory(name="南通某汽修有限公司", division=division("320602"), industry="汽车修理与维护")
    org.set_signature_code(SIGNATURE_CODE)
    org.save(update_fields=["signature_code_hash"])
    return org


@pytest.fixture
def producer_site(producer: Organization) -> Site:
    return SiteFactory(organization=producer, name="崇川维修车间", address="南通市崇川区工农路1号")


# The codes the scenarios handle; the collector's and the facility's licences cover them.
LICENSED_CODES = ("900-214-08", "900-041-49", "900-249-08", "900-252-12", "900-052-31")


@pytest.fixture
def collector(db: None) -> Organization:
    org = CollectorFactory(name="南通绿岛环保科技有限公司", division=division("320612"))
    LicenceFactory(organization=org, number="JSNT0612OOD001", waste_codes=LICENSED_CODES)
    return org


@pytest.fixture
def warehouse(collector: Organization) -> Site:
    # The collector's first site: manifests are received into it.
    return SiteFactory(organization=collector, name="通州贮存仓库", address="南通市通州区园区路8号")


@pytest.fixture
def contract(producer: Organization, collector: Organization) -> ServiceContract:
    return ServiceContractFactory(collector=collector, producer=producer)


@pytest.fixture
def facility(db: None) -> Organization:
    org = FacilityFactory(name="如东某危废处置中心", division=division("320623"))
    LicenceFactory(
        organization=org, number="JS0623OOI001", licence_type=LicenceType.DISPOSAL, waste_codes=LICENSED_CODES
    )
    SiteFactory(organization=org, name="如东焚烧厂", address="如东县洋口化学工业园1号")
    return org


@pytest.fixture
def producer_b(db: None) -> Organization:
    return ProducerFactory(name="通州某家具厂", division=division("320612"), industry="家具制造")


@pytest.fixture
def collector_b(db: None) -> Organization:
    return CollectorFactory(name="如皋某环境服务有限公司", division=division("320682"))


@pytest.fixture
def contract_b(producer_b: Organization, collector_b: Organization) -> ServiceContract:
    return ServiceContractFactory(collector=collector_b, producer=producer_b)


# --- personas -------------------------------------------------------------------------------------


@pytest.fixture
def alice(producer: Organization) -> User:
    return member(producer, Role.CLERK, "alice", "李爱丽")


@pytest.fixture
def dispatcher(collector: Organization) -> User:
    return member(collector, Role.DISPATCHER, "dispatcher", "周调度")


@pytest.fixture
def driver(collector: Organization) -> User:
    return member(collector, Role.DRIVER, "driver", "王师傅")


@pytest.fixture
def receiver(collector: Organization) -> User:
    return member(collector, Role.RECEIVER, "receiver", "陈库管")


@pytest.fixture
def facility_receiver(facility: Organization) -> User:
    return member(facility, Role.RECEIVER, "facility_receiver", "吴接收")


@pytest.fixture
def regulator(db: None) -> User:
    """The 崇川区 branch (320602): the district of Alice's workshop."""
    return member(RegulatorFactory(division=division("320602")), Role.INSPECTOR, "regulator", "崇川执法")


@pytest.fixture
def regulator_other(db: None) -> User:
    """The 通州区 branch (320612): another district."""
    return member(
        RegulatorFactory(division=division("320612")), Role.INSPECTOR, "regulator_other", "通州执法"
    )


@pytest.fixture
def regulator_city(db: None) -> User:
    """The city bureau (320600): sees every 3206xx division."""
    return member(RegulatorFactory(division=division("320600")), Role.INSPECTOR, "regulator_city", "市局监管")


@pytest.fixture
def bob(producer_b: Organization) -> User:
    return member(producer_b, Role.CLERK, "bob", "鲍家具")


@pytest.fixture
def rival_dispatcher(collector_b: Organization) -> User:
    return member(collector_b, Role.DISPATCHER, "rival_dispatcher", "如皋调度")


@pytest.fixture
def make_member(db: None) -> Callable[..., User]:
    """For tests that need one more person (a second driver, a rival collector's driver)."""
    return member


# --- the core loop --------------------------------------------------------------------------------


@pytest.fixture
def smart_bin(producer_site: Site, collector: Organization, contract: ServiceContract) -> Bin:
    return BinFactory(serial="NT-CC-00001", name="机油云仓", site=producer_site, collector=collector)


@pytest.fixture
def vehicle(collector: Organization) -> Vehicle:
    return VehicleFactory(collector=collector, plate="苏F12345危")


@pytest.fixture
def filed_plan(producer_site: Site, collector: Organization) -> Any:
    """Alice's site's management plan for this year, filed (办法 Art. 14): her codes, to the collector."""
    from greenisle.plans.models import ManagementPlan, PlanStatus, PlanWaste

    plan = ManagementPlan.objects.create(
        site=producer_site,
        year=timezone.localdate().year,
        status=PlanStatus.FILED,
        filing_number=f"NT-{timezone.localdate().year}-0001",
        filed_at=timezone.now(),
    )
    for code in LICENSED_CODES:
        row = PlanWaste.objects.create(plan=plan, waste_code=waste_code(code), annual_t=Decimal("2"))
        row.receivers.add(collector)
    return plan


@dataclass
class World:
    producer: Organization
    site: Site
    collector: Organization
    warehouse: Site
    contract: ServiceContract
    bin: Bin
    vehicle: Vehicle
    alice: User
    dispatcher: User
    driver: User
    receiver: User


@pytest.fixture
def world(
    producer: Organization,
    producer_site: Site,
    collector: Organization,
    warehouse: Site,
    contract: ServiceContract,
    smart_bin: Bin,
    vehicle: Vehicle,
    alice: User,
    dispatcher: User,
    driver: User,
    receiver: User,
    filed_plan: Any,
) -> World:
    """Alice's workshop in 320602 with a bin and a filed management plan, served by the collector
    (warehouse, truck, staff)."""
    return World(
        producer,
        producer_site,
        collector,
        warehouse,
        contract,
        smart_bin,
        vehicle,
        alice,
        dispatcher,
        driver,
        receiver,
    )


Ingest = Callable[..., IngestOutcome]


@pytest.fixture
def ingest(world: World) -> Ingest:
    """Validate and ingest one HTTP reading; by default one minute after the previous one."""
    clock = itertools.count()
    start = timezone.now() - dt.timedelta(hours=2)

    def _ingest(
        fill: Any, *, at: dt.datetime | None = None, device: Bin | None = None, **fields: Any
    ) -> IngestOutcome:
        observed_at = at or start + dt.timedelta(minutes=next(clock))
        reading = reading_validate(observed_at=observed_at, fill_pct=fill, **fields)
        return reading_ingest(device=device or world.bin, reading=reading, transport="http")

    return _ingest


@pytest.fixture
def open_request(world: World, ingest: Ingest) -> PickupRequest:
    outcome = ingest(85)
    assert outcome.request_opened is not None
    return PickupRequest.objects.get(pk=outcome.request_opened)


@pytest.fixture
def trip(world: World, open_request: PickupRequest) -> Trip:
    return trip_assign(
        actor=world.dispatcher,
        request_ids=[open_request.pk],
        vehicle_id=world.vehicle.pk,
        driver_id=world.driver.pk,
        service_date=timezone.localdate(),
    )


@pytest.fixture
def draft_manifest(world: World, open_request: PickupRequest, trip: Trip) -> Manifest:
    """Two weighed containers from Alice's bin: waste engine oil and oily rags."""
    manifest_add_container(
        actor=world.driver,
        request_id=open_request.pk,
        waste_code="900-214-08",
        weight_kg="35.5",
        container_code="RQ-0001",
    )
    line = manifest_add_container(
        actor=world.driver,
        request_id=open_request.pk,
        waste_code="900-041-49",
        weight_kg=Decimal("12"),
        container_code="RQ-0002",
    )
    return line.manifest


@pytest.fixture
def signed_manifest(world: World, draft_manifest: Manifest) -> Manifest:
    return manifest_sign(actor=world.alice, manifest_id=draft_manifest.pk, method="session")


@pytest.fixture
def departed_manifest(world: World, signed_manifest: Manifest) -> Manifest:
    return manifest_depart(actor=world.driver, manifest_id=signed_manifest.pk)


@pytest.fixture
def delivered_manifest(world: World, departed_manifest: Manifest) -> Manifest:
    """Arrived at the collector's warehouse: receipt due within 5 working days (办法 Art. 18)."""
    return manifest_deliver(actor=world.driver, manifest_id=departed_manifest.pk)


# --- audit tampering ------------------------------------------------------------------------------


@contextlib.contextmanager
def _audit_table_writable() -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: the events written earlier in the
        # test's transaction have pending FK checks, and ALTER TABLE refuses to run past them.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@pytest.fixture
def audit_table_writable(db: None) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """On PostgreSQL the append-only trigger blocks UPDATE and DELETE on audit_event. Tampering tests
    lift it with this (inside the test's transaction, so the change is rolled back anyway) and it is
    put back on exit. On SQLite there is no trigger and this does nothing."""
    return _audit_table_writable


# --- concurrency ----------------------------------------------------------------------------------


@dataclass
class ThreadOutcome:
    results: list[Any]
    errors: list[BaseException]


def _run_concurrently(*calls: Callable[[], Any], timeout: float = 60) -> ThreadOutcome:
    """Run each call in its own thread (its own database connection), released together by a barrier."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout)
            result = call()
            with lock:
                results.append(result)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            with lock:
                errors.append(exc)
        finally:
            db.connection.close()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return ThreadOutcome(results, errors)


@pytest.fixture
def run_concurrently(transactional_db: None) -> Callable[..., ThreadOutcome]:
    """For ``@pytest.mark.django_db(transaction=True, serialized_rollback=True)`` tests: the threads must
    see committed rows. serialized_rollback restores the data migrations' rows (divisions, catalogue)
    that the flush after a transactional test removes; use it on every transactional test, since a
    flush without it re-creates content types under new ids and the next restore then collides."""
    return _run_concurrently
