"""The demo's plan: every row the Nantong demo will create, decided in memory and not yet saved.

Everything here comes from ``random.Random(seed)`` (primary keys too, through :class:`Ids`), so two
runs with the same seed and on the same day give the same registry. Nothing is written to the
database: :mod:`greenisle.demo.writer` writes a finished :class:`Plan`, and
:func:`greenisle.demo.loading.demo_load` ties the two together in one transaction.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password

from greenisle.accounts.choices import Role
from greenisle.accounts.models import User
from greenisle.demo import nantong
from greenisle.demo.credentials import hj212_mn_for, mqtt_username_for
from greenisle.demo.nantong import DivisionInfo, Industry
from greenisle.devices.models import Bin, Transport
from greenisle.dispatch.models import Depot, Driver, Vehicle, WasteClassGroup
from greenisle.organizations.choices import LicenceType, OrganizationKind
from greenisle.organizations.identifiers import uscc_with_check_digit, validate_uscc
from greenisle.organizations.models import Licence, Organization, ServiceContract, Site

# Bins above the 80 % threshold after loading: each has an open pickup request.
FULL_BINS = 20
# Of those, how many belong to the demo collector (the demo producer's bin is one of them).
FULL_BINS_DEMO_COLLECTOR = 5
BIN_SERIAL_PREFIX = "YC"
# How the demo's bins report (shares of the fleet, the rest HTTP). The demo producer's bin stays on HTTP.
TRANSPORT_SHARES: tuple[tuple[str, float], ...] = ((Transport.MQTT, 0.25), (Transport.HJ212, 0.25))
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


class Ids:
    """Deterministic UUIDs from the seeded generator, so two runs give the same primary keys."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


@dataclass
class Plan:
    """Unsaved rows, built in memory first so that each table is written with one bulk insert."""

    organizations: list[Organization] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    licences: list[tuple[Licence, Sequence[str]]] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    depots: list[Depot] = field(default_factory=list)
    class_groups: list[tuple[WasteClassGroup, Sequence[str]]] = field(default_factory=list)  # categories
    vehicle_groups: list[tuple[Vehicle, WasteClassGroup]] = field(default_factory=list)
    drivers: list[tuple[str, Driver]] = field(default_factory=list)  # username, profile
    contracts: list[ServiceContract] = field(default_factory=list)
    bins: list[tuple[Bin, Sequence[str]]] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    memberships: list[tuple[str, Organization, str]] = field(default_factory=list)  # username, org, role
    fills: dict[str, float] = field(default_factory=dict)  # bin serial → fill % now


