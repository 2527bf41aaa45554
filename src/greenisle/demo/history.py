"""The demo's past: what the platform recorded from the start of last year until a week ago.

Every producer's smart bin was emptied every few weeks or months, when it crossed its threshold. Its
containers were labelled at the bin, loaded and weighed, signed for, carried to its collector's
warehouse and received there (办法 Art. 13–18). Each month the collector shipped what it had received in
the month before on to the disposal facility on an onward manifest (办法 Art. 31), and the facility
received and incinerated it (D10). What a collector received in the last weeks is still in its
warehouse, within its 90 working days; what a bin holds now is labelled and in store at the producer.

This module decides what happened when; :mod:`greenisle.demo.history_rows` writes what each step
writes (containers, manifests, lines, ledger records per HJ 1259-2022 Appendix B, audit events) and
inserts it. Weights on the way agree, so the mass balance of every unit closes.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from greenisle.catalog.models import WasteCode
from greenisle.core.workdays import add_working_days, is_working_day
from greenisle.demo.history_rows import TZ, Progress, Rows, Times, local_time, waste
from greenisle.devices.models import Bin
from greenisle.dispatch.models import Vehicle
from greenisle.ledger.events import COLLECTION_METHOD
from greenisle.ledger.models import RecordType
from greenisle.manifests.choices import ManifestKind, SignatureMethod
from greenisle.manifests.models import Container, Manifest, ManifestLine
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Licence, Organization, ServiceContract, Site

# The facility incinerates what it receives (its licence is a disposal licence; HJ 1259 Table C.2 D10).
FACILITY_METHOD = "D10"
# A bin is emptied when it crosses its threshold: about this share of its capacity each time.
PICKUP_SHARE = 0.8


def history_start(today: dt.date) -> dt.date:
    """The first day the demo's platform records: 1 January of last year."""
    return dt.date(today.year - 1, 1, 1)


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
    bin_serial: str
    interval: int  # days between pickups
    # kg a year per code: what the history makes and what a plan without a past year estimates.
    annual_kg: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class Received:
    """A container received at a collector's warehouse: what its onward shipment starts from."""

    container: Container
    line: ManifestLine
    manifest: Manifest
    stored_batch: str


@dataclass
class Collector:
    organization: Organization
    warehouse: Site
    licence_number: str
    vehicles: list[Vehicle]
    received: list[Received] = field(default_factory=list)


