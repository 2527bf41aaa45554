"""Findings through the API: lists and filters scoped like the pages, a finding with its audit trail
and repeat chain, and each follow-up step (errors name the field or the state)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from api.helpers import JsonClient, bearer_headers, ids, items
from django.utils import timezone

from greenisle.supervision.selectors import evidence_links
from supervision.helpers import raise_on


def as_(user) -> JsonClient:
    return JsonClient(bearer_headers(user))


@pytest.fixture
def other_finding(producer_b):
    """A finding on Bob's workshop in 通州区 (320612), a storage rule."""
    return raise_on(producer_b, rule="storage.local_tonnes")


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("regulator", {"mine"}),
        ("regulator_city", {"mine", "other"}),
        ("regulator_other", {"other"}),
        ("alice", {"mine"}),
        ("dispatcher", {"mine"}),  # Alice's collector sees its client's findings
        ("bob", {"other"}),
        ("rival_dispatcher", set()),  # collector_b without contract_b here
        ("facility_receiver", set()),
    ],
)
def test_each_persona_lists_the_findings_it_may_see(finding, other_finding, contract, request, persona, sees):
    expected = {{"mine": str(finding.pk), "other": str(other_finding.pk)}[s] for s in sees}

    assert ids(as_(request.getfixturevalue(persona)).get("/findings")) == expected


def test_list_filters(finding, other_finding, producer, regulator_city):
    city = as_(regulator_city)

    assert ids(city.get("/findings", status="open")) == {str(finding.pk), str(other_finding.pk)}
    assert ids(city.get("/findings", status="closed")) == set()
    assert ids(city.get("/findings", rule="storage.local_tonnes")) == {str(other_finding.pk)}
    assert ids(city.get("/findings", severity="B")) == {str(finding.pk)}
    assert ids(city.get("/findings", division="320602")) == {str(finding.pk)}
    assert ids(city.get("/findings", division="320600")) == {str(finding.pk), str(other_finding.pk)}
    assert ids(city.get("/findings", organization=str(producer.pk))) == {str(finding.pk)}
    page = city.get("/findings", limit=1).json()
    assert page["count"] == 2 and len(page["items"]) == 1
    bad = city.get("/findings", status="lost")
    assert bad.status_code == 422 and bad.json()["field"] == "status"


def test_a_finding_in_the_list_names_its_rule_regulation_owner_and_deadline(finding, producer, regulator):
    (row,) = items(as_(regulator).get("/findings"))

    assert row["rule"] == "ledger.mass_balance" and row["rule_title"].startswith(
        "台账、容器与联单物料不平衡 / "
    )
    assert "第七十八条" in row["regulation"] and "HJ 1259-2022" in row["regulation"]
    assert row["severity"] == "B" and row["status"] == "open" and row["overdue"] is False
    assert (
        row["owner_organization_id"] == str(producer.pk) and row["owner_organization_name"] == producer.name
    )
    assert row["deadline"] == finding.deadline.isoformat()


def test_a_finding_with_its_audit_trail_repeat_chain_and_evidence(finding, walk, producer, regulator):
    walk(finding, "closed")
    second = raise_on(producer)

    body = as_(regulator).get(f"/findings/{second.pk}").json()

    assert [e["action"] for e in body["events"]] == ["supervision.finding.raised"]
    assert [r["id"] for r in body["repeat_chain"]] == [str(finding.pk)]
    assert body["repeat_chain"][0]["status"] == "closed" and body["repeat_of_id"] == str(finding.pk)
    assert {link["rel"] for link in body["evidence_links"]} >= {"audit"}
    first = as_(regulator).get(f"/findings/{finding.pk}").json()
    assert first["repeated_by"] == [str(second.pk)]
    assert [e["action"] for e in first["events"]] == [
        "supervision.finding.raised",
        "supervision.finding.assigned",
        "supervision.finding.rectification_submitted",
        "supervision.finding.verified",
        "supervision.finding.closed",
    ]


def test_evidence_links_point_at_the_object_and_the_container(producer, delivered_manifest):
    finding = raise_on(
        producer, delivered_manifest, rule="manifest.receipt_overdue", evidence={"container_code": "RQ 1/2"}
    )

    links = {link["rel"]: link["href"] for link in evidence_links(finding)}
    assert links["object"] == f"/api/v1/manifests/{delivered_manifest.pk}"
    assert links["page"] == f"/manifests/{delivered_manifest.pk}/"
    assert links["container"] == "/api/v1/containers/RQ%201%2F2"
    assert links["ledger"] == "/api/v1/ledger?container_code=RQ+1%2F2"


def test_a_finding_nobody_may_see_is_not_found(finding, bob, regulator_other):
    for person in (bob, regulator_other):
        response = as_(person).get(f"/findings/{finding.pk}")
        assert response.status_code == 404 and response.json()["field"] == "finding_id"
        assert as_(person).post(f"/findings/{finding.pk}/dismiss", {"reason": "x"}).status_code == 404
    assert as_(bob).get(f"/findings/{uuid.uuid4()}").status_code == 404


