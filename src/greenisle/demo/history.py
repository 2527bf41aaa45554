"""The demo's past: what the platform recorded from the start of last year until a week ago.

Every producer's smart bin was emptied every few weeks or months. Its containers were labelled at the
bin, loaded and weighed, signed for, carried to its collector's warehouse and received there (办法
Art. 13–18). Each month the collector shipped what it had received in the month before on to the
disposal facility on an onward manifest (办法 Art. 31), and the facility received and incinerated it
(D10). What a collector received in the last weeks is still in its warehouse, within its 90 working days.

Containers, manifests, their lines and the ledger records those steps write (HJ 1259-2022 §6.2,
Appendix B: production, storage-in and -out at the bin, the collector's storage-in, the producer's
outsourced record; the collector's storage-out and outsourced record; the facility's storage-in and
own disposal) are bulk inserted. Every step still gets its audit event, in order, in the same
transaction: each container's labelling, each manifest's creation, signature, departure, delivery,
receipt (and treatment), each ledger record. Container codes, manifest numbers and batch codes follow
the services' formats, and their counters are left at the last serial used, so live numbering goes on
from there. Weights on the way agree, so the mass balance of every unit closes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from greenisle.accounts.models import Membership
from greenisle.audit.services import NewEvent, events_record
from greenisle.catalog.models import WasteCode
from greenisle.core.workdays import add_working_days, is_working_day
from greenisle.devices.models import Bin
from greenisle.dispatch.models import Vehicle
from greenisle.ledger import core as ledger_core
from greenisle.ledger.batch_codes import format_batch_code
from greenisle.ledger.events import COLLECTION_METHOD
from greenisle.ledger.models import LedgerRecord, LedgerSerial, ReceiverType, RecordType
from greenisle.manifests.choices import (
    LineDecision,
    ManifestKind,
    ManifestStatus,
    ReceiptOutcome,
    SignatureMethod,
    WasteForm,
)
from greenisle.manifests.labels import _default_precautions, container_code
from greenisle.manifests.models import Container, ContainerSerial, Manifest, ManifestLine, ManifestSerial
from greenisle.manifests.numbering import format_number
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.identifiers import province_city
from greenisle.organizations.models import Licence, Organization, ServiceContract, Site
from greenisle.organizations.provinces import province_of

Progress = Callable[[float, str], None]
TZ = dt.timezone(dt.timedelta(hours=8))
# The facility incinerates what it receives (its licence is a disposal licence; HJ 1259 Table C.2 D10).
FACILITY_METHOD = "D10"
RECEIPT_WORKING_DAYS = 5  # 办法 Art. 18
ZERO = Decimal("0")


@dataclass(frozen=True)
class Waste:
    """How a small producer's waste of one code is packed and what its label says (HJ 1276-2022)."""

    form: str
    main: str
    hazardous: str
    container_kg: int  # what one container holds at most


WASTES: dict[str, Waste] = {
    "900-214-08": Waste(WasteForm.LIQUID, "废机油、废齿轮油", "矿物油、多环芳烃", 200),
    "900-249-08": Waste(WasteForm.SOLID, "废机油滤芯、废油桶", "矿物油", 150),
    "900-041-49": Waste(WasteForm.SOLID, "含油抹布、手套", "矿物油", 150),
    "900-252-12": Waste(WasteForm.SEMI_SOLID, "废油漆渣、废漆桶", "有机溶剂、颜料", 150),
    "900-253-12": Waste(WasteForm.SEMI_SOLID, "废油墨、清洗溶剂", "有机溶剂、颜料", 150),
    "900-006-09": Waste(WasteForm.LIQUID, "废切削液、乳化液", "矿物油、表面活性剂", 200),
    "900-047-49": Waste(WasteForm.LIQUID, "实验室废液", "有机溶剂、酸碱", 60),
    "900-039-49": Waste(WasteForm.SOLID, "废活性炭", "挥发性有机物", 150),
}
DEFAULT_WASTE = Waste(WasteForm.SOLID, "危险废物", "见危险特性", 150)


def history_start(today: dt.date) -> dt.date:
    """The first day the demo's platform records: 1 January of last year."""
    return dt.date(today.year - 1, 1, 1)


