"""Plans, declarations, manual ledger entries and bulk filing through the API (HJ 1259-2022)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from factories import waste_code

from api.helpers import items
from greenisle.ledger.bulk import bulk_filing_run
from greenisle.ledger.models import RecordType
from greenisle.ledger.services import ledger_record_add

YEAR = timezone.localdate().year


def test_a_plan_prepared_completed_filed_and_approved(producer_site, contract, alice, api_as, regulator):
    me = api_as(alice)
    prepared = me.post("/management-plans", {"site_id": producer_site.pk, "year": YEAR})
    assert prepared.status_code == 200, prepared.content
    plan = prepared.json()
    assert plan["status"] == "draft" and plan["management_class"] == "registration"
    assert {p["field"] for p in plan["problems"]} >= {"basic.legal_representative"}
    refused = me.post(f"/management-plans/{plan['id']}/file")
    assert refused.status_code == 400
    assert refused.json()["code"] == "plan_incomplete" and refused.json()["problems"]
    bad = me.patch(f"/management-plans/{plan['id']}", {"wastes": [{"waste_code": "123", "annual_t": "1"}]})
    assert bad.status_code == 400 and bad.json()["field"] == "wastes[0].waste_code"
    patched = me.patch(
        f"/management-plans/{plan['id']}",
        {
            "basic": {
                "legal_representative": "李大同",
                "eia_reference": "无",
                "permit_reference": "登记表 001",
            },
            "wastes": [
                {
                    "waste_code": "900-214-08",
                    "annual_t": "1.5",
                    "transfer_t": "1.5",
                    "form": "liquid",
                    "method": "C1",
                    "receivers": [str(contract.collector_id)],
                }
            ],
        },
    )
    assert patched.status_code == 200 and patched.json()["problems"] == [], patched.content
    filed = me.post(f"/management-plans/{plan['id']}/file")
    assert filed.status_code == 200 and filed.json()["filing_number"] == f"320602{YEAR}000001"
    receipt = me.get(f"/management-plans/{plan['id']}/receipt.pdf")
    assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")
    assert (
        api_as(alice).post(f"/management-plans/{plan['id']}/review", {"decision": "approve"}).status_code
        == 403
    )
    approved = api_as(regulator).post(f"/management-plans/{plan['id']}/review", {"decision": "approve"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert [p["id"] for p in items(api_as(regulator).get("/management-plans", year=YEAR))] == [plan["id"]]


def test_manual_entry_reversal_and_declaration(producer_site, contract, alice, dispatcher, api_as, bob):
    me = api_as(alice)
    when = timezone.make_aware(dt.datetime(YEAR - 1, 5, 6, 9))
    entry = me.post(
        "/ledger",
        {
            "site_id": producer_site.pk,
            "record_type": "production",
            "waste_code": "900-041-49",
            "container_code": "MAN-1",
            "weight_kg": "40",
            "occurred_at": when.isoformat(),
        },
    )
    assert entry.status_code == 201, entry.content
    assert entry.json()["batch_code"] == f"HWCS{YEAR - 1}0506001"
    assert api_as(bob).post(f"/ledger/{entry.json()['id']}/reverse", {"reason": "x"}).status_code == 404
    ledger_record_add(
        organization=producer_site.organization,
        site=producer_site,
        record_type=RecordType.PRODUCTION,
        waste_code=waste_code("900-041-49"),
        container_code="MAN-2",
        weight_kg=Decimal("25"),
        occurred_at=when,
    )
    prepared = me.post("/declarations", {"site_id": producer_site.pk, "kind": "year", "label": str(YEAR - 1)})
    assert prepared.status_code == 200, prepared.content
    body = prepared.json()
    assert body["content"]["rows"][0]["generated_t"] == "0.065" and body["status"] == "draft"
    assert (
        me.post("/declarations", {"site_id": producer_site.pk, "kind": "year", "label": "20x"}).json()[
            "field"
        ]
        == "label"
    )
    # The collector submits on its client's behalf what the client's staff reviewed.
    submitted = api_as(dispatcher).post(
        f"/declarations/{body['id']}/submit", {"figures_seen": body["fingerprint"]}
    )
    assert submitted.status_code == 200, submitted.content
    assert (
        submitted.json()["status"] == "submitted"
        and submitted.json()["filed_by_organization"] == contract.collector.name
    )
    xlsx = me.get(f"/declarations/{body['id']}/report.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    reversal = me.post(f"/ledger/{entry.json()['id']}/reverse", {"reason": "重复 / duplicate"})
    assert reversal.status_code == 201 and Decimal(reversal.json()["weight_kg"]) == Decimal("-40")
    assert api_as(bob).get(f"/declarations/{body['id']}").status_code == 404


def test_bulk_filing_for_all_clients(producer_site, contract, dispatcher, api_as, alice):
    started = api_as(dispatcher).post("/bulk-filings", {"what": "declarations", "period": str(YEAR - 1)})
    assert started.status_code == 202, started.content
    assert started.json()["total"] == 1 and started.json()["status"] == "queued"
    assert (
        api_as(dispatcher).post("/bulk-filings", {"what": "declarations", "period": "2999"}).status_code
        == 400
    )
    assert api_as(alice).post("/bulk-filings", {"what": "plans"}).status_code == 403
    bulk_filing_run(bulk_id=started.json()["id"])
    progress = api_as(dispatcher).get(f"/bulk-filings/{started.json()['id']}").json()
    assert (progress["status"], progress["done"], progress["skipped"], progress["failures"]) == (
        "done",
        1,
        0,
        [],
    )
    # Plans: the client's prepared plan lacks what only the client knows; the failure names it.
    plans = api_as(dispatcher).post("/bulk-filings", {"what": "plans"}).json()
    done = bulk_filing_run(bulk_id=plans["id"])
    assert (done.done, len(done.failures)) == (0, 1)
    assert done.failures[0]["field"].startswith("basic.")
