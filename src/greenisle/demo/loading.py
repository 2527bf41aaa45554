"""Load the Nantong demo into the database: the registry, the fleet, the smart bins and their first fills.

The registry is written with ``bulk_create`` (one INSERT per few hundred rows) because a thousand
producers created one by one would take minutes. Bypassing the services does not bypass the audit
chain: every created organisation, site, licence, vehicle, bin, service contract and membership
gets its own ``*.created`` event through :func:`greenisle.audit.services.event_record`, in the same
transaction as the rows. One event per object was measured at well under a millisecond on SQLite
(about 5,000 events in 2–3 s), so per-batch events, which would hide single objects from the
chain, were not needed.

Bins get their readings through the real ingest path (``reading_validate`` + ``reading_ingest``),
so their states, the pickup requests that crossing the threshold opens and those requests' audit
events are exactly what a live bin would produce.

The whole load is one transaction: a failure leaves nothing behind, and the presence of the city
bureau tells a later run that the demo is complete. Device keys are random (``Bin.rotate_key``);
everything else comes from ``random.Random(seed)``, so two runs with the same seed and on the same
day give the same registry.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.models import Membership, User
from greenisle.audit.services import event_record
from greenisle.catalog.models import WasteCode
from greenisle.demo import nantong
from greenisle.demo.nantong import DivisionInfo, Industry
from greenisle.devices.models import Bin, Transport
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest, Vehicle
from greenisle.organizations.choices import LicenceType, OrganizationKind
from greenisle.organizations.identifiers import uscc_with_check_digit, validate_uscc
from greenisle.organizations.models import Division, Licence, Organization, ServiceContract, Site
from greenisle.telemetry.services import reading_ingest, reading_validate

Progress = Callable[[float, str], None]
PLANNING_SHARE = 0.07

DEFAULT_PRODUCERS = 1200
# Bins above the 80 % threshold after loading: each has an open pickup request.
FULL_BINS = 20
# Of those, how many belong to the demo collector (the demo producer's bin is one of them).
FULL_BINS_DEMO_COLLECTOR = 5
# The demo producer signs with this code on the driver's phone; every other producer shares the
# second one. Fixed, like the password, so the logins can be printed again on a later run.
DEMO_SIGNATURE_CODE = "246810"
OTHER_SIGNATURE_CODE = "135790"
BIN_SERIAL_PREFIX = "YC"
DEMO_PRODUCER_NAME = "南通宏达汽车维修有限公司"

# Bin sizes per industry (litres); the weight capacity follows from a bulk density of about 0.7 kg/L.
BIN_SIZES: dict[str, tuple[int, ...]] = {
    "vehicle_repair": (240, 360, 360, 660),
    "furniture": (360, 660, 660),
    "machining": (360, 660, 1100),
    "laboratory": (120, 240, 240),
    "printing": (240, 360, 660),
}
INDUSTRY_ABBR = {
    "vehicle_repair": "汽修",
    "furniture": "家具",
    "machining": "机加",
    "laboratory": "实验室",
    "printing": "印刷",
}
SITE_NAMES = {
    "vehicle_repair": "维修车间",
    "furniture": "生产车间",
    "machining": "加工车间",
    "laboratory": "实验室",
    "printing": "印刷车间",
}


def keys_path() -> Path:
    """Where the plaintext device keys go for the simulator (var/demo/device_keys.json)."""
    return Path(settings.VAR_DIR) / "demo" / "device_keys.json"


@dataclass(frozen=True)
class Login:
    """One printed demo login."""

    role: str
    username: str
    organization: str
    note: str = ""


# The printed logins, in the order the loop is walked. Role labels are shown as they are.
LOGINS: tuple[tuple[str, str], ...] = (
    ("产废单位 经办人 producer clerk", "clerk"),
    ("收集单位 调度 collector dispatcher", "dispatcher"),
    ("收集单位 司机 driver", "driver"),
    ("收集单位 仓库接收 collector receiver", "receiver"),
    ("处置单位 接收 facility receiver", "facility"),
    ("区生态环境局 district regulator", "inspector"),
    ("市生态环境局 city regulator", "city"),
)


@dataclass
class DemoSummary:
    """What a load created, for the command to print."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    keys_file: Path | None = None


def demo_is_loaded() -> bool:
    """The city bureau is created in the same transaction as everything else: its presence means done."""
    return Organization.objects.filter(
        kind=OrganizationKind.REGULATOR, division_id=nantong.CITY_CODE, name=nantong.CITY_BUREAU_NAME
    ).exists()


