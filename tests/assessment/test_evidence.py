"""Evidence pre-filled from the platform's own records: each fact set firing (2) and its near miss."""

from __future__ import annotations

from typing import Any

import pytest

from assessment.conftest import TODAY, YEAR
from greenisle.assessment.evidence import evidence_gather
from greenisle.assessment.services import assessment_start
from greenisle.supervision.services import finding_raise

pytestmark = pytest.mark.django_db

PREFILLED = ("labels", "plan", "ledger", "declaration", "classification", "manifests", "receivers", "storage")


def gather(org: Any) -> dict[str, dict[str, Any]]:
    return evidence_gather(organization=org, kind="producer", year=YEAR, today=TODAY)


def test_a_producer_with_every_record_in_order_is_suggested_full_marks(producer: Any, records: Any) -> None:
    records()
    evidence = gather(producer)
    assert {code: evidence[code]["suggested"] for code in PREFILLED} == dict.fromkeys(PREFILLED, 2)
    # The facts behind each suggestion are kept with it.
    labels = {f["label"]: f["value"] for f in evidence["labels"]["facts"]}
    assert labels["产生的容器 / Containers produced"] == "2"
    assert labels["有 HJ 1276 标签 / With an HJ 1276 label"] == "2"
    assert any(link["href"].startswith("/management-plans/") for link in evidence["plan"]["links"])


def test_items_the_platform_cannot_know_get_no_suggestion(producer: Any, records: Any) -> None:
    records()
    evidence = gather(producer)
    for code in ("responsibility", "emergency", "training"):
        assert evidence[code]["suggested"] is None
        assert "upload" in evidence[code]["facts"][0]["value"]


def test_a_producer_without_any_filing_labels_or_storage_is_suggested_zero(
    producer: Any, records: Any
) -> None:
    records(labelled=False, plan=False, declaration=False, storage=False)
    evidence = gather(producer)
    assert evidence["labels"]["suggested"] == 0
    assert evidence["plan"]["suggested"] == 0
    assert evidence["declaration"]["suggested"] == 0
    assert evidence["storage"]["suggested"] == 0
    # Transfers went on manifests to a licensed collector all the same.
    assert evidence["manifests"]["suggested"] == 2
    assert evidence["receivers"]["suggested"] == 2


def test_a_plan_filed_after_31_march_is_suggested_one(producer: Any, records: Any) -> None:
    import datetime as dt

    records(plan_filed=dt.date(YEAR, 4, 1))
    assert gather(producer)["plan"]["suggested"] == 1


def test_a_plan_filed_on_31_march_is_on_time(producer: Any, records: Any) -> None:
    import datetime as dt

    records(plan_filed=dt.date(YEAR, 3, 31))
    assert gather(producer)["plan"]["suggested"] == 2


def test_a_month_with_waste_but_no_ledger_record_lowers_the_ledger_item(producer: Any, records: Any) -> None:
    # Five months with manifests, one without ledger records: 4/5 = 80 % → partly met.
    records(months=(2, 3, 4, 5, 6), ledger_months=(2, 3, 4, 5))
    evidence = gather(producer)
    assert evidence["ledger"]["suggested"] == 1
    facts = {f["label"]: f["value"] for f in evidence["ledger"]["facts"]}
    assert facts["缺台账记录的月份 / Months without records"] == f"{YEAR}-06"


def test_half_the_months_without_ledger_records_is_not_met(producer: Any, records: Any) -> None:
    records(months=(2, 3, 4, 5), ledger_months=(2, 3))
    assert gather(producer)["ledger"]["suggested"] == 0


def test_a_code_in_the_ledger_but_not_in_the_plan_is_a_classification_problem(
    producer: Any, records: Any
) -> None:
    records(planned=("900-214-08",))
    evidence = gather(producer)
    assert evidence["classification"]["suggested"] == 1
    facts = {f["label"]: f["value"] for f in evidence["classification"]["facts"]}
    assert facts["未列入的代码 / Codes not declared"] == "900-041-49"


def test_an_outsourced_record_without_a_manifest_fails_the_manifest_item(producer: Any, records: Any) -> None:
    from factories import LedgerRecordFactory

    from assessment.conftest import at
    from greenisle.ledger.models import EntryKind, RecordType

    made = records()
    LedgerRecordFactory(
        site=made["bin"].site,
        record_type=RecordType.OUTSOURCED_DISPOSAL,
        entry=EntryKind.MANUAL,
        stock_effect=-1,
        occurred_at=at(8),
        container_code="PAPERLESS-1",
    )
    evidence = gather(producer)
    assert evidence["manifests"]["suggested"] == 0


def test_a_receipt_confirmed_after_its_due_day_is_late(producer: Any, records: Any) -> None:
    import datetime as dt

    made = records()
    manifest = made["manifests"][0]
    manifest.receipt_due_on = dt.date(YEAR, 3, 11)  # received on the 12th
    manifest.save(update_fields=["receipt_due_on"])
    assert gather(producer)["manifests"]["suggested"] == 1


def test_waste_handed_to_a_receiver_without_a_licence_for_it_is_suggested_zero(
    producer: Any, records: Any, licensed: Any
) -> None:
    from greenisle.organizations.models import Licence

    records()
    Licence.objects.filter(organization=licensed).update(valid_from="2025-04-01")  # March not covered
    assert gather(producer)["receivers"]["suggested"] == 0


def test_a_declaration_submitted_after_its_due_day_is_suggested_one(producer: Any, records: Any) -> None:
    from assessment.conftest import at

    made = records()
    made["declaration"].submitted_at = at(4, 2)
    made["declaration"].save(update_fields=["submitted_at"])
    assert gather(producer)["declaration"]["suggested"] == 1


def test_an_active_finding_caps_the_item_it_bears_on(producer: Any, records: Any) -> None:
    records()
    finding_raise(
        rule="ledger.mass_balance",
        organization=producer,
        division_code=producer.division_id,
        obj=producer,
        message="台账不平衡 / ledger out of balance",
    )
    evidence = gather(producer)
    assert evidence["ledger"]["suggested"] == 1
    assert evidence["ledger"]["findings"][0]["rule"] == "ledger.mass_balance"
    # Other items keep their suggestion.
    assert evidence["labels"]["suggested"] == 2


def test_a_serious_storage_finding_takes_storage_to_zero(producer: Any, records: Any) -> None:
    made = records()
    finding_raise(
        rule="storage.over_one_year",
        organization=producer,
        division_code=producer.division_id,
        obj=made["bin"],
        message="贮存超过一年 / stored over a year",
    )
    assert gather(producer)["storage"]["suggested"] == 0


def test_starting_an_assessment_stores_suggestions_and_evidence_per_item(
    producer: Any, records: Any, alice: Any
) -> None:
    records()
    assessment = assessment_start(actor=alice, organization_id=producer.pk, year=YEAR, today=TODAY)
    items = {i.code: i for i in assessment.items.all()}
    assert len(items) == 11
    assert items["plan"].suggested_score == 2
    assert items["plan"].evidence["facts"]
    assert items["training"].suggested_score is None
