"""Declarations (HJ 1259-2022 §7) prepared from the ledger and submitted by the producer or, on its
behalf, by its collector (§7.1.3); frozen once submitted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from factories import waste_code

from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, PermissionDenied, ServiceError
from greenisle.ledger.core import period_of
from greenisle.ledger.declarations import (
    declaration_prepare,
    declaration_submit,
    declarations_owed,
    fingerprint,
)
from greenisle.ledger.models import DeclarationStatus, LedgerRecord, RecordType
from greenisle.ledger.services import ledger_entry_add, ledger_record_add, ledger_record_reverse
from greenisle.organizations.models import Licence
from greenisle.plans.models import SiteClassification

TODAY = timezone.localdate()
LAST_YEAR = TODAY.year - 1
OIL = "900-214-08"


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def record(site, record_type, kg, day, *, effect_external=False, **kw):
    return ledger_record_add(
        organization=site.organization,
        site=site,
        record_type=record_type,
        waste_code=waste_code(kw.pop("code", OIL)),
        container_code=kw.pop("container", "C-1"),
        weight_kg=Decimal(kg),
        occurred_at=at(day),
        external=effect_external,
        **kw,
    )


@pytest.fixture
def last_year(producer_site, collector, contract):
    """Last year at Alice's workshop: 30 kg of oil carried in from the year before, 500 kg produced,
    450 kg handed to the collector: 80 kg left at the year's end."""
    site = producer_site
    record(site, RecordType.PRODUCTION, "30", dt.date(LAST_YEAR - 1, 12, 20))
    record(site, RecordType.PRODUCTION, "300", dt.date(LAST_YEAR, 2, 3))
    record(site, RecordType.PRODUCTION, "200", dt.date(LAST_YEAR, 9, 3))
    record(
        site,
        RecordType.OUTSOURCED_DISPOSAL,
        "450",
        dt.date(LAST_YEAR, 10, 9),
        counterparty=collector,
        method="C1",
        destination=collector.name,
        licence_number="JSNT0612OOD001",
        province="江苏省",
    )
    return period_of("year", dt.date(LAST_YEAR, 6, 1))


def test_a_registration_unit_declares_its_year(producer_site, last_year, alice, collector):
    assert last_year in declarations_owed(producer_site, TODAY)
    declaration = declaration_prepare(site=producer_site, period=last_year)
    assert (declaration.status, declaration.label, declaration.due_on) == (
        DeclarationStatus.DRAFT,
        str(LAST_YEAR),
        dt.date(TODAY.year, 3, 31),
    )
    [row] = declaration.content["rows"]
    assert (row["opening_t"], row["generated_t"], row["closing_t"]) == ("0.030", "0.500", "0.080")
    assert row["outsourced"] == [
        {
            "province": "江苏省",
            "receiver": collector.name,
            "licence_number": "JSNT0612OOD001",
            "method": "C1",
            "t": "0.450",
        }
    ]
    submitted = declaration_submit(
        actor=alice, declaration_id=declaration.pk, figures_seen=fingerprint(declaration.content)
    )
    assert submitted.status == DeclarationStatus.SUBMITTED and submitted.submitted_by == alice
    assert submitted.receipt_number == f"SB320602{TODAY.year}000001"
    assert submitted.filed_by_organization is None
    assert [e.action for e in Event.objects.filter(object_id=str(declaration.pk)).order_by("id")] == [
        "ledger.declaration.confirmed",
        "ledger.declaration.submitted",
    ]


def test_a_submitted_declaration_is_frozen(producer_site, last_year, alice):
    declaration = declaration_prepare(site=producer_site, period=last_year)
    declaration_submit(actor=alice, declaration_id=declaration.pk)
    # A manual entry dated in the submitted year is refused: the correction is dated today.
    with pytest.raises(Conflict) as exc:
        ledger_entry_add(
            actor=alice,
            site_id=producer_site.pk,
            record_type="production",
            waste_code=OIL,
            container_code="LATE-1",
            weight_kg="5",
            occurred_at=at(dt.date(LAST_YEAR, 11, 1)),
        )
    assert exc.value.field == "occurred_at" and exc.value.code == "period_submitted"
    # A reversing entry lands today; preparing again returns the frozen declaration unchanged.
    produced = LedgerRecord.objects.filter(record_type="production", weight_kg=Decimal("200")).get()
    ledger_record_reverse(actor=alice, record_id=produced.pk, reason="重复录入 / entered twice")
    again = declaration_prepare(site=producer_site, period=last_year)
    assert again.pk == declaration.pk and again.content["rows"][0]["generated_t"] == "0.500"
    with pytest.raises(Conflict):
        declaration_submit(actor=alice, declaration_id=declaration.pk)


def test_the_collector_declares_on_its_clients_behalf(
    producer_site, last_year, dispatcher, collector, rival_dispatcher, driver
):
    declaration = declaration_prepare(site=producer_site, period=last_year)
    for person in (rival_dispatcher, driver):
        with pytest.raises(PermissionDenied):
            declaration_submit(actor=person, declaration_id=declaration.pk)
    submitted = declaration_submit(actor=dispatcher, declaration_id=declaration.pk)
    assert submitted.filed_by_organization == collector
    assert Event.objects.get(action="ledger.declaration.submitted").payload["on_behalf"] is True