def demo_logins() -> list[Login]:
    """The printed logins, read back from the database (so a second run can print them too)."""
    first: dict[str, Membership] = {}
    for m in (
        Membership.objects.select_related("user", "organization")
        .filter(user__username__in=[username for _, username in LOGINS])
        .order_by("-created_at")
    ):
        first[m.user.username] = m  # the oldest wins: it is the membership a login starts in
    logins = []
    for role, username in LOGINS:
        m = first.get(username)
        if m is None:
            continue
        note = ""
        if username == "dispatcher":
            others = Membership.objects.filter(user=m.user).exclude(pk=m.pk).select_related("organization")
            note = "；".join(f"也是 {o.organization.name} 管理员 (切换单位)" for o in others)
        if username == "clerk":
            note = f"签字码 signature code {DEMO_SIGNATURE_CODE}"
        logins.append(Login(role=role, username=username, organization=m.organization.name, note=note))
    return logins


class _Ids:
    """Deterministic UUIDs from the seeded generator, so two runs give the same primary keys."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


@dataclass
class _Plan:
    """Unsaved rows, built in memory first so that each table is written with one bulk insert."""

    organizations: list[Organization] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    licences: list[tuple[Licence, Sequence[str]]] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    contracts: list[ServiceContract] = field(default_factory=list)
    bins: list[tuple[Bin, Sequence[str]]] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    memberships: list[tuple[str, Organization, str]] = field(default_factory=list)  # username, org, role
    fills: dict[str, float] = field(default_factory=dict)  # bin serial → fill % now


class _Builder:
    """Builds the plan from the seed. Pure Python apart from reading the divisions and waste codes."""

    def __init__(self, *, seed: int, producers: int, today: dt.date) -> None:
        self.rng = random.Random(seed)
        self.new_id = _Ids(random.Random(seed + 1))
        self.today = today
        self.producer_count = producers
        self.plan = _Plan()
        self.used_uscc: set[str] = set()
        self.used_names: set[str] = set()
        self.used_plates: set[str] = set()
        self.bin_seq: dict[str, int] = {}
        self.password_hash = make_password(nantong.DEMO_PASSWORD)
        self.collectors: list[Organization] = []
        self.demo_producer: Organization | None = None

    # -- identifiers -------------------------------------------------------------------------

    def uscc(self, prefix: str, division_code: str) -> str:
        while True:
            value = uscc_with_check_digit(prefix + division_code + nantong.org_code(self.rng))
            if value not in self.used_uscc:
                self.used_uscc.add(value)
                return validate_uscc(value)

    def plate(self) -> str:
        while True:
            value = nantong.plate(self.rng)
            if value not in self.used_plates:
                self.used_plates.add(value)
                return value

    # -- rows --------------------------------------------------------------------------------

    def organization(
        self,
        *,
        kind: str,
        name: str,
        division: DivisionInfo | str,
        industry: str = "",
        uscc_prefix: str = nantong.USCC_COMPANY,
        address: str = "",
    ) -> Organization:
        code = division if isinstance(division, str) else division.code
        info = nantong.DIVISION_BY_CODE.get(code)
        org = Organization(
            id=self.new_id(),
            kind=kind,
            name=name,
            uscc=self.uscc(uscc_prefix, code),
            division_id=code,
            address=address
            or (nantong.street_address(self.rng, info) if info else "江苏省南通市崇川区世纪大道266号"),
            industry=industry,
            contact_name=nantong.person_name(self.rng),
            contact_phone=nantong.landline(self.rng),
        )
        self.used_names.add(name)
        self.plan.organizations.append(org)
        return org

    def site(self, org: Organization, name: str, division: DivisionInfo) -> Site:
        lat, lon = nantong.point_in(self.rng, division)
        site = Site(
            id=self.new_id(),
            organization=org,
            name=name,
            address=org.address,
            latitude=Decimal(f"{lat:.6f}"),
            longitude=Decimal(f"{lon:.6f}"),
            division_id=division.code,
        )
        self.plan.sites.append(site)
        return site

    def user(self, username: str, *, display_name: str | None = None) -> str:
        name = display_name or nantong.person_name(self.rng)
        self.plan.users.append(
            User(username=username, password=self.password_hash, display_name=name, first_name=name)
        )
        return username

    def member(self, username: str, org: Organization, role: str) -> None:
        self.plan.memberships.append((username, org, role))

    # -- the parties -------------------------------------------------------------------------

    def regulators(self) -> None:
        city = self.organization(
            kind=OrganizationKind.REGULATOR,
            name=nantong.CITY_BUREAU_NAME,
            division=nantong.CITY_CODE,
            uscc_prefix=nantong.USCC_GOVERNMENT,
            address="江苏省南通市崇川区世纪大道266号",
        )
        self.member(self.user("city"), city, Role.INSPECTOR)
        for division in nantong.DIVISIONS:
            bureau = self.organization(
                kind=OrganizationKind.REGULATOR,
                name=f"南通市{division.short}生态环境局",
                division=division,
                uscc_prefix=nantong.USCC_GOVERNMENT,
            )
            # The demo producer is in 崇川: its district inspector is the printed "inspector" login.
            username = "inspector" if division.code == "320602" else division.slug
            self.member(self.user(username), bureau, Role.INSPECTOR)

    def collectors_and_fleet(self) -> None:
        for index, (code, name) in enumerate(nantong.COLLECTORS, start=1):
            division = nantong.DIVISION_BY_CODE[code]
            org = self.organization(
                kind=OrganizationKind.COLLECTOR, name=name, division=division, industry="危险废物收集"
            )
            # The first site of a collector is its receiving warehouse (manifests.services._receiver_site).
            self.site(org, "危险废物集中收集贮存仓库", division)
            valid_from = self.today - dt.timedelta(days=self.rng.randint(100, 900))
            licence = Licence(
                organization=org,
                licence_type=LicenceType.COLLECTION,
                number=f"JSNT{code[2:]}OOD{index:03d}-1",
                annual_capacity_t=Decimal(self.rng.choice((3000, 5000, 5000, 8000, 10000))),
                valid_from=valid_from,
                valid_to=valid_from + dt.timedelta(days=5 * 365),
            )
            self.plan.licences.append((licence, nantong.DEMO_WASTE_CODES))
            vehicles = self.rng.randint(2, 4)
            for number in range(vehicles):
                self.plan.vehicles.append(
                    Vehicle(
                        id=self.new_id(),
                        collector=org,
                        plate=self.plate(),
                        capacity_kg=Decimal(self.rng.choice((1495, 1990, 2990, 4495))),
                        dg_permit_number=f"苏交运管营字{code}{index:02d}{number + 1:04d}号",
                        dg_permit_valid_to=self.today + dt.timedelta(days=self.rng.randint(180, 900)),
                    )
                )
            slug = f"c{index:02d}"
            demo = index == 1
            self.member(self.user(f"{slug}-admin"), org, Role.ADMIN)
            self.member(self.user("dispatcher" if demo else f"{slug}-dispatcher"), org, Role.DISPATCHER)
            for number in range(1, vehicles + 1):
                username = "driver" if demo and number == 1 else f"{slug}-driver{number}"
                self.member(self.user(username), org, Role.DRIVER)
            self.member(self.user("receiver" if demo else f"{slug}-receiver"), org, Role.RECEIVER)
            self.collectors.append(org)

    def facility(self) -> None:
        code, name = nantong.FACILITY
        division = nantong.DIVISION_BY_CODE[code]
        org = self.organization(
            kind=OrganizationKind.FACILITY,
            name=name,
            division=division,
            industry="危险废物利用处置",
            address="江苏省南通市如东县洋口镇洋口化学工业园区黄海三路18号",
        )
        self.site(org, "焚烧处置中心", division)
        valid_from = self.today - dt.timedelta(days=400)
        licence = Licence(
            organization=org,
            licence_type=LicenceType.DISPOSAL,
            number=f"JSNT{code[2:]}OOD101-2",
            annual_capacity_t=Decimal("30000"),
            valid_from=valid_from,
            valid_to=valid_from + dt.timedelta(days=5 * 365),
        )
        self.plan.licences.append((licence, nantong.DEMO_WASTE_CODES))
        self.member(self.user("facility"), org, Role.RECEIVER)

    def producers(self) -> None:
        divisions = list(nantong.DIVISIONS)
        division_weights = [d.producer_weight for d in divisions]
        industries = list(nantong.INDUSTRIES)
        industry_weights = [i.weight for i in industries]
        by_division: dict[str, list[Organization]] = {}
        for org in self.collectors:
            by_division.setdefault(org.division_id, []).append(org)

        # The demo producer first: a vehicle repair shop in 崇川 served by the demo collector.
        demo_division = nantong.DIVISION_BY_CODE["320602"]
        self.demo_producer = self.producer(
            name=DEMO_PRODUCER_NAME,
            brand="宏达",
            division=demo_division,
            industry=nantong.INDUSTRY_BY_KEY["vehicle_repair"],
            collector=self.collectors[0],
            codes=("900-214-08", "900-249-08", "900-041-49"),
            delegated=False,
        )
        self.member(self.user("clerk", display_name="周宏达"), self.demo_producer, Role.CLERK)

        for _ in range(self.producer_count - 1):
            division = self.rng.choices(divisions, weights=division_weights)[0]
            industry = self.rng.choices(industries, weights=industry_weights)[0]
            name, brand = self.producer_name(division, industry)
            home = by_division[division.code]
            if self.rng.random() < 0.12:
                neighbour = self.rng.choice(nantong.NEIGHBOURS[division.code])
                collector = self.rng.choice(by_division[neighbour])
            else:
                collector = self.rng.choice(home)
            count = min(len(industry.waste_codes), self.rng.choice((1, 2, 2, 3)))
            codes = tuple(sorted(self.rng.sample(industry.waste_codes, count)))
            self.producer(
                name=name,
                brand=brand,
                division=division,
                industry=industry,
                collector=collector,
                codes=codes,
                delegated=self.rng.random() < 0.25,
            )

    def producer_name(self, division: DivisionInfo, industry: Industry) -> tuple[str, str]:
        while True:
            brand = self.rng.choice(nantong.BRAND_HEADS) + self.rng.choice(nantong.BRAND_TAILS)
            pattern = self.rng.choice(industry.name_patterns)
            name = pattern.format(p=division.prefix, b=brand, d=division.name)
            if name not in self.used_names:
                return name, brand

    def producer(
        self,
        *,
        name: str,
        brand: str,
        division: DivisionInfo,
        industry: Industry,
        collector: Organization,
        codes: Sequence[str],
        delegated: bool,
    ) -> Organization:
        org = self.organization(
            kind=OrganizationKind.PRODUCER, name=name, division=division, industry=industry.name
        )
        site = self.site(org, SITE_NAMES[industry.key], division)
        valid_from = self.today - dt.timedelta(days=self.rng.randint(30, 700))
        valid_to = (
            None if self.rng.random() < 0.4 else self.today + dt.timedelta(days=self.rng.randint(30, 700))
        )
        self.plan.contracts.append(
            ServiceContract(
                collector=collector,
                producer=org,
                valid_from=valid_from,
                valid_to=valid_to,
                delegated_signing=delegated,
            )
        )
        seq = self.bin_seq.get(division.code, 0) + 1
        self.bin_seq[division.code] = seq
        litres = self.rng.choice(BIN_SIZES[industry.key])
        device = Bin(
            id=self.new_id(),
            serial=f"{BIN_SERIAL_PREFIX}{division.code[2:]}-{seq:05d}",
            name=f"{brand}{INDUSTRY_ABBR[industry.key]}云仓",
            site=site,
            collector=collector,
            capacity_l=litres,
            capacity_kg=Decimal(round(litres * 0.7)),
            threshold_pct=Decimal("80"),
            transport=Transport.HTTP,
        )
        self.plan.bins.append((device, tuple(codes)))
        return org

    def fills(self) -> None:
        """Fill levels 5–95 %: most below the threshold, ``FULL_BINS`` above it (some at the demo collector)."""
        serials = [device.serial for device, _ in self.plan.bins]
        demo_collector = self.collectors[0]
        demo_serial = serials[0]  # the demo producer's bin
        at_demo = [d.serial for d, _ in self.plan.bins[1:] if d.collector_id == demo_collector.id]
        elsewhere = [d.serial for d, _ in self.plan.bins[1:] if d.collector_id != demo_collector.id]
        full = {demo_serial}
        full.update(self.rng.sample(at_demo, min(len(at_demo), FULL_BINS_DEMO_COLLECTOR - 1)))
        full.update(self.rng.sample(elsewhere, min(len(elsewhere), FULL_BINS - len(full))))
        for serial in serials:
            # Below the threshold the spread is skewed low: most bins were emptied recently and fill over weeks.
            fill = self.rng.uniform(81, 95) if serial in full else self.rng.triangular(5, 79, 30)
            self.plan.fills[serial] = round(fill, 1)
        self.plan.fills[demo_serial] = 86.0

    def build(self) -> _Plan:
        self.regulators()
        self.collectors_and_fleet()
        self.facility()
        self.producers()
        self.fills()
        return self.plan


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Writer:
    """Writes a plan: bulk inserts, then one audit event per created object, then readings."""

    BATCH = 500

    def __init__(self, plan: _Plan, progress: Progress, *, seed: int) -> None:
        self.plan = plan
        self.progress = progress
        self.rng = random.Random(seed + 2)
        # Planning (mostly three deliberately slow password hashes) took the first part of the bar.
        self.done = PLANNING_SHARE

    def step(
        self, share: float, label: str, items: Sequence[Any], fn: Callable[[Sequence[Any]], None]
    ) -> None:
        """Run ``fn`` over ``items`` in batches, moving the bar through ``share`` of its length."""
        total = max(len(items), 1)
        seen = 0
        self.progress(self.done, label)
        for chunk in _chunks(items, self.BATCH if len(items) > self.BATCH else max(len(items), 1)):
            fn(chunk)
            seen += len(chunk)
            self.progress(self.done + share * seen / total, label)
        self.done += share

    def bulk(self, model: type[models.Model], rows: Sequence[models.Model]) -> None:
        model.objects.bulk_create(rows, batch_size=self.BATCH)  # type: ignore[attr-defined]

    def write(self, codes: dict[str, WasteCode]) -> dict[str, int]:
        plan = self.plan
        # Shares of the bar follow measured time (1,200 producers on SQLite: bulk inserts 0.3 s,
        # 5,000 audit events 2 s, 3,600 readings through ingest 8 s).
        self.step(0.01, "单位 organisations", plan.organizations, lambda rows: self.bulk(Organization, rows))
        self.step(0.01, "场所 sites", plan.sites, lambda rows: self.bulk(Site, rows))
        self.step(0.005, "许可证 licences", plan.licences, self.licences(codes))
        self.step(0.005, "车辆 vehicles", plan.vehicles, lambda rows: self.bulk(Vehicle, rows))
        self.step(0.01, "服务合同 contracts", plan.contracts, lambda rows: self.bulk(ServiceContract, rows))
        self.step(0.01, "云仓 smart bins", plan.bins, self.bins(codes))
        users: dict[str, User] = {}
        self.step(
            0.005,
            "用户 users",
            plan.users,
            lambda rows: users.update(
                (u.username, u) for u in User.objects.bulk_create(rows, batch_size=self.BATCH)
            ),
        )
        memberships: list[Membership] = []
        self.step(
            0.005,
            "成员 memberships",
            plan.memberships,
            lambda rows: memberships.extend(
                Membership.objects.bulk_create(
                    [
                        Membership(user=users[username], organization=org, role=role)
                        for username, org, role in rows
                    ],
                    batch_size=self.BATCH,
                )
            ),
        )
        self.step(0.18, "审计链 audit chain", self.audit_items(memberships), self.audit)
        readings = self.reading_plan()
        self.step(0.69, "读数 readings (ingest)", readings, self.ingest)
        return {
            "organizations": len(plan.organizations),
            "producers": sum(1 for o in plan.organizations if o.kind == OrganizationKind.PRODUCER),
            "collectors": sum(1 for o in plan.organizations if o.kind == OrganizationKind.COLLECTOR),
            "facilities": sum(1 for o in plan.organizations if o.kind == OrganizationKind.FACILITY),
            "regulators": sum(1 for o in plan.organizations if o.kind == OrganizationKind.REGULATOR),
            "sites": len(plan.sites),
            "licences": len(plan.licences),
            "vehicles": len(plan.vehicles),
            "service_contracts": len(plan.contracts),
            "bins": len(plan.bins),
            "users": len(plan.users),
            "memberships": len(memberships),
            "readings": len(readings),
        }

    def licences(
        self, codes: dict[str, WasteCode]
    ) -> Callable[[Sequence[tuple[Licence, Sequence[str]]]], None]:
        def write(rows: Sequence[tuple[Licence, Sequence[str]]]) -> None:
            created = Licence.objects.bulk_create([licence for licence, _ in rows])
            through = Licence.waste_codes.through
            through.objects.bulk_create(
                [
                    through(licence_id=lic.pk, wastecode_id=codes[c].pk)
                    for lic, (_, cs) in zip(created, rows, strict=True)
                    for c in cs
                ]
            )

        return write

    def bins(self, codes: dict[str, WasteCode]) -> Callable[[Sequence[tuple[Bin, Sequence[str]]]], None]:
        def write(rows: Sequence[tuple[Bin, Sequence[str]]]) -> None:
            Bin.objects.bulk_create([device for device, _ in rows])
            through = Bin.waste_codes.through
            through.objects.bulk_create(
                [through(bin_id=device.pk, wastecode_id=codes[c].pk) for device, cs in rows for c in cs]
            )

        return write

    # -- audit ---------------------------------------------------------------------------------

    def audit_items(self, memberships: list[Membership]) -> list[dict[str, Any]]:
        """One event per created object, in creation order; the subject is the organisation it belongs to."""
        plan = self.plan
        items = [
            _event("organizations.organization.created", o, o, kind=o.kind, name=o.name, uscc=o.uscc)
            for o in plan.organizations
        ]
        items += [
            _event(
                "organizations.site.created",
                s,
                s.organization,
                name=s.name,
                latitude=str(s.latitude),
                longitude=str(s.longitude),
            )
            for s in plan.sites
        ]
        items += [
            _event(
                "organizations.licence.created",
                lic,
                lic.organization,
                number=lic.number,
                type=lic.licence_type,
                valid_to=lic.valid_to.isoformat(),
                waste_codes=list(codes),
            )
            for lic, codes in plan.licences
        ]
        items += [_event("dispatch.vehicle.created", v, v.collector, plate=v.plate) for v in plan.vehicles]
        items += [
            _event(
                "organizations.service_contract.created",
                c,
                c.producer,
                collector=str(c.collector_id),
                delegated_signing=c.delegated_signing,
            )
            for c in plan.contracts
        ]
        items += [
            _event(
                "devices.bin.created",
                b,
                b.site.organization,
                serial=b.serial,
                collector=str(b.collector_id),
                waste_codes=list(codes),
                key_prefix=b.key_prefix,
            )
            for b, codes in plan.bins
        ]
        items += [
            _event("accounts.membership.created", m, m.organization, user=m.user.username, role=m.role)
            for m in memberships
        ]
        return items

    def audit(self, items: Sequence[dict[str, Any]]) -> None:
        for item in items:
            event_record(**item)

    # -- readings ------------------------------------------------------------------------------

    def reading_plan(self) -> list[tuple[Bin, dt.datetime, float, int]]:
        """Three readings per bin: two days ago, yesterday and within the last hour, filling up.

        Ordered by time across all bins, as a fleet would report them.
        """
        now = timezone.now()
        rows: list[tuple[Bin, dt.datetime, float, int]] = []
        for device, _ in self.plan.bins:
            fill = self.plan.fills[device.serial]
            minutes = self.rng.randint(2, 55)
            history = (
                (now - dt.timedelta(hours=50, minutes=minutes), 0.45),
                (now - dt.timedelta(hours=26, minutes=minutes), 0.75),
                (now - dt.timedelta(minutes=minutes), 1.0),
            )
            for sequence, (at, share) in enumerate(history, start=1):
                rows.append((device, at.replace(microsecond=0), max(5.0, round(fill * share, 1)), sequence))
        rows.sort(key=lambda row: row[1])
        return rows

    def ingest(self, rows: Sequence[tuple[Bin, dt.datetime, float, int]]) -> None:
        for device, observed_at, fill, sequence in rows:
            capacity = float(device.capacity_kg)
            reading = reading_validate(
                observed_at=observed_at.astimezone(dt.timezone(dt.timedelta(hours=8))),
                fill_pct=fill,
                net_weight_kg=round(capacity * fill / 100 * self.rng.uniform(0.85, 1.0), 1),
                temperature_c=round(self.rng.uniform(12, 28), 1),
                door_open=False,
                battery_pct=round(self.rng.uniform(55, 100), 1),
                sequence=sequence,
            )
            reading_ingest(device=device, reading=reading, transport=Transport.HTTP)


def _event(action: str, obj: models.Model, subject: Organization, **payload: Any) -> dict[str, Any]:
    """Arguments for ``event_record``: the event lands in the subject's division, like live events do."""
    return {
        "action": action,
        "obj": obj,
        "subject_organization": subject,
        "division_code": subject.division_id,
        "payload": {**payload, "source": "load_demo"},
    }