class HistoryWriter:
    """Plans the demo's past in memory (:meth:`build`), then inserts it (:meth:`write`)."""

    def __init__(self, *, today: dt.date, seed: int, progress: Progress | None = None) -> None:
        self.rng = random.Random(seed + 5)
        self.start = history_start(today)
        self.end = today - dt.timedelta(days=7)  # the live platform takes over from here
        self.progress = progress or (lambda fraction, label: None)
        self.rows = Rows()
        self.clients: list[Client] = []
        self.collectors: dict[Any, Collector] = {}

    # -- what there is ------------------------------------------------------------------------------

    def _load(self) -> None:
        """Every producer with a bin and a contract; its history starts when both the contract and its
        collector's licence were in force (and not before the platform's first day). Each bin is
        emptied every ``interval`` days, so a code's yearly amount follows from the bin's size."""
        licences = {lic.organization_id: lic for lic in Licence.objects.exclude(licence_type="dg_transport")}
        contracts = {
            c.producer_id: c
            for c in ServiceContract.objects.select_related("collector").order_by("valid_from")
        }
        vehicles: dict[Any, list[Vehicle]] = defaultdict(list)
        for vehicle in Vehicle.objects.order_by("plate"):
            vehicles[vehicle.collector_id].append(vehicle)
        for org in Organization.objects.filter(kind=OrganizationKind.COLLECTOR):
            warehouse = org.sites.order_by("created_at").first()  # as manifests.services._receiver_site
            licence = licences.get(org.pk)
            if warehouse is not None and licence is not None:
                self.collectors[org.pk] = Collector(org, warehouse, licence.number, vehicles[org.pk])
        bins = (
            Bin.objects.select_related("site__organization")
            .prefetch_related("waste_codes")
            .order_by("serial")
        )
        seen: set[Any] = set()  # a producer's first bin is the one emptied
        for device in bins:
            producer = device.site.organization
            contract = contracts.get(producer.pk)
            if (
                producer.kind != OrganizationKind.PRODUCER
                or contract is None
                or contract.collector_id not in self.collectors
                or producer.pk in seen
            ):
                continue
            seen.add(producer.pk)
            codes = sorted(device.waste_codes.all(), key=lambda c: c.code)
            interval = self.rng.randint(60, 180)
            shares = [self.rng.uniform(0.3, 1.0) for _ in codes]
            per_year = float(device.capacity_kg) * PICKUP_SHARE * 365 / interval
            self.clients.append(
                Client(
                    producer=producer,
                    site=device.site,
                    collector=contract.collector,
                    codes=codes,
                    since=max(self.start, contract.valid_from, licences[contract.collector_id].valid_from),
                    delegated=contract.delegated_signing,
                    bin_serial=device.serial,
                    interval=interval,
                    annual_kg={
                        code.code: Decimal(f"{per_year * share / sum(shares):.1f}")
                        for code, share in zip(codes, shares, strict=True)
                    },
                )
            )

    # -- steps ----------------------------------------------------------------------------------------

    def _label(self, client: Client, code: WasteCode, kg: Decimal, at: dt.datetime) -> tuple[Container, str]:
        container, stored = self.rows.label(
            producer=client.producer,
            site=client.site,
            collector=client.collector,
            code=code,
            kg=kg,
            at=at,
            point=client.bin_serial,
        )
        return container, stored.batch_code

    def collection(self, client: Client, day: dt.date, weights: Sequence[tuple[WasteCode, Decimal]]) -> None:
        """One pickup: containers labelled at the bin, loaded, signed for, carried and received."""
        collector = self.collectors[client.collector.pk]
        loaded = local_time(day, self.rng.randint(9 * 60, 15 * 60))
        signed = loaded + dt.timedelta(minutes=self.rng.randint(3, 10))
        departed = signed + dt.timedelta(minutes=self.rng.randint(2, 8))
        delivered = departed + dt.timedelta(minutes=self.rng.randint(60, 200))
        manifest = self.rows.manifest(
            created=loaded,
            times=Times(
                signed, departed, delivered, delivered + dt.timedelta(minutes=self.rng.randint(10, 40))
            ),
            kind=ManifestKind.COLLECTION,
            producer=client.producer,
            producer_site=client.site,
            carrier=collector.organization,
            receiver=collector.organization,
            receiver_site=collector.warehouse,
            vehicle=self.rng.choice(collector.vehicles) if collector.vehicles else None,
            producer_signature_method=SignatureMethod.DELEGATED if client.delegated else SignatureMethod.CODE,
        )
        for code, kg in weights:
            # Labelled when the waste went into the container at the bin, days before the pickup.
            labelled = local_time(
                max(client.since, day - dt.timedelta(days=self.rng.randint(0, 12))),
                self.rng.randint(8 * 60, 17 * 60),
            )
            container, stored = self._label(
                client, code, kg, min(labelled, loaded - dt.timedelta(minutes=30))
            )
            line = self.rows.line(manifest, container, kg)
            out = self.rows.record(
                organization=client.producer,
                site=client.site,
                record_type=RecordType.STORAGE_OUT,
                container=container,
                weight_kg=kg,
                at=loaded,
                source_batch_code=stored,
                destination=collector.organization.name,
                counterparty=collector.organization,
            )
            received = self.rows.handover(
                container=container,
                weight_kg=kg,
                manifest=manifest,
                sent_batch=out.batch_code,
                sender_site=client.site,
                receiver_site=collector.warehouse,
                method=COLLECTION_METHOD,
                licence_number=collector.licence_number,
            )
            collector.received.append(Received(container, line, manifest, received.batch_code))

    def onward(
        self, collector: Collector, day: dt.date, items: Sequence[Received], facility: Collector
    ) -> None:
        """The collector ships a month's receipts to the facility, which receives and incinerates them."""
        signed = local_time(day, 8 * 60 + self.rng.randint(30, 90))
        departed = signed + dt.timedelta(minutes=20)
        delivered = departed + dt.timedelta(minutes=self.rng.randint(90, 180))
        manifest = self.rows.manifest(
            created=signed,
            times=Times(
                signed,
                departed,
                delivered,
                delivered + dt.timedelta(minutes=30),
                treated=local_time(add_working_days(day, 1), 10 * 60),
            ),
            kind=ManifestKind.ONWARD,
            producer=collector.organization,
            producer_site=collector.warehouse,
            carrier=collector.organization,
            receiver=facility.organization,
            receiver_site=facility.warehouse,
            vehicle=collector.vehicles[0] if collector.vehicles else None,
            producer_signature_method=SignatureMethod.SESSION,
            treatment_method=FACILITY_METHOD,
        )
        sources = {item.manifest.pk: item.manifest for item in items}
        self.rows.sources += [
            (manifest, source) for source in sorted(sources.values(), key=lambda m: m.number)
        ]
        for item in items:
            container, kg = item.container, item.line.accepted_weight_kg
            assert kg is not None and manifest.treated_at is not None
            self.rows.line(manifest, container, kg, source=item.line)
            out = self.rows.record(
                organization=collector.organization,
                site=collector.warehouse,
                record_type=RecordType.STORAGE_OUT,
                container=container,
                weight_kg=kg,
                at=departed,
                source_batch_code=item.stored_batch,
                destination=facility.organization.name,
                counterparty=facility.organization,
                manifest=manifest,
            )
            stored = self.rows.handover(
                container=container,
                weight_kg=kg,
                manifest=manifest,
                sent_batch=out.batch_code,
                sender_site=collector.warehouse,
                receiver_site=facility.warehouse,
                method=FACILITY_METHOD,
                licence_number=facility.licence_number,
            )
            self.rows.record(
                organization=facility.organization,
                site=facility.warehouse,
                record_type=RecordType.OWN_DISPOSAL,
                container=container,
                weight_kg=kg,
                at=manifest.treated_at,
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
            kg = min(kg, waste(code.code).container_kg)
            labelled_on = min(last + dt.timedelta(days=self.rng.randint(1, days)), self.end)
            self._label(client, code, Decimal(f"{kg:.1f}"), local_time(labelled_on, 16 * 60))

    # -- the whole past ---------------------------------------------------------------------------------

    def _pickups(self, client: Client) -> None:
        """The bin's pickups from ``since`` to a week ago, then what it holds now."""
        interval = client.interval
        last = client.since
        day = _working_day_on_or_after(client.since + dt.timedelta(days=self.rng.randint(15, interval)))
        while day < self.end:
            days = (day - last).days
            weights: list[tuple[WasteCode, Decimal]] = []
            for code in client.codes:
                kg = float(client.annual_kg[code.code]) * days / 365 * self.rng.uniform(0.75, 1.25)
                if kg >= 2:
                    count = math.ceil(kg / waste(code.code).container_kg)  # split at a drum's or bag's weight
                    weights += [(code, Decimal(f"{kg / count:.1f}"))] * count
            if weights:
                self.collection(client, day, weights)
                last = day
            day = _working_day_on_or_after(day + dt.timedelta(days=interval + self.rng.randint(-10, 10)))
        self.in_the_bin(client, last)

    def build(self) -> dict[str, int]:
        """Plan every pickup and onward shipment in memory."""
        self._load()
        facility_org = Organization.objects.filter(kind=OrganizationKind.FACILITY).order_by("name").first()
        facility_site = facility_org.sites.order_by("created_at").first() if facility_org else None
        licence = (
            Licence.objects.filter(organization=facility_org).exclude(licence_type="dg_transport").first()
        )
        if facility_org is None or facility_site is None or licence is None:
            raise RuntimeError("the demo has no licensed facility with a site")
        facility = Collector(facility_org, facility_site, licence.number, [])
        for client in self.clients:
            self._pickups(client)
        # Onward: early each month, what came in during the month before (办法 Art. 31).
        onward = 0
        for collector in self.collectors.values():
            by_month: dict[tuple[int, int], list[Received]] = defaultdict(list)
            for item in collector.received:
                assert item.manifest.received_at is not None
                local = item.manifest.received_at.astimezone(TZ)
                by_month[(local.year, local.month)].append(item)
            for (year, month), items in sorted(by_month.items()):
                day = add_working_days(dt.date(year + month // 12, month % 12 + 1, 1), self.rng.randint(1, 4))
                if add_working_days(day, 1) < self.end:  # else still in the warehouse
                    self.onward(collector, day, items, facility)
                    onward += 1
        rows = self.rows
        return {
            "history_containers": len(rows.containers),
            "history_containers_in_bins": len(rows.containers) - len(rows.lines),
            "history_manifests": len(rows.manifests) - onward,
            "history_onward_manifests": onward,
            "history_ledger_records": len(rows.records),
        }

    def write(self) -> None:
        """Insert what :meth:`build` planned. Inside the caller's transaction."""
        self.rows.insert(self.progress, before=self.end)
        self._registered_since()

    def _registered_since(self) -> None:
        """Each producer and its site joined the platform when its history starts (its contract, or 1
        January last year), not when the demo was loaded: rules that ask what a site owed last year
        (annual declaration, plan) see the same past as its ledger."""
        sites, producers = [], {}
        for client in self.clients:
            joined = local_time(client.since, 8 * 60)
            if client.site.created_at > joined:
                client.site.created_at = joined
                sites.append(client.site)
            if client.producer.created_at > joined:
                client.producer.created_at = joined
                producers[client.producer.pk] = client.producer
        Site.objects.bulk_update(sites, ["created_at"], batch_size=500)
        Organization.objects.bulk_update(list(producers.values()), ["created_at"], batch_size=500)
