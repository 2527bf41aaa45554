"""Management plans (HJ 1259-2022 §5): prepared from the registry and last year's ledger, filed by
the producer or its collector, reviewed by the bureau, amended."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from factories import waste_code

from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, PermissionDenied, ServiceError
from greenisle.ledger.models import RecordType
from greenisle.ledger.services import ledger_record_add
from greenisle.notifications.models import Notification
from greenisle.plans.classification import site_class_override, site_classify
from greenisle.plans.models import ManagementPlan, PlanStatus, SiteClassification
from greenisle.plans.services import (
    PlanIncomplete,
    plan_amend,
    plan_check,
    plan_file,
    plan_in_force,
    plan_prepare,
    plan_review,
    plan_update,
)

YEAR = timezone.localdate().year
OIL = "900-214-08"

FILLED = {
    "legal_representative": "李大同",
    "eia_reference": "无（登记管理）",
    "permit_reference": "排污登记编号 320602-2025-0117",
}


def at(year: int, month: int, day: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, 10))


def history(site, collector, *, produced_kg: str, handed_kg: str, year: int = YEAR - 1) -> None:
    code = waste_code(OIL)
    ledger_record_add(
        organization=site.organization,
        site=site,
        record_type=RecordType.PRODUCTION,
        waste_code=code,
        container_code="H-1",
        weight_kg=Decimal(produced_kg),
        occurred_at=at(year, 3, 1),
    )
    ledger_record_add(
        organization=site.organization,
        site=site,
        record_type=RecordType.OUTSOURCED_DISPOSAL,
        waste_code=code,
        container_code="H-1",
        weight_kg=Decimal(handed_kg),
        occurred_at=at(year, 3, 9),
        counterparty=collector,
        method="C1",
    )


@pytest.fixture
def prepared(producer_site, collector, contract, alice, smart_bin):
    history(producer_site, collector, produced_kg="1200", handed_kg="1000")
    return plan_prepare(actor=alice, site_id=producer_site.pk, year=YEAR)


def test_prepared_from_the_registry_and_last_years_ledger(
    prepared, producer, producer_site, collector, smart_bin
):
    plan = prepared
    assert plan.status == PlanStatus.DRAFT and plan.revision == 0
    # 1.2 t last year: a registration unit (§4.2.1 c), which fills A.1, A.3 and A.7.
    assert plan.management_class == "registration"
    assert SiteClassification.objects.get(site=producer_site).annual_t == Decimal("1.200")
    assert plan.basic["name"] == producer.name and plan.basic["uscc"] == producer.uscc
    assert plan.basic["site_address"] == producer_site.address
    assert plan.basic["industry_code"] == "8111"  # 汽车修理与维护, GB/T 4754
    rows = {w.waste_code.code: w for w in plan.wastes.all()}
    oil = rows[OIL]
    assert (oil.annual_t, oil.transfer_t, oil.method) == (Decimal("1.200"), Decimal("1.000"), "C1")
    assert list(oil.receivers.all()) == [collector]
    # Codes the bin holds but the ledger never saw get a row too, with nothing expected yet.
    unseen = {c.code for c in smart_bin.waste_codes.all()} - {OIL}
    assert unseen and unseen <= set(rows)
    assert all(rows[code].annual_t == 0 for code in unseen)


def test_the_registry_fills_the_legal_representative_eia_and_permit(
    producer, producer_site, contract, alice, smart_bin
):
    producer.legal_representative = "周宏达"
    producer.save(update_fields=["legal_representative"])
    producer_site.eia_reference = "通崇环审〔2019〕88号"
    producer_site.permit_reference = f"{producer.uscc}001Y"
    producer_site.save(update_fields=["eia_reference", "permit_reference"])
    plan = plan_prepare(actor=alice, site_id=producer_site.pk, year=YEAR)
    assert (
        plan.basic["legal_representative"],
        plan.basic["eia_reference"],
        plan.basic["permit_reference"],
    ) == (
        "周宏达",
        "通崇环审〔2019〕88号",
        f"{producer.uscc}001Y",
    )
    problems = {p.field for p in plan_check(plan)}
    assert not problems & {"basic.legal_representative", "basic.eia_reference", "basic.permit_reference"}


def test_filing_an_incomplete_plan_names_what_is_missing(prepared, alice):
    with pytest.raises(PlanIncomplete) as exc:
        plan_file(actor=alice, plan_id=prepared.pk)
    fields = {p["field"] for p in exc.value.as_dict()["problems"]}
    assert {"basic.legal_representative", "basic.eia_reference", "basic.permit_reference"} <= fields
    assert ManagementPlan.objects.get(pk=prepared.pk).status == PlanStatus.DRAFT


def complete(plan, actor):
    rows = [
        {
            "waste_code": w.waste_code.code,
            "annual_t": w.annual_t or "0.5",
            "transfer_t": w.transfer_t if w.transfer_t is not None else "0.5",
            "form": "liquid",
            "method": "C1",
            "receivers": [str(r.pk) for r in w.receivers.all()],
        }
        for w in plan.wastes.all()
    ]
    for row in rows:
        if Decimal(str(row["annual_t"])) == 0:
            row["annual_t"] = "0.5"
    return plan_update(actor=actor, plan_id=plan.pk, basic=FILLED, wastes=rows)


def test_the_collector_files_for_its_client_and_the_bureau_reviews(
    prepared, alice, dispatcher, collector, regulator, regulator_other
):
    complete(prepared, alice)
    plan = plan_file(actor=dispatcher, plan_id=prepared.pk)
    assert plan.status == PlanStatus.FILED
    # §5.2.2: the platform issues the filing number: division + year + serial.
    assert plan.filing_number == f"320602{YEAR}000001"
    assert plan.filed_by == dispatcher and plan.filed_by_organization == collector
    event = Event.objects.filter(action="plans.plan.filed").get()
    assert event.payload["on_behalf"] is True
    # Another district's bureau does not review it; a return needs reasons.
    with pytest.raises(PermissionDenied):
        plan_review(actor=regulator_other, plan_id=plan.pk, decision="approve")
    with pytest.raises(Conflict):
        plan_review(actor=regulator, plan_id=plan.pk, decision="return", note="")
    plan = plan_review(actor=regulator, plan_id=plan.pk, decision="return", note="A.7 接收单位许可证已过期")
    assert plan.status == PlanStatus.RETURNED and plan_in_force(plan.site, YEAR) is None
    assert Notification.objects.filter(organization=plan.site.organization, kind="plan.returned").exists()
    # Returned: the producer corrects and files again; the filing number stays.
    plan_update(actor=alice, plan_id=plan.pk, basic={"technical_lead": "王工"})
    plan = plan_file(actor=alice, plan_id=plan.pk)
    assert plan.filing_number == f"320602{YEAR}000001" and plan.filed_by_organization is None
    plan = plan_review(actor=regulator, plan_id=plan.pk, decision="approve")
    assert plan.status == PlanStatus.APPROVED and plan_in_force(plan.site, YEAR) == plan
    with pytest.raises(Conflict):
        plan_update(actor=alice, plan_id=plan.pk, basic={"phone": "1"})


def test_an_amendment_replaces_the_plan_in_force_once_filed(prepared, alice, collector):
    complete(prepared, alice)
    original = plan_file(actor=alice, plan_id=prepared.pk)
    amendment = plan_amend(actor=alice, plan_id=original.pk)
    assert (amendment.revision, amendment.status, amendment.amends) == (1, PlanStatus.DRAFT, original)
    assert plan_in_force(original.site, YEAR) == original  # until the amendment is filed
    with pytest.raises(Conflict):
        plan_amend(actor=alice, plan_id=original.pk)
    rows = [
        {
            "waste_code": OIL,
            "annual_t": "3",
            "transfer_t": "3",
            "form": "liquid",
            "method": "C1",
            "receivers": [str(collector.pk)],
        }
    ]
    plan_update(actor=alice, plan_id=amendment.pk, wastes=rows)
    amendment = plan_file(actor=alice, plan_id=amendment.pk)
    original.refresh_from_db()
    assert original.status == PlanStatus.SUPERSEDED
    assert amendment.filing_number == f"{original.filing_number}-1"
    assert plan_in_force(original.site, YEAR) == amendment
    assert [w.waste_code.code for w in amendment.wastes.all()] == [OIL]


def test_who_may_prepare(producer_site, contract, rival_dispatcher, driver, bob):
    for person in (rival_dispatcher, bob):
        with pytest.raises(PermissionDenied):
            plan_prepare(actor=person, site_id=producer_site.pk, year=YEAR)
    with pytest.raises(PermissionDenied):  # a driver does not file
        plan_prepare(actor=driver, site_id=producer_site.pk, year=YEAR)


def test_year_out_of_range(producer_site, contract, alice):
    with pytest.raises(ServiceError) as exc:
        plan_prepare(actor=alice, site_id=producer_site.pk, year=YEAR + 3)
    assert exc.value.field == "year"


def test_classified_from_three_years_and_overridden_by_the_bureau(producer_site, collector, regulator, alice):
    SiteClassification.objects.create(site=producer_site, operating_since=dt.date(YEAR - 6, 1, 1))
    history(producer_site, collector, produced_kg="15000", handed_kg="15000", year=YEAR - 2)
    history(producer_site, collector, produced_kg="4000", handed_kg="4000", year=YEAR - 1)
    c = site_classify(site_id=producer_site.pk, year=YEAR)
    # The largest of the last three years (15 t): simplified (§4.2.1 b, §4.2.3).
    assert (c.computed_class, c.annual_t, c.effective_class) == (
        "simplified",
        Decimal("15.000"),
        "simplified",
    )
    with pytest.raises(PermissionDenied):
        site_class_override(actor=alice, site_id=producer_site.pk, management_class="key", reason="x")
    with pytest.raises(ServiceError):
        site_class_override(actor=regulator, site_id=producer_site.pk, management_class="key", reason="")
    c = site_class_override(
        actor=regulator, site_id=producer_site.pk, management_class="key", reason="§4.2.2 重点行业"
    )
    assert c.effective_class == "key" and c.computed_class == "simplified"
    assert Event.objects.filter(action="plans.classification.overridden").exists()