class Builder:
    """Builds the plan from the seed. Pure Python apart from reading the divisions and waste codes."""

    def __init__(self, *, seed: int, producers: int, today: dt.date) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.new_id = Ids(random.Random(seed + 1))
        # The fleet's depots, groups and drivers draw from generators of their own, so that adding
        # them left every other row of a seed as it was.
        self.fleet_rng = random.Random(seed + 2)
        self.fleet_id = Ids(random.Random(seed + 3))
        # The registry's plan fields (legal representative, EIA and permit numbers) draw from their own.
        self.registry_rng = random.Random(seed + 4)
        self.today = today
        self.producer_count = producers
        self.plan = Plan()
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
        # A workshop's owner is often its contact person too.
        org.legal_representative = (
            org.contact_name if self.registry_rng.random() < 0.6 else nantong.person_name(self.registry_rng)
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

    def site_references(self, site: Site, org: Organization, division: DivisionInfo) -> None:
        """HJ 1259 Table A.1: most workshops hold an EIA registration form's filing number (登记表备案号)
        or an approval (批复文号); every one is registered for discharges (排污登记, USCC + 3 digits + Y)."""
        rng = self.registry_rng
        year = rng.randint(2016, 2023)
        if rng.random() < 0.3:
            site.eia_reference = f"通{division.short}环审〔{year}〕{rng.randint(10, 399)}号"
        elif rng.random() < 0.8:
            site.eia_reference = f"{year}{division.code}{rng.randint(10**7, 10**8 - 1)}"
        else:
            site.eia_reference = "无（豁免环评）/ none (exempt)"
        site.permit_reference = f"{org.uscc}{rng.randint(1, 3):03d}Y"

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
            warehouse = self.site(org, "危险废物集中收集贮存仓库", division)
            depot = Depot(
                id=self.fleet_id(),
                collector=org,
                name=warehouse.name,
                address=warehouse.address,
                latitude=warehouse.latitude,
                longitude=warehouse.longitude,
            )
            self.plan.depots.append(depot)
            groups = [
                WasteClassGroup(collector=org, name=name) for name, _categories in nantong.COMPATIBLE_GROUPS
            ]
            self.plan.class_groups += [
                (group, categories)
                for group, (_name, categories) in zip(groups, nantong.COMPATIBLE_GROUPS, strict=True)
            ]
            valid_from = self.today - dt.timedelta(days=self.rng.randint(100, 900))
            # Licensed since before the demo's history starts (1 January last year).
            valid_from = min(valid_from, dt.date(self.today.year - 1, 1, 1) - dt.timedelta(days=60))
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
            fleet: list[Vehicle] = []
            for number in range(vehicles):
                vehicle = Vehicle(
                    id=self.new_id(),
                    collector=org,
                    plate=self.plate(),
                    capacity_kg=Decimal(self.rng.choice((1495, 1990, 2990, 4495))),
                    dg_permit_number=f"苏交运管营字{code}{index:02d}{number + 1:04d}号",
                    dg_permit_valid_to=self.today + dt.timedelta(days=self.rng.randint(180, 900)),
                    depot=depot,
                )
                self.plan.vehicles.append(vehicle)
                fleet.append(vehicle)
                # The first truck carries any one group; the others are licensed for one group each.
                if number > 0:
                    self.plan.vehicle_groups.append((vehicle, groups[(number - 1) % len(groups)]))
            slug = f"c{index:02d}"
            demo = index == 1
            self.member(self.user(f"{slug}-admin"), org, Role.ADMIN)
            self.member(self.user("dispatcher" if demo else f"{slug}-dispatcher"), org, Role.DISPATCHER)
            for number in range(1, vehicles + 1):
                username = "driver" if demo and number == 1 else f"{slug}-driver{number}"
                self.member(self.user(username), org, Role.DRIVER)
                self.plan.drivers.append(
                    (
                        username,
                        Driver(
                            id=self.fleet_id(),
                            collector=org,
                            name=username,
                            licence_number=f"3206{self.fleet_rng.randint(10**13, 10**14 - 1)}",
                            qualification_number=f"320600{self.fleet_rng.randint(10**7, 10**8 - 1)}",
                            qualification_valid_to=self.today
                            + dt.timedelta(days=self.fleet_rng.randint(200, 1500)),
                            usual_vehicle=fleet[number - 1],
                        ),
                    )
                )
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
        valid_from = dt.date(self.today.year - 2, 1, 1)
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
        # A client since before the demo's history starts: two years of records to look at.
        self.plan.contracts[-1].valid_from = dt.date(self.today.year - 2, 9, 1)

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
        self.site_references(site, org, division)
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

    def transports(self) -> None:
        """About half the bins on HTTP, a quarter each on MQTT and HJ 212, spread over all collectors.

        A generator of its own (seed + 3) decides, so the rest of the registry is the same as before
        bins had transports. Usernames and MNs follow from the serial; the secrets are issued by
        :func:`greenisle.demo.loading.demo_load` (they are random, like the device keys).
        """
        rng = random.Random(self.seed + 3)
        devices = [device for device, _ in self.plan.bins[1:]]  # the demo producer's bin stays on HTTP
        rng.shuffle(devices)
        start = 0
        for transport, share in TRANSPORT_SHARES:
            count = round(len(devices) * share)
            for device in devices[start : start + count]:
                device.transport = transport
                if transport == Transport.MQTT:
                    device.mqtt_username = mqtt_username_for(device.serial)
                elif transport == Transport.HJ212:
                    device.hj212_mn = hj212_mn_for(device.serial)
            start += count

    def build(self) -> Plan:
        self.regulators()
        self.collectors_and_fleet()
        self.facility()
        self.producers()
        self.fills()
        self.transports()
        return self.plan
