"""Assessments of Alice's vehicle-repair workshop (崇川区, 320602) for 2025, reviewed by the 崇川 branch
and spot-checked by the city bureau.

``records`` writes a year of the workshop's platform records the way the loop leaves them: labelled
containers, their production and outsourced ledger records, the manifests they left on, the filed
plan, last year's declaration and a smart bin; each part can be left out to make a near miss.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from factories import BinFactory, LedgerRecordFactory, ManifestFactory, ManifestLineFactory, waste_code

from greenisle.ledger.models import Declaration, DeclarationStatus, RecordType
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.models import Container
from greenisle.organizations.models import Licence, Organization, Site
from greenisle.plans.models import ManagementPlan, PlanStatus, PlanWaste

YEAR = 2025
TODAY = dt.date(2025, 12, 31)
CODES = ("900-214-08", "900-041-49")


def at(month: int, day: int = 10, year: int = YEAR) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, 10, 0))


@pytest.fixture(autouse=True)
def _uploads(settings: Any, tmp_path: Any) -> None:
    settings.VAR_DIR = tmp_path


@pytest.fixture
def licensed(collector: Organization) -> Organization:
    """The collector's licence covers the whole of the assessed year."""
    Licence.objects.filter(organization=collector).update(valid_from=dt.date(2020, 1, 1))
    return collector


def write_records(
    org: Organization,
    site: Site,
    collector: Organization,
    *,
    labelled: bool = True,
    months: tuple[int, ...] = (3, 5),
    ledger_months: tuple[int, ...] | None = None,
    plan: bool = True,
    plan_filed: dt.date = dt.date(YEAR, 1, 15),
    declaration: bool = True,
    storage: bool = True,
    codes: tuple[str, ...] = CODES,
    planned: tuple[str, ...] = CODES,
) -> dict[str, Any]:
    ledger_months = months if ledger_months is None else ledger_months
    made: dict[str, Any] = {"manifests": [], "containers": []}
    for i, month in enumerate(months):
        code = codes[i % len(codes)]
        container_code = f"{org.uscc}{code.replace('-', '')}{YEAR}{month:02d}10{i + 1:04d}"
        if labelled:
            made["containers"].append(
                Container.objects.create(
                    code=container_code,
                    producer=org,
                    site=site,
                    collector=collector,
                    waste_code=waste_code(code),
                    waste_name="废矿物油",
                    form="liquid",
                    hazard_characteristics="T,I",
                    main_constituents="矿物油",
                    hazardous_constituents="矿物油",
                    contact_name="李爱丽",
                    contact_phone="13800000000",
                    produced_on=dt.date(YEAR, month, 10),
                    weight_kg=Decimal("30"),
                )
            )
        manifest = ManifestFactory(
            producer_site=site,
            carrier=collector,
            receiver=collector,
            status=ManifestStatus.RECEIVED,
            producer_signed_at=at(month, 10),
            departed_at=at(month, 10),
            delivered_at=at(month, 11),
            received_at=at(month, 12),
            receipt_due_on=dt.date(YEAR, month, 18),
        )
        ManifestLineFactory(manifest=manifest, waste_code=waste_code(code), container_code=container_code)
        made["manifests"].append(manifest)
        if month in ledger_months:
            LedgerRecordFactory(
                site=site,
                record_type=RecordType.PRODUCTION,
                stock_effect=1,
                occurred_at=at(month, 10),
                waste_code=waste_code(code),
                container_code=container_code,
                weight_kg=Decimal("30"),
            )
            LedgerRecordFactory(
                site=site,
                record_type=RecordType.OUTSOURCED_DISPOSAL,
                stock_effect=-1,
                occurred_at=at(month, 12),
                waste_code=waste_code(code),
                container_code=container_code,
                weight_kg=Decimal("30"),
                manifest=manifest,
            )
    # Last year's records, and the annual declaration of them (HJ 1259 §7).
    for record_type, effect, month in (
        (RecordType.PRODUCTION, 1, 6),
        (RecordType.OUTSOURCED_DISPOSAL, -1, 7),
    ):
        LedgerRecordFactory(
            site=site,
            record_type=record_type,
            stock_effect=effect,
            occurred_at=at(month, year=YEAR - 1),
            container_code=f"{org.uscc}-{YEAR - 1}",
        )
    if declaration:
        made["declaration"] = Declaration.objects.create(
            organization=org,
            site=site,
            kind="year",
            period_start=dt.date(YEAR - 1, 1, 1),
            period_end=dt.date(YEAR, 1, 1),
            label=str(YEAR - 1),
            due_on=dt.date(YEAR, 3, 31),
            management_class="registration",
            status=DeclarationStatus.SUBMITTED,
            generated_at=at(2, 1),
            submitted_at=at(3, 1),
            receipt_number=f"SB{YEAR}0001",
        )
    if plan:
        made["plan"] = ManagementPlan.objects.create(
            site=site,
            year=YEAR,
            status=PlanStatus.FILED,
            filing_number=f"NT-{YEAR}-0001",
            filed_at=timezone.make_aware(dt.datetime.combine(plan_filed, dt.time(9))),
        )
        for code in planned:
            row = PlanWaste.objects.create(
                plan=made["plan"], waste_code=waste_code(code), annual_t=Decimal("1")
            )
            row.receivers.add(collector)
    if storage:
        made["bin"] = BinFactory(site=site, collector=collector)
    return made


@pytest.fixture
def records(
    producer: Organization, producer_site: Site, licensed: Organization, contract: Any
) -> Callable[..., dict[str, Any]]:
    def _records(**kwargs: Any) -> dict[str, Any]:
        return write_records(producer, producer_site, licensed, **kwargs)

    return _records
