"""The rows one step of the demo's history writes, and their insertion (:mod:`greenisle.demo.history`
decides what happens when).

A step writes what the live services write for it: a labelled container (HJ 1276-2022) with its
production and storage-in records at the producer's bin (HJ 1259 Tables B.1, B.2); a manifest with its
lines and the audit events of its signatures; a handover (办法 Art. 18 receipt: the receiver's
storage-in and the sender's outsourced record, Table B.5). Rows are kept in memory and bulk inserted
in dependency order with one audit event per step, then containers and manifests get the time they
were made (the insert stamps ``created_at`` with now) and the counters behind container codes,
manifest numbers and batch codes are left at the last serial used.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from greenisle.audit.services import NewEvent, events_record
from greenisle.catalog.models import WasteCode
from greenisle.core.workdays import add_working_days
from greenisle.ledger import core as ledger_core
from greenisle.ledger.batch_codes import format_batch_code
from greenisle.ledger.models import LedgerRecord, LedgerSerial, ReceiverType, RecordType
from greenisle.manifests.choices import LineDecision, ManifestStatus, ReceiptOutcome, WasteForm
from greenisle.manifests.labels import _default_precautions, container_code
from greenisle.manifests.models import Container, ContainerSerial, Manifest, ManifestLine, ManifestSerial
from greenisle.manifests.numbering import format_number
from greenisle.manifests.receipt_totals import receipt_totals_refresh
from greenisle.organizations.identifiers import province_city
from greenisle.organizations.models import Organization, Site
from greenisle.organizations.provinces import province_of

Progress = Callable[[float, str], None]
TZ = dt.timezone(dt.timedelta(hours=8))
RECEIPT_WORKING_DAYS = 5  # 办法 Art. 18


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


def waste(code: str) -> Waste:
    return WASTES.get(code, DEFAULT_WASTE)


def local_time(day: dt.date, minutes: int) -> dt.datetime:
    """Beijing time ``minutes`` after midnight of ``day``."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=TZ) + dt.timedelta(minutes=minutes)


@dataclass(frozen=True)
class Times:
    """A manifest's signatures: the sender's, departure, delivery, receipt (and treatment)."""

    signed: dt.datetime
    departed: dt.datetime
    delivered: dt.datetime
    received: dt.datetime
    treated: dt.datetime | None = None