def test_the_whole_lifecycle_through_the_api(finding, producer, regulator, alice):
    inspector, owner = as_(regulator), as_(alice)
    deadline = (timezone.localdate() + dt.timedelta(days=20)).isoformat()

    assigned = inspector.post(
        f"/findings/{finding.pk}/assign", {"assigned_to": regulator.pk, "deadline": deadline}
    )
    assert assigned.status_code == 200, assigned.content
    assert assigned.json()["status"] == "assigned" and assigned.json()["deadline"] == deadline
    assert (
        assigned.json()["assigned_to_id"] == regulator.pk
        and assigned.json()["assigned_to_name"] == "崇川执法"
    )

    rectified = owner.post(f"/findings/{finding.pk}/rectify", {"rectification": "已补录台账"})
    assert rectified.status_code == 200 and rectified.json()["status"] == "rectification_submitted"

    rejected = inspector.post(f"/findings/{finding.pk}/verify", {"decision": "reject", "note": "缺少照片"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "assigned"
    assert rejected.json()["verification_note"] == "缺少照片"
    owner.post(f"/findings/{finding.pk}/rectify", {"rectification": "已补录台账并附照片"})

    verified = inspector.post(f"/findings/{finding.pk}/verify", {"decision": "accept"})
    assert verified.status_code == 200 and verified.json()["status"] == "verified"
    closed = inspector.post(f"/findings/{finding.pk}/close", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert [e["action"].rsplit(".", 1)[1] for e in closed.json()["events"]] == [
        "raised",
        "assigned",
        "rectification_submitted",
        "rectification_rejected",
        "rectification_submitted",
        "verified",
        "closed",
    ]


def test_dismissal_through_the_api_names_the_missing_reason(finding, regulator):
    inspector = as_(regulator)

    missing = inspector.post(f"/findings/{finding.pk}/dismiss", {})
    assert missing.status_code == 422 and missing.json()["field"] == "reason"
    blank = inspector.post(f"/findings/{finding.pk}/dismiss", {"reason": "  "})
    assert blank.status_code == 400 and blank.json()["field"] == "reason"
    dismissed = inspector.post(f"/findings/{finding.pk}/dismiss", {"reason": "豁免清单适用"})
    assert dismissed.status_code == 200
    assert (
        dismissed.json()["status"] == "dismissed" and dismissed.json()["dismissed_reason"] == "豁免清单适用"
    )


def test_api_refusals_name_the_field_or_the_state(finding, walk, regulator, alice):
    inspector, owner = as_(regulator), as_(alice)

    refused = owner.post(f"/findings/{finding.pk}/assign", {"assigned_to": regulator.pk})
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    wrong = inspector.post(f"/findings/{finding.pk}/assign", {"assigned_to": alice.pk})
    assert wrong.status_code == 400 and wrong.json()["field"] == "assigned_to"
    early = owner.post(f"/findings/{finding.pk}/rectify", {"rectification": "已整改"})
    assert early.status_code == 409 and early.json()["field"] == "status" and "open" in early.json()["detail"]
    too_soon = inspector.post(f"/findings/{finding.pk}/close", {})
    assert too_soon.status_code == 409 and too_soon.json()["code"] == "transition_not_allowed"
    walk(finding, "assigned")
    missing = owner.post(f"/findings/{finding.pk}/rectify", {})
    assert missing.status_code == 422 and missing.json()["field"] == "rectification"
    blank = owner.post(f"/findings/{finding.pk}/rectify", {"rectification": " "})
    assert blank.status_code == 400 and blank.json()["field"] == "rectification"
    walk(finding, "rectification_submitted")
    no_note = inspector.post(f"/findings/{finding.pk}/verify", {"decision": "reject"})
    assert no_note.status_code == 400 and no_note.json()["field"] == "note"
    odd = inspector.post(f"/findings/{finding.pk}/verify", {"decision": "perhaps"})
    assert odd.status_code == 422 and odd.json()["field"] == "decision"
    past = inspector.post(
        f"/findings/{finding.pk}/verify", {"decision": "reject", "note": "重做", "deadline": "2020-01-01"}
    )
    assert past.status_code == 400 and past.json()["field"] == "deadline"


def test_the_collector_rectifies_for_its_client_through_the_api(finding, walk, contract, dispatcher):
    walk(finding, "assigned")

    response = as_(dispatcher).post(f"/findings/{finding.pk}/rectify", {"rectification": "代客户补录台账"})

    assert response.status_code == 200 and response.json()["status"] == "rectification_submitted"
    assert response.json()["events"][-1]["organization_id"] == str(contract.collector_id)