def _at(day: dt.date, minutes: int) -> dt.datetime:
    """Beijing time ``minutes`` after midnight of ``day``."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ) + dt.timedelta(minutes=minutes)


def _working_day_on_or_after(day: dt.date) -> dt.date:
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


@dataclass
class Client:
    producer: Organization
    site: Site
    collector: Organization
    codes: list[WasteCode]
    since: dt.date
    delegated: bool
    capacity_kg: Decimal
    # kg a year per code: what the history makes and what a plan without a past year estimates.
    annual_kg: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Received:
    """A container received at a collector's warehouse: what its onward shipment starts from."""

    container: Container
    line: ManifestLine
    manifest: Manifest
    stored_batch: str
    at: dt.datetime


class HistoryWriter:
    """Builds the rows of the demo's past in memory, then inserts them with their audit events."""

    BATCH = 500

    def __init__(self, *, today: dt.date, seed: int, progress: Progress | None = None) -> None:
        self.today = today
        self.rng = random.Random(seed + 5)
        self.start = history_start(today)
        self.end = today - dt.timedelta(days=7)  # the live platform takes over from here
        self.progress = progress or (lambda fraction, label: None)
        self.containers: list[Container] = []
        self.manifests: list[Manifest] = []
        self.lines: list[ManifestLine] = []
        self.onward_lines: list[ManifestLine] = []  # inserted after the lines they come from
        self.sources: list[tuple[Manifest, Manifest]] = []
        self.records: list[LedgerRecord] = []
        self.events: list[NewEvent] = []
        self.ledger_serials: dict[tuple[Any, str, dt.date], int] = defaultdict(int)
        self.container_serials: dict[tuple[Any, dt.date], int] = defaultdict(int)
        self.manifest_serials: dict[tuple[str, int], int] = {
            (row.province_city, row.year): row.last_serial for row in ManifestSerial.objects.all()
        }
        self.received: dict[Any, list[Received]] = defaultdict(list)
        self.clients: list[Client] = []
        self.bin_serials: dict[Any, str] = {}
        # When each container and manifest was made (the insert stamps created_at with now).
        self.created_at: dict[Any, dt.datetime] = {}

    # -- what there is ------------------------------------------------------------------------

    def load_clients(self) -> list[Client]:
        """Every producer with a bin and a contract: the history starts when both it and its
        collector's licence were in force (and not before the platform's first day)."""
        licences = {
            lic.organization_id: lic.valid_from
            for lic in Licence.objects.filter(organization__kind=OrganizationKind.COLLECTOR).exclude(
                licence_type="dg_transport"
            )
        }
        contracts = {
            c.producer_id: c
            for c in ServiceContract.objects.select_related("collector").order_by("valid_from")
        }
        clients: list[Client] = []
        bins = (
            Bin.objects.select_related("site__organization")
            .prefetch_related("waste_codes")
            .order_by("serial")
        )
        seen: set[Any] = set()
        for device in bins:
            producer = device.site.organization
            contract = contracts.get(producer.pk)
            if producer.kind != OrganizationKind.PRODUCER or contract is None or producer.pk in seen:
                continue
            seen.add(producer.pk)
            since = max(self.start, contract.valid_from, licences.get(contract.collector_id, self.start))
            codes = sorted(device.waste_codes.all(), key=lambda c: c.code)
            # Each code's share of what the bin holds (turned into kg a year once the interval is drawn).
            shares = [self.rng.uniform(0.3, 1.0) for _ in codes]
            annual = {
                code.code: Decimal(f"{share / sum(shares):.4f}")
                for code, share in zip(codes, shares, strict=True)
            }
            clients.append(
                Client(
                    producer=producer,
                    site=device.site,
                    collector=contract.collector,
                    codes=codes,
                    since=since,
                    delegated=contract.delegated_signing,
                    capacity_kg=device.capacity_kg,
                    annual_kg=annual,
                )
            )
        self.clients = clients
        return clients

    # -- numbers --------------------------------------------------------------------------------

    def _batch(self, site: Site, record_type: str, day: dt.date) -> str:
        key = (site.pk, record_type, day)
        self.ledger_serials[key] += 1
        return format_batch_code(record_type, day, self.ledger_serials[key])

    def _manifest_number(self, division_code: str, year: int) -> str:
        region = province_city(division_code)
        serial = self.manifest_serials.get((region, year), 0) + 1
        self.manifest_serials[(region, year)] = serial
        return format_number(year, region, serial)

    # -- rows -------------------------------------------------------------------------------------

    def _record(
        self,
        *,
        organization: Organization,
        site: Site,
        record_type: str,
        waste_code: WasteCode,
        container: Container,
        weight_kg: Decimal,
        at: dt.datetime,
        external: bool = False,
        **fields: Any,
    ) -> LedgerRecord:
        record = LedgerRecord(
            id=uuid.uuid4(),
            organization=organization,
            site=site,
            record_type=record_type,
            batch_code=self._batch(site, record_type, at.astimezone(TZ).date()),
            waste_code=waste_code,
            container_code=container.code,
            weight_kg=weight_kg,
            stock_effect=ledger_core.stock_effect(record_type, external=external),
            occurred_at=at,
            **fields,
        )
        self.records.append(record)
        self.events.append(
            NewEvent(
                action=f"ledger.record.{record_type}",
                obj=record,
                organization=organization,
                subject_organization=organization,
                division_code=site.division_id,
                payload={
                    "batch_code": record.batch_code,
                    "entry": "event",
                    "waste_code": waste_code.code,
                    "container_code": container.code,
                    "weight_kg": str(weight_kg),
                    "manifest": str(fields["manifest"].pk) if fields.get("manifest") else None,
                    "source": "load_demo",
                },
            )
        )
        return record

    def _manifest_events(self, manifest: Manifest, steps: Sequence[tuple[str, dt.datetime]]) -> None:
        division = manifest.producer_site.division_id
        for action, at in steps:
            self.events.append(
                NewEvent(
                    action=f"manifests.manifest.{action}",
                    obj=manifest,
                    organization=manifest.carrier if action != "received" else manifest.receiver,
                    subject_organization=manifest.producer,
                    division_code=division,
                    payload={"number": manifest.number, "at": at.isoformat(), "source": "load_demo"},
                )
            )

    def label(
        self, client: Client, code: WasteCode, kg: Decimal, labelled_at: dt.datetime
    ) -> tuple[Container, LedgerRecord]:
        """A container labelled at the bin (HJ 1276-2022): produced and stored in at the producer's
        storage point, the bin (HJ 1259 Tables B.1, B.2)."""
        producer, site, collector = client.producer, client.site, client.collector
        waste = WASTES.get(code.code, DEFAULT_WASTE)
        labelled_on = labelled_at.astimezone(TZ).date()
        self.container_serials[(producer.pk, labelled_on)] += 1
        container = Container(
            id=uuid.uuid4(),
            code=container_code(
                producer.uscc, code.code, labelled_on, self.container_serials[(producer.pk, labelled_on)]
            ),
            producer=producer,
            site=site,
            collector=collector,
            waste_code=code,
            waste_name=code.short_name,
            form=waste.form,
            hazard_characteristics=code.hazard_characteristics,
            main_constituents=waste.main,
            hazardous_constituents=waste.hazardous,
            precautions=_default_precautions(code.hazard_characteristics),
            contact_name=producer.contact_name or producer.name,
            contact_phone=producer.contact_phone or "—",
            produced_on=labelled_on,
            weight_kg=kg,
        )
        self.containers.append(container)
        self.created_at[container.pk] = labelled_at
        self.events.append(
            NewEvent(
                action="manifests.container.labelled",
                obj=container,
                organization=producer,
                subject_organization=producer,
                division_code=site.division_id,
                payload={
                    "code": container.code,
                    "waste_code": code.code,
                    "weight_kg": str(kg),
                    "source": "load_demo",
                },
            )
        )
        point = self.bin_serials.get(site.pk, "")
        kind = container.get_form_display()
        produced = self._record(
            organization=producer,
            site=site,
            record_type=RecordType.PRODUCTION,
            waste_code=code,
            container=container,
            weight_kg=kg,
            at=labelled_at,
            container_type=kind,
            destination=point or "贮存点 / storage point",
        )
        stored = self._record(
            organization=producer,
            site=site,
            record_type=RecordType.STORAGE_IN,
            waste_code=code,
            container=container,
            weight_kg=kg,
            at=labelled_at,
            source_batch_code=produced.batch_code,
            facility_code=point,
            container_type=kind,
        )
        return container, stored

    def collection(
        self,
        client: Client,
        day: dt.date,
        weights: Sequence[tuple[WasteCode, Decimal]],
        *,
        warehouse: Site,
        vehicle: Vehicle | None,
        receiver_licence: str,
    ) -> None:
        """One pickup: containers labelled at the bin, loaded, signed for, carried and received."""
        producer, site, collector = client.producer, client.site, client.collector
        loaded_at = _at(day, self.rng.randint(9 * 60, 15 * 60))
        signed_at = loaded_at + dt.timedelta(minutes=self.rng.randint(3, 10))
        departed_at = signed_at + dt.timedelta(minutes=self.rng.randint(2, 8))
        delivered_at = departed_at + dt.timedelta(minutes=self.rng.randint(60, 200))
        received_at = delivered_at + dt.timedelta(minutes=self.rng.randint(10, 40))
        manifest = Manifest(
            id=uuid.uuid4(),
            number=self._manifest_number(site.division_id, day.year),
            status=ManifestStatus.RECEIVED,
            producer=producer,
            producer_site=site,
            carrier=collector,
            receiver=collector,
            receiver_site=warehouse,
            vehicle=vehicle,
            kind=ManifestKind.COLLECTION,
            producer_signed_at=signed_at,
            producer_signature_method=SignatureMethod.DELEGATED if client.delegated else SignatureMethod.CODE,
            departed_at=departed_at,
            delivered_at=delivered_at,
            received_at=received_at,
            receipt_due_on=add_working_days(delivered_at.astimezone(TZ).date(), RECEIPT_WORKING_DAYS),
            receipt_outcome=ReceiptOutcome.ACCEPTED,
        )
        self.manifests.append(manifest)
        self.created_at[manifest.pk] = loaded_at
        self._manifest_events(
            manifest,
            (
                ("created", loaded_at),
                ("signed", signed_at),
                ("departed", departed_at),
                ("delivered", delivered_at),
                ("received", received_at),
            ),
        )
        for code, kg in weights:
            # Labelled when the waste went into the container at the bin, days before the pickup.
            labelled_on = max(client.since, day - dt.timedelta(days=self.rng.randint(0, 12)))
            labelled_at = _at(labelled_on, self.rng.randint(8 * 60, 17 * 60))
            container, stored = self.label(
                client, code, kg, min(labelled_at, loaded_at - dt.timedelta(minutes=30))
            )
            line = ManifestLine(
                manifest=manifest,
                waste_code=code,
                container_code=container.code,
                container=container,
                weight_kg=kg,
                received_weight_kg=kg,
                decision=LineDecision.ACCEPTED,
                accepted_weight_kg=kg,
            )
            self.lines.append(line)
            out = self._record(
                organization=producer,
                site=site,
                record_type=RecordType.STORAGE_OUT,
                waste_code=code,
                container=container,
                weight_kg=kg,
                at=loaded_at,
                source_batch_code=stored.batch_code,
                destination=collector.name,
                counterparty=collector,
            )
            received = self._record(
                organization=collector,
                site=warehouse,
                record_type=RecordType.STORAGE_IN,
                waste_code=code,
                container=container,
                weight_kg=kg,
                at=received_at,
                external=True,
                manifest=manifest,
                counterparty=producer,
                source_batch_code=out.batch_code,
            )
            self._record(
                organization=producer,
                site=site,
                record_type=ledger_core.outsourced_type(COLLECTION_METHOD),
                waste_code=code,
                container=container,
                weight_kg=kg,
                at=received_at,
                manifest=manifest,
                counterparty=collector,
                source_batch_code=out.batch_code,
                method=COLLECTION_METHOD,
                receiver_type=ReceiverType.LICENSED,
                licence_number=receiver_licence,
                province=province_of(collector.division_id),
                destination=collector.name,
                left_site_at=departed_at,
                handler=producer.contact_name or "",
            )
            self.received[collector.pk].append(
                Received(container, line, manifest, received.batch_code, received_at)
            )

    def onward(
        self,
        collector: Organization,
        day: dt.date,
        items: Sequence[Received],
        *,
        warehouse: Site,
        facility: Organization,
        facility_site: Site,
        facility_licence: str,
        vehicle: Vehicle | None,
    ) -> None:
        """The collector ships a month's receipts to the facility, which receives and incinerates them."""
        signed_at = _at(day, 8 * 60 + self.rng.randint(30, 90))
        departed_at = signed_at + dt.timedelta(minutes=20)
        delivered_at = departed_at + dt.timedelta(minutes=self.rng.randint(90, 180))
        received_at = delivered_at + dt.timedelta(minutes=30)
        treated_at = _at(add_working_days(day, 1), 10 * 60)
        manifest = Manifest(
            id=uuid.uuid4(),
            number=self._manifest_number(warehouse.division_id, day.year),
            status=ManifestStatus.TREATED,
            producer=collector,
            producer_site=warehouse,
            carrier=collector,
            receiver=facility,
            receiver_site=facility_site,
            vehicle=vehicle,
            kind=ManifestKind.ONWARD,
            producer_signed_at=signed_at,
            producer_signature_method=SignatureMethod.SESSION,
            departed_at=departed_at,
            delivered_at=delivered_at,
            received_at=received_at,
            receipt_due_on=add_working_days(day, RECEIPT_WORKING_DAYS),
            receipt_outcome=ReceiptOutcome.ACCEPTED,
            treated_at=treated_at,
            treatment_method=FACILITY_METHOD,
        )
        self.manifests.append(manifest)
        self.created_at[manifest.pk] = signed_at
        self._manifest_events(
            manifest,
            (
                ("created", signed_at),
                ("signed", signed_at),
                ("departed", departed_at),
                ("delivered", delivered_at),
                ("received", received_at),
                ("treated", treated_at),
            ),
        )
        for source in sorted(
            {item.manifest.pk: item.manifest for item in items}.values(), key=lambda m: m.number
        ):
            self.sources.append((manifest, source))
        for item in items:
            container, kg = item.container, item.line.accepted_weight_kg
            assert kg is not None
            code = container.waste_code
            self.onward_lines.append(
                ManifestLine(
                    manifest=manifest,
                    waste_code=code,
                    container_code=container.code,
                    container=container,
                    weight_kg=kg,
                    received_weight_kg=kg,
                    decision=LineDecision.ACCEPTED,
                    accepted_weight_kg=kg,
                    source_line=item.line,
                )
            )
            out = self._record(
                organization=collector,
                site=warehouse,
                record_type=RecordType.STORAGE_OUT,
                waste_code=code,
                container=container,
                weight_kg=kg,
                at=departed_at,
                source_batch_code=item.stored_batch,
                destination=facility.name,
                counterparty=facility,
                manifest=manifest,
            )
            self._record(
                organization=collector,
                site=warehouse,
                record_type=ledger_core.outsourced_type(FACILITY_METHOD),
                waste_code=code,
                container=container,
                weight_kg=kg,
                at=received_at,
                manifest=manifest,
                counterparty=facility,
                source_batch_code=out.batch_code,
                method=FACILITY_METHOD,
                receiver_type=ReceiverType.LICENSED,
                licence_number=facility_licence,
                province=province_of(facility.division_id),
                destination=facility.name,
                left_site_at=departed_at,
                handler=collector.contact_name or "",
            )
            stored = self._record(
                organization=facility,
                site=facility_site,
                record_type=RecordType.STORAGE_IN,
                waste_code=code,
                container=container,
                weight_kg=kg,
                at=received_at,
                external=True,
                manifest=manifest,
                counterparty=collector,
                source_batch_code=out.batch_code,
            )
            self._record(
                organization=facility,
                site=facility_site,
                record_type=ledger_core.own_type(FACILITY_METHOD),
                waste_code=code,
                container=container,
                weight_kg=kg,
                at=treated_at,
                manifest=manifest,
                source_batch_code=stored.batch_code,
                method=FACILITY_METHOD,
            )

    def in_the_bin(self, client: Client, last: dt.date) -> None:
        """What the bin holds now: one labelled container per code since its last pickup, in store at
        the producer (the next pickup's driver scans these labels)."""
        days = max((self.end - last).days, 1)
        for code in client.codes:
            kg = max(float(client.annual_kg[code.code]) * days / 365 * self.rng.uniform(0.75, 1.25), 1.0)
            kg = min(kg, WASTES.get(code.code, DEFAULT_WASTE).container_kg)
            labelled_on = last + dt.timedelta(days=self.rng.randint(1, days))
            self.label(client, code, Decimal(f"{kg:.1f}"), _at(min(labelled_on, self.end), 16 * 60))

    # -- the whole past -----------------------------------------------------------------------------

    def build(self) -> dict[str, int]:
        """Plan every pickup and onward shipment in memory."""
        clients = self.load_clients()
        facility = Organization.objects.filter(kind=OrganizationKind.FACILITY).order_by("name").first()
        if facility is None:
            raise RuntimeError("the demo has no facility")
        facility_site = facility.sites.order_by("created_at").first()
        if facility_site is None:
            raise RuntimeError("the demo's facility has no site")
        licence_numbers = {
            lic.organization_id: lic.number for lic in Licence.objects.exclude(licence_type="dg_transport")
        }
        warehouses: dict[Any, Site] = {}
        vehicles: dict[Any, list[Vehicle]] = defaultdict(list)
        for vehicle in Vehicle.objects.order_by("plate"):
            vehicles[vehicle.collector_id].append(vehicle)
        self.bin_serials = {
            site_id: serial
            for site_id, serial in Bin.objects.order_by("-serial").values_list("site_id", "serial")
        }
        for client in clients:
            collector = client.collector
            if collector.pk not in warehouses:
                warehouse = collector.sites.order_by("created_at").first()
                if warehouse is None:
                    raise RuntimeError(f"collector {collector} has no warehouse")
                warehouses[collector.pk] = warehouse
            # The bin is emptied when it crosses its threshold: every ``interval`` days, about 80 % of
            # its capacity each time.
            interval = self.rng.randint(60, 180)
            pickup_kg = float(client.capacity_kg) * 0.8
            client.annual_kg = {
                code: Decimal(f"{pickup_kg * 365 / interval * float(share):.1f}")
                for code, share in client.annual_kg.items()
            }
            last = client.since
            day = _working_day_on_or_after(client.since + dt.timedelta(days=self.rng.randint(15, interval)))
            while day < self.end:
                days = (day - last).days
                weights: list[tuple[WasteCode, Decimal]] = []
                for code in client.codes:
                    kg = float(client.annual_kg[code.code]) * days / 365 * self.rng.uniform(0.75, 1.25)
                    if kg < 2:
                        continue
                    cap = WASTES.get(code.code, DEFAULT_WASTE).container_kg
                    count = math.ceil(kg / cap)
                    weights += [(code, Decimal(f"{kg / count:.1f}"))] * count
                if weights:
                    fleet = vehicles.get(collector.pk) or [None]
                    self.collection(
                        client,
                        day,
                        weights,
                        warehouse=warehouses[collector.pk],
                        vehicle=self.rng.choice(fleet),
                        receiver_licence=licence_numbers.get(collector.pk, ""),
                    )
                    last = day
                day = _working_day_on_or_after(day + dt.timedelta(days=interval + self.rng.randint(-10, 10)))
            self.in_the_bin(client, last)
        # Onward: early each month, what came in during the month before (办法 Art. 31).
        onward = 0
        for collector_id, items in self.received.items():
            by_month: dict[tuple[int, int], list[Received]] = defaultdict(list)
            for item in items:
                local = item.at.astimezone(TZ)
                by_month[(local.year, local.month)].append(item)
            collector = items[0].manifest.receiver
            for (year, month), month_items in sorted(by_month.items()):
                first = dt.date(year + month // 12, month % 12 + 1, 1)
                day = add_working_days(first, self.rng.randint(1, 4))
                if add_working_days(day, 1) >= self.end:
                    continue  # still in the warehouse
                fleet = vehicles.get(collector_id) or [None]
                self.onward(
                    collector,
                    day,
                    month_items,
                    warehouse=warehouses[collector_id],
                    facility=facility,
                    facility_site=facility_site,
                    facility_licence=licence_numbers.get(facility.pk, ""),
                    vehicle=fleet[0],
                )
                onward += 1
        return {
            "history_containers": len(self.containers),
            "history_containers_in_bins": len(self.containers) - len(self.lines),
            "history_manifests": len(self.manifests) - onward,
            "history_onward_manifests": onward,
            "history_ledger_records": len(self.records),
        }

    def write(self) -> None:
        """Insert the rows, their audit events and the counters. Inside the caller's transaction."""
        steps: list[tuple[str, Iterable[Any], Callable[[Sequence[Any]], Any]]] = [
            ("容器 containers", self.containers, lambda rows: Container.objects.bulk_create(rows)),
            ("联单 manifests", self.manifests, lambda rows: Manifest.objects.bulk_create(rows)),
            ("联单明细 manifest lines", self.lines, lambda rows: ManifestLine.objects.bulk_create(rows)),
            ("转移明细 onward lines", self.onward_lines, lambda rows: ManifestLine.objects.bulk_create(rows)),
            (
                "转移来源 onward sources",
                self.sources,
                lambda rows: Manifest.sources.through.objects.bulk_create(
                    [Manifest.sources.through(from_manifest=a, to_manifest=b) for a, b in rows]
                ),
            ),
            ("台账 ledger", self.records, lambda rows: LedgerRecord.objects.bulk_create(rows)),
            ("审计链 audit chain", self.events, events_record),
        ]
        total = sum(len(rows) for _, rows, _ in steps)  # type: ignore[arg-type]
        done = 0
        for label, rows, insert in steps:
            rows = list(rows)
            for start in range(0, len(rows), self.BATCH):
                insert(rows[start : start + self.BATCH])
                done += len(rows[start : start + self.BATCH])
                self.progress(done / max(total, 1), label)
        self._backdate()
        self._counters()

    def _backdate(self) -> None:
        """Containers and manifests list by creation: give them the time they were made."""
        for model, rows in ((Container, self.containers), (Manifest, self.manifests)):
            for start in range(0, len(rows), self.BATCH):
                chunk = rows[start : start + self.BATCH]
                for row in chunk:
                    row.created_at = row.updated_at = self.created_at[row.pk]
                model.objects.bulk_update(chunk, ["created_at", "updated_at"])

    def _counters(self) -> None:
        ContainerSerial.objects.bulk_create(
            [
                ContainerSerial(producer_id=producer_id, day=day, last_serial=serial)
                for (producer_id, day), serial in self.container_serials.items()
            ],
            batch_size=self.BATCH,
        )
        existing = set(
            LedgerSerial.objects.filter(day__lt=self.end).values_list("site_id", "record_type", "day")
        )
        clash = existing & set(self.ledger_serials)
        if clash:
            raise RuntimeError(f"ledger serials already used on {len(clash)} site-days")
        LedgerSerial.objects.bulk_create(
            [
                LedgerSerial(site_id=site_id, record_type=record_type, day=day, last_serial=serial)
                for (site_id, record_type, day), serial in self.ledger_serials.items()
            ],
            batch_size=self.BATCH,
        )
        for (region, year), serial in self.manifest_serials.items():
            row, _ = ManifestSerial.objects.select_for_update().get_or_create(province_city=region, year=year)
            if row.last_serial < serial:
                ManifestSerial.objects.filter(pk=row.pk).update(last_serial=serial)


def client_memberships() -> dict[Any, Any]:
    """A collector's first admin or dispatcher: who files for its clients in the demo."""
    users: dict[Any, Any] = {}
    for membership in (
        Membership.objects.select_related("user", "organization")
        .filter(organization__kind=OrganizationKind.COLLECTOR, role__in=["admin", "dispatcher"])
        .order_by("role", "user__username")
    ):
        users.setdefault(membership.organization_id, membership)
    return users