def test_only_a_licence_holder_declares_for_others(producer_site, last_year, dispatcher, collector):
    Licence.objects.filter(organization=collector).update(valid_to=TODAY - dt.timedelta(days=1))
    declaration = declaration_prepare(site=producer_site, period=last_year)
    with pytest.raises(PermissionDenied, match="7.1.3"):
        declaration_submit(actor=dispatcher, declaration_id=declaration.pk)


def test_a_declaration_follows_the_ledger_until_submitted(producer_site, last_year, alice):
    declaration = declaration_prepare(site=producer_site, period=last_year)
    seen = fingerprint(declaration.content)
    produced = LedgerRecord.objects.filter(weight_kg=Decimal("300")).get()
    ledger_record_reverse(actor=alice, record_id=produced.pk, reason="称重错误 / wrong weight")
    # The reversal is dated today, outside last year: the figures do not move.
    assert fingerprint(declaration_prepare(site=producer_site, period=last_year).content) == seen
    # A late entry into the open year does: the person must look again before submitting.
    ledger_entry_add(
        actor=alice,
        site_id=producer_site.pk,
        record_type="production",
        waste_code=OIL,
        container_code="LATE-2",
        weight_kg="20",
        occurred_at=at(dt.date(LAST_YEAR, 12, 30)),
    )
    with pytest.raises(ServiceError) as exc:
        declaration_submit(actor=alice, declaration_id=declaration.pk, figures_seen=seen)
    assert exc.value.code == "figures_changed"
    refreshed = declaration_prepare(site=producer_site, period=last_year)
    assert refreshed.content["rows"][0]["generated_t"] == "0.520"


def test_a_period_not_over_is_not_declared(producer_site, contract, alice):
    SiteClassification.objects.create(site=producer_site, override_class="key")
    month = period_of("month", TODAY)
    declaration = declaration_prepare(site=producer_site, period=month)
    assert declaration.management_class == "key"
    with pytest.raises(ServiceError, match="尚未结束"):
        declaration_submit(actor=alice, declaration_id=declaration.pk)


def test_a_key_unit_owes_monthly_and_annual(producer_site, contract):
    SiteClassification.objects.create(site=producer_site, override_class="key")
    owed = declarations_owed(producer_site, dt.date(TODAY.year, 3, 10), since=dt.date(TODAY.year - 1, 12, 1))
    assert [p.label for p in owed] == [
        f"{TODAY.year - 1}-12",
        str(TODAY.year - 1),
        f"{TODAY.year}-01",
        f"{TODAY.year}-02",
    ]


def test_manual_entries_are_validated(producer_site, contract, alice):
    base = {
        "actor": alice,
        "site_id": producer_site.pk,
        "record_type": "own_utilisation",
        "waste_code": OIL,
        "container_code": "M-1",
        "weight_kg": "12.5",
        "occurred_at": timezone.now() - dt.timedelta(hours=1),
    }
    cases = [
        ({"waste_code": "999-999-99"}, "waste_code"),
        ({"weight_kg": "-3"}, "weight_kg"),
        ({"weight_kg": "1.234"}, "weight_kg"),
        ({"record_type": "gift"}, "record_type"),
        ({"method": "D10"}, "record_type"),  # D10 is disposal, not utilisation
        ({"method": ""}, "method"),
        ({"occurred_at": timezone.now() + dt.timedelta(days=1), "method": "R9"}, "occurred_at"),
        ({"source_batch_code": "HWCS20260101999", "method": "R9"}, "source_batch_code"),
        ({"record_type": "outsourced_disposal", "method": "D10"}, "receiver_type"),
        ({"record_type": "storage_in"}, "facility_code"),
    ]
    for change, field in cases:
        with pytest.raises(ServiceError) as exc:
            ledger_entry_add(**{**base, **change})
        assert exc.value.field == field, change
    assert not LedgerRecord.objects.exists()
    entry = ledger_entry_add(**base, method="R9", facility_code="RTO-1")
    assert entry.batch_code.startswith("HWZXLY") and entry.stock_effect == -1 and entry.entry == "manual"


def test_records_are_never_edited(producer_site, contract, alice):
    entry = record(producer_site, RecordType.PRODUCTION, "10", TODAY)
    entry.weight_kg = Decimal("11")
    with pytest.raises(ValueError, match="reverse"):
        entry.save()
    with pytest.raises(ValueError, match="five years"):
        entry.delete()
    reversal = ledger_record_reverse(actor=alice, record_id=entry.pk, reason="录错")
    assert (reversal.weight_kg, reversal.reverses, reversal.source_batch_code) == (
        Decimal("-10.00"),
        entry,
        entry.batch_code,
    )
    with pytest.raises(Conflict):
        ledger_record_reverse(actor=alice, record_id=entry.pk, reason="again")
    with pytest.raises(Conflict):
        ledger_record_reverse(actor=alice, record_id=reversal.pk, reason="undo")