def _waste_codes() -> dict[str, WasteCode]:
    codes = {wc.code: wc for wc in WasteCode.objects.current().filter(code__in=nantong.DEMO_WASTE_CODES)}
    missing = sorted(set(nantong.DEMO_WASTE_CODES) - set(codes))
    if missing:
        raise RuntimeError(
            f"waste codes missing from the catalogue in force: {', '.join(missing)} (run migrate)"
        )
    return codes


def _check_divisions() -> None:
    wanted = {nantong.CITY_CODE, *nantong.DIVISION_BY_CODE}
    present = set(Division.objects.filter(code__in=wanted).values_list("code", flat=True))
    if present != wanted:
        raise RuntimeError(f"divisions missing: {', '.join(sorted(wanted - present))} (run migrate)")


def write_keys(keys: dict[str, str]) -> Path:
    """Write the plaintext device keys for the simulator, readable by the owner only."""
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=1, sort_keys=True)
    tmp.replace(path)
    return path


def demo_load(
    *, seed: int = nantong.DEFAULT_SEED, producers: int = DEFAULT_PRODUCERS, progress: Progress | None = None
) -> DemoSummary:
    """Load the whole demo in one transaction and write the device keys file. Raises if already loaded."""
    started = time.monotonic()
    report = progress or (lambda fraction, label: None)
    if producers < 1:
        raise ValueError("need at least one producer")
    _check_divisions()
    codes = _waste_codes()
    report(0.0, "生成 planning")
    builder = _Builder(seed=seed, producers=producers, today=timezone.localdate())
    plan = builder.build()
    assert builder.demo_producer is not None
    # Hashing is deliberately slow (PBKDF2); two hashes for 1,200 producers instead of 1,200.
    shared_code = make_password(OTHER_SIGNATURE_CODE)
    for org in plan.organizations:
        if org.kind == OrganizationKind.PRODUCER:
            org.signature_code_hash = shared_code
    builder.demo_producer.set_signature_code(DEMO_SIGNATURE_CODE)
    keys = {device.serial: device.rotate_key() for device, _ in plan.bins}
    writer = _Writer(plan, report, seed=seed)
    with transaction.atomic():
        if demo_is_loaded():
            raise RuntimeError("demo already loaded")
        counts = writer.write(codes)
        # Added last, so that "dispatcher" starts in the demo collector and can switch to this one.
        dispatcher = User.objects.get(username="dispatcher")
        second = Membership.objects.create(
            user=dispatcher, organization=builder.collectors[1], role=Role.ADMIN
        )
        event_record(
            action="accounts.membership.created",
            obj=second,
            subject_organization=second.organization,
            division_code=second.organization.division_id,
            payload={"user": dispatcher.username, "role": second.role, "source": "load_demo"},
        )
        counts["memberships"] += 1
        counts["open_requests"] = PickupRequest.objects.filter(status=RequestStatus.OPEN).count()
        counts["open_requests_demo_collector"] = PickupRequest.objects.filter(
            status=RequestStatus.OPEN, collector=builder.collectors[0]
        ).count()
    report(1.0, "完成 done")
    path = write_keys(keys)
    return DemoSummary(counts=counts, seconds=time.monotonic() - started, keys_file=path)


def demo_keys_reissue() -> Path:
    """The demo is in the database but its keys file is gone: give every demo bin a new key and write it.

    The old keys stop working, as with any key rotation; each rotation is an audit event. The file is
    written after the commit, so it never holds keys the database does not know.
    """
    keys: dict[str, str] = {}
    with transaction.atomic():
        devices = list(
            Bin.objects.select_related("site__organization")
            .filter(serial__startswith=BIN_SERIAL_PREFIX)
            .order_by("serial")
        )
        now = timezone.now()
        for device in devices:
            keys[device.serial] = device.rotate_key()
            device.updated_at = now  # bulk_update skips auto_now
        Bin.objects.bulk_update(devices, ["key_prefix", "key_hash", "updated_at"], batch_size=500)
        for device in devices:
            event_record(
                action="devices.bin.key_rotated",
                obj=device,
                subject_organization=device.site.organization,
                division_code=device.site.division_id,
                payload={"key_prefix": device.key_prefix, "source": "load_demo"},
            )
    return write_keys(keys)