class Rows:
    """The history's rows in memory, with the serials they used."""

    BATCH = 500

    def __init__(self) -> None:
        self.containers: list[Container] = []
        self.manifests: list[Manifest] = []
        self.lines: list[ManifestLine] = []
        self.onward_lines: list[ManifestLine] = []  # inserted after the lines they come from
        self.sources: list[tuple[Manifest, Manifest]] = []
        self.records: list[LedgerRecord] = []
        self.events: list[NewEvent] = []
        self.created_at: dict[Any, dt.datetime] = {}
        self.ledger_serials: dict[tuple[Any, str, dt.date], int] = defaultdict(int)
        self.container_serials: dict[tuple[Any, dt.date], int] = defaultdict(int)
        self.manifest_serials: dict[tuple[str, int], int] = {
            (row.province_city, row.year): row.last_serial for row in ManifestSerial.objects.all()
        }

    # -- ledger --------------------------------------------------------------------------------------

    def record(
        self,
        *,
        organization: Organization,
        site: Site,
        record_type: str,
        container: Container,
        weight_kg: Decimal,
        at: dt.datetime,
        external: bool = False,
        **fields: Any,
    ) -> LedgerRecord:
        """One ledger record and its audit event, as ``ledger_record_add`` writes them."""
        day = at.astimezone(TZ).date()
        self.ledger_serials[(site.pk, record_type, day)] += 1
        record = LedgerRecord(
            id=uuid.uuid4(),
            organization=organization,
            site=site,
            record_type=record_type,
            batch_code=format_batch_code(record_type, day, self.ledger_serials[(site.pk, record_type, day)]),
            waste_code=container.waste_code,
            container_code=container.code,
            weight_kg=weight_kg,
            stock_effect=ledger_core.stock_effect(record_type, external=external),
            occurred_at=at,
            **fields,
        )
        self.records.append(record)
        manifest = fields.get("manifest")
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
                    "waste_code": container.waste_code.code,
                    "container_code": container.code,
                    "weight_kg": str(weight_kg),
                    "manifest": str(manifest.pk) if manifest else None,
                    "source": "load_demo",
                },
            )
        )
        return record

    def handover(
        self,
        *,
        container: Container,
        weight_kg: Decimal,
        manifest: Manifest,
        sent_batch: str,
        sender_site: Site,
        receiver_site: Site,
        method: str,
        licence_number: str,
    ) -> LedgerRecord:
        """办法 Art. 18 receipt of one container: the receiver's storage-in (stock +1) and the sender's
        outsourced record with the method, licence and province (HJ 1259 Table B.5). Returns the
        receiver's record."""
        sender, receiver = manifest.producer, manifest.receiver
        assert manifest.received_at is not None
        stored = self.record(
            organization=receiver,
            site=receiver_site,
            record_type=RecordType.STORAGE_IN,
            container=container,
            weight_kg=weight_kg,
            at=manifest.received_at,
            external=True,
            manifest=manifest,
            counterparty=sender,
            source_batch_code=sent_batch,
        )
        self.record(
            organization=sender,
            site=sender_site,
            record_type=ledger_core.outsourced_type(method),
            container=container,
            weight_kg=weight_kg,
            at=manifest.received_at,
            manifest=manifest,
            counterparty=receiver,
            source_batch_code=sent_batch,
            method=method,
            receiver_type=ReceiverType.LICENSED,
            licence_number=licence_number,
            province=province_of(receiver.division_id),
            destination=receiver.name,
            left_site_at=manifest.departed_at,
            handler=sender.contact_name or "",
        )
        return stored

    # -- containers and manifests -----------------------------------------------------------------

    def label(
        self,
        *,
        producer: Organization,
        site: Site,
        collector: Organization,
        code: WasteCode,
        kg: Decimal,
        at: dt.datetime,
        point: str,
    ) -> tuple[Container, LedgerRecord]:
        """A container labelled at the bin ``point``: produced and stored in there. Returns the
        container and its storage-in record."""
        day = at.astimezone(TZ).date()
        self.container_serials[(producer.pk, day)] += 1
        info = waste(code.code)
        container = Container(
            id=uuid.uuid4(),
            code=container_code(producer.uscc, code.code, day, self.container_serials[(producer.pk, day)]),
            producer=producer,
            site=site,
            collector=collector,
            waste_code=code,
            waste_name=code.short_name,
            form=info.form,
            hazard_characteristics=code.hazard_characteristics,
            main_constituents=info.main,
            hazardous_constituents=info.hazardous,
            precautions=_default_precautions(code.hazard_characteristics),
            contact_name=producer.contact_name or producer.name,
            contact_phone=producer.contact_phone or "—",
            produced_on=day,
            weight_kg=kg,
        )
        self.containers.append(container)
        self.created_at[container.pk] = at
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
        kind = container.get_form_display()
        produced = self.record(
            organization=producer,
            site=site,
            record_type=RecordType.PRODUCTION,
            container=container,
            weight_kg=kg,
            at=at,
            container_type=kind,
            destination=point or "贮存点 / storage point",
        )
        stored = self.record(
            organization=producer,
            site=site,
            record_type=RecordType.STORAGE_IN,
            container=container,
            weight_kg=kg,
            at=at,
            source_batch_code=produced.batch_code,
            facility_code=point,
            container_type=kind,
        )
        return container, stored

    def manifest(self, *, created: dt.datetime, times: Times, **fields: Any) -> Manifest:
        """A manifest received in full (and treated, when ``times.treated``), with the audit events
        of each step. ``fields``: kind, parties, sites, vehicle, signature method, treatment method."""
        day = times.signed.astimezone(TZ).date()
        region = province_city(fields["producer_site"].division_id)
        serial = self.manifest_serials[(region, day.year)] = (
            self.manifest_serials.get((region, day.year), 0) + 1
        )
        manifest = Manifest(
            id=uuid.uuid4(),
            number=format_number(day.year, region, serial),
            status=ManifestStatus.TREATED if times.treated else ManifestStatus.RECEIVED,
            producer_signed_at=times.signed,
            departed_at=times.departed,
            delivered_at=times.delivered,
            received_at=times.received,
            treated_at=times.treated,
            receipt_due_on=add_working_days(times.delivered.astimezone(TZ).date(), RECEIPT_WORKING_DAYS),
            receipt_outcome=ReceiptOutcome.ACCEPTED,
            **fields,
        )
        self.manifests.append(manifest)
        self.created_at[manifest.pk] = created
        steps = [
            ("created", created),
            ("signed", times.signed),
            ("departed", times.departed),
            ("delivered", times.delivered),
            ("received", times.received),
        ]
        if times.treated:
            steps.append(("treated", times.treated))
        for action, at in steps:
            self.events.append(
                NewEvent(
                    action=f"manifests.manifest.{action}",
                    obj=manifest,
                    organization=manifest.receiver if action in ("received", "treated") else manifest.carrier,
                    subject_organization=manifest.producer,
                    division_code=manifest.producer_site.division_id,
                    payload={"number": manifest.number, "at": at.isoformat(), "source": "load_demo"},
                )
            )
        return manifest

    def line(
        self, manifest: Manifest, container: Container, kg: Decimal, *, source: ManifestLine | None = None
    ) -> ManifestLine:
        """A container on a manifest, accepted in full at receipt."""
        line = ManifestLine(
            manifest=manifest,
            waste_code=container.waste_code,
            container_code=container.code,
            container=container,
            weight_kg=kg,
            received_weight_kg=kg,
            decision=LineDecision.ACCEPTED,
            accepted_weight_kg=kg,
            source_line=source,
        )
        (self.onward_lines if source else self.lines).append(line)
        return line

    # -- insertion ----------------------------------------------------------------------------------

    def insert(self, progress: Progress, *, before: dt.date) -> None:
        """Insert the rows, their audit events and the counters. Inside the caller's transaction.
        ``before``: no live ledger serial may be in use before this day."""
        through = Manifest.sources.through
        steps: list[tuple[str, Sequence[Any], Callable[[Sequence[Any]], Any]]] = [
            ("容器 containers", self.containers, Container.objects.bulk_create),
            ("联单 manifests", self.manifests, Manifest.objects.bulk_create),
            ("联单明细 manifest lines", self.lines, ManifestLine.objects.bulk_create),
            ("转移明细 onward lines", self.onward_lines, ManifestLine.objects.bulk_create),
            (
                "统计汇总 receipt totals",
                self.manifests,
                lambda rows: receipt_totals_refresh([m.pk for m in rows]),
            ),
            (
                "转移来源 onward sources",
                self.sources,
                lambda rows: through.objects.bulk_create(
                    [through(from_manifest=a, to_manifest=b) for a, b in rows]
                ),
            ),
            ("台账 ledger", self.records, LedgerRecord.objects.bulk_create),
            ("审计链 audit chain", self.events, events_record),
        ]
        total = max(sum(len(rows) for _, rows, _ in steps), 1)
        done = 0
        for label, rows, insert in steps:
            for start in range(0, len(rows), self.BATCH):
                chunk = rows[start : start + self.BATCH]
                insert(chunk)
                done += len(chunk)
                progress(done / total, label)
        self._backdate()
        self._counters(before)

    def _backdate(self) -> None:
        """Containers and manifests list by creation: give them the time they were made."""
        for model, rows in ((Container, self.containers), (Manifest, self.manifests)):
            for start in range(0, len(rows), self.BATCH):
                chunk = rows[start : start + self.BATCH]
                for row in chunk:
                    row.created_at = row.updated_at = self.created_at[row.pk]
                model.objects.bulk_update(chunk, ["created_at", "updated_at"])  # type: ignore[attr-defined]

    def _counters(self, before: dt.date) -> None:
        ContainerSerial.objects.bulk_create(
            [
                ContainerSerial(producer_id=producer_id, day=day, last_serial=serial)
                for (producer_id, day), serial in self.container_serials.items()
            ],
            batch_size=self.BATCH,
        )
        used = set(LedgerSerial.objects.filter(day__lt=before).values_list("site_id", "record_type", "day"))
        if used & set(self.ledger_serials):
            raise RuntimeError("ledger serials of the history's days are already in use")
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
