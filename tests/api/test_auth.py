"""Who is speaking: a personal Bearer token (bound to one membership), a browser session, or nobody (401
JSON). And the API describes itself: /api/v1/openapi.json and /api/v1/docs."""

from __future__ import annotations

import json
import uuid

import pytest
from django.utils import timezone

from api.helpers import API, JsonClient, bearer_headers, ids, items
from greenisle.accounts.choices import Role
from greenisle.accounts.models import ApiToken, Membership

ANY_ID = str(uuid.uuid4())
PERSON_ENDPOINTS = [
    ("get", "/me"),
    ("get", "/bins"),
    ("post", "/bins"),
    ("post", "/bins/import"),
    ("get", f"/bins/{ANY_ID}"),
    ("post", f"/bins/{ANY_ID}/credentials"),
    ("get", "/pickup-requests"),
    ("get", f"/pickup-requests/{ANY_ID}"),
    ("get", "/vehicles"),
    ("get", "/trips"),
    ("post", "/trips"),
    ("get", f"/trips/{ANY_ID}"),
    ("get", "/manifests"),
    ("post", "/manifests/containers"),
    ("get", f"/manifests/{ANY_ID}"),
    ("post", f"/manifests/{ANY_ID}/sign"),
    ("post", f"/manifests/{ANY_ID}/depart"),
    ("post", f"/manifests/{ANY_ID}/receive"),
    ("get", "/ledger"),
    ("get", "/audit-events"),
    ("get", "/findings"),
    ("get", f"/findings/{ANY_ID}"),
    ("post", f"/findings/{ANY_ID}/assign"),
    ("post", f"/findings/{ANY_ID}/rectify"),
    ("post", f"/findings/{ANY_ID}/verify"),
    ("post", f"/findings/{ANY_ID}/close"),
    ("post", f"/findings/{ANY_ID}/dismiss"),
]


@pytest.mark.parametrize(("method", "path"), PERSON_ENDPOINTS, ids=[f"{m} {p}" for m, p in PERSON_ENDPOINTS])
@pytest.mark.parametrize("credentials", ["none", "bad-token"])
def test_without_valid_credentials_every_person_endpoint_answers_401_json(world, method, path, credentials):
    headers = {"Authorization": "Bearer gi_not-a-token"} if credentials == "bad-token" else {}
    client = JsonClient(headers)

    response = client.get(path) if method == "get" else client.post(path, {})

    assert response.status_code == 401, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "unauthenticated"


def test_a_device_key_is_not_a_person(world, device):
    response = device(world.bin).get("/bins")

    assert response.status_code == 401


def test_bearer_token_acts_for_its_membership(world, api_as):
    me = api_as(world.dispatcher).get("/me").json()

    assert me["username"] == "dispatcher"
    assert me["current_membership"]["organization_id"] == str(world.collector.pk)
    assert me["current_membership"]["role"] == "dispatcher"


def test_a_token_is_bound_to_one_membership_of_a_person_with_two(world, bob, producer_b):
    # Alice also keeps the books of Bob's workshop; her token for that membership sees that workshop only.
    second = Membership.objects.create(user=world.alice, organization=producer_b, role=Role.CLERK)
    _token, raw = ApiToken.issue(membership=second, name="furniture books")
    client = JsonClient({"Authorization": f"Bearer {raw}"})

    me = client.get("/me").json()
    bins = client.get("/bins")

    assert me["current_membership"]["organization_id"] == str(producer_b.pk)
    assert {m["organization_id"] for m in me["memberships"]} == {str(world.producer.pk), str(producer_b.pk)}
    assert str(world.bin.pk) not in ids(bins)
    assert JsonClient(bearer_headers(world.alice)).get("/bins").json()["items"][0]["id"] == str(world.bin.pk)


def test_revoked_token_is_refused(world):
    headers = bearer_headers(world.dispatcher)
    ApiToken.objects.update(revoked_at=timezone.now())

    assert JsonClient(headers).get("/me").status_code == 401


def test_token_of_a_deactivated_person_is_refused(world):
    headers = bearer_headers(world.dispatcher)
    world.dispatcher.is_active = False
    world.dispatcher.save(update_fields=["is_active"])

    assert JsonClient(headers).get("/me").status_code == 401


def test_only_the_hash_of_a_token_is_kept(world):
    headers = bearer_headers(world.dispatcher)
    raw = headers["Authorization"].removeprefix("Bearer ")

    token = ApiToken.objects.get()
    assert raw not in (token.token_hash, token.prefix) and raw.startswith(token.prefix)


def test_session_reads_and_writes_with_its_csrf_token(world, open_request, api_as):
    dispatcher = api_as(world.dispatcher, session=True)

    assert str(open_request.pk) in ids(dispatcher.get("/pickup-requests"))
    response = dispatcher.post(
        "/trips",
        {
            "request_ids": [str(open_request.pk)],
            "vehicle_id": str(world.vehicle.pk),
            "driver_id": world.driver.pk,
            "service_date": timezone.localdate().isoformat(),
        },
    )
    assert response.status_code == 201, response.content


def test_session_write_without_csrf_token_is_refused(world, open_request, api_as):
    dispatcher = api_as(world.dispatcher, session=True)
    dispatcher.headers.pop("X-CSRFToken")

    response = dispatcher.post(
        "/trips",
        {
            "request_ids": [str(open_request.pk)],
            "vehicle_id": str(world.vehicle.pk),
            "driver_id": world.driver.pk,
            "service_date": timezone.localdate().isoformat(),
        },
    )

    assert response.status_code == 403
    open_request.refresh_from_db()
    assert open_request.status == "open"


def test_token_writes_need_no_csrf_cookie(world, open_request):
    """A script with a token has no cookies; the session's CSRF check must not refuse it."""
    client = JsonClient(bearer_headers(world.dispatcher))
    assert not client.client.cookies

    response = client.post(
        "/trips",
        {
            "request_ids": [str(open_request.pk)],
            "vehicle_id": str(world.vehicle.pk),
            "driver_id": world.driver.pk,
            "service_date": timezone.localdate().isoformat(),
        },
    )

    assert response.status_code == 201, response.content


def test_the_session_membership_switch_applies_to_the_api(world, producer_b, api_as):
    second = Membership.objects.create(user=world.alice, organization=producer_b, role=Role.CLERK)
    alice = api_as(world.alice, session=True)
    assert alice.get("/me").json()["current_membership"]["organization_id"] == str(world.producer.pk)

    alice.client.post(
        "/switch/", {"membership_id": second.pk}, headers={"X-CSRFToken": alice.headers["X-CSRFToken"]}
    )

    assert alice.get("/me").json()["current_membership"]["organization_id"] == str(producer_b.pk)
    assert items(alice.get("/bins")) == []


# --- the API describes itself -------------------------------------------------------------------------

EXPECTED_OPERATIONS = {
    ("get", "/api/v1/assessment-benchmarks"),
    ("post", "/api/v1/assessment-benchmarks"),
    ("get", "/api/v1/assessment-benchmarks/ranking"),
    ("get", "/api/v1/assessment-checklists/{kind}"),
    ("get", "/api/v1/assessments"),
    ("post", "/api/v1/assessments"),
    ("get", "/api/v1/assessments/{assessment_id}"),
    ("post", "/api/v1/assessments/{assessment_id}/attachments"),
    ("post", "/api/v1/assessments/{assessment_id}/check"),
    ("post", "/api/v1/assessments/{assessment_id}/finalise"),
    ("post", "/api/v1/assessments/{assessment_id}/refresh"),
    ("post", "/api/v1/assessments/{assessment_id}/return"),
    ("post", "/api/v1/assessments/{assessment_id}/review"),
    ("post", "/api/v1/assessments/{assessment_id}/self-scores"),
    ("post", "/api/v1/assessments/{assessment_id}/submit"),
    ("get", "/api/v1/organizations/{organization_id}/assessments"),
    ("get", "/api/v1/map/bins"),
    ("get", "/api/v1/map/districts"),
    ("get", "/api/v1/map/findings"),
    ("get", "/api/v1/map/sites"),
    ("get", "/api/v1/map/trucks"),
    ("get", "/api/v1/statistics/bins"),
    ("get", "/api/v1/statistics/coverage"),
    ("get", "/api/v1/statistics/enterprises"),
    ("get", "/api/v1/statistics/manifests"),
    ("get", "/api/v1/statistics/tonnage"),
    ("get", "/api/v1/statistics/trend"),
    ("post", "/api/v1/ledger"),
    ("post", "/api/v1/ledger/{record_id}/reverse"),
    ("get", "/api/v1/declarations"),
    ("post", "/api/v1/declarations"),
    ("get", "/api/v1/declarations/{declaration_id}"),
    ("post", "/api/v1/declarations/{declaration_id}/submit"),
    ("get", "/api/v1/declarations/{declaration_id}/report.xlsx"),
    ("get", "/api/v1/declarations/{declaration_id}/report.pdf"),
    ("post", "/api/v1/bulk-filings"),
    ("get", "/api/v1/bulk-filings/{bulk_id}"),
    ("get", "/api/v1/management-plans"),
    ("post", "/api/v1/management-plans"),
    ("get", "/api/v1/management-plans/{plan_id}"),
    ("patch", "/api/v1/management-plans/{plan_id}"),
    ("post", "/api/v1/management-plans/{plan_id}/file"),
    ("post", "/api/v1/management-plans/{plan_id}/review"),
    ("post", "/api/v1/management-plans/{plan_id}/amend"),
    ("get", "/api/v1/management-plans/{plan_id}/receipt.pdf"),
    ("get", "/api/v1/sites/{site_id}/classification"),
    ("post", "/api/v1/sites/{site_id}/classification"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/readings"),
    ("post", "/api/v1/readings/batch"),
    ("get", "/api/v1/bins"),
    ("post", "/api/v1/bins"),
    ("post", "/api/v1/bins/import"),
    ("get", "/api/v1/bins/{bin_id}"),
    ("patch", "/api/v1/bins/{bin_id}"),
    ("post", "/api/v1/bins/{bin_id}/credentials"),
    ("get", "/api/v1/pickup-requests"),
    ("get", "/api/v1/pickup-requests/{request_id}"),
    ("get", "/api/v1/vehicles"),
    ("get", "/api/v1/trips"),
    ("post", "/api/v1/trips"),
    ("get", "/api/v1/trips/{trip_id}"),
    ("get", "/api/v1/manifests"),
    ("post", "/api/v1/manifests/containers"),
    ("get", "/api/v1/manifests/{manifest_id}"),
    ("post", "/api/v1/manifests/{manifest_id}/sign"),
    ("post", "/api/v1/manifests/{manifest_id}/depart"),
    ("post", "/api/v1/manifests/{manifest_id}/receive"),
    ("post", "/api/v1/manifests/{manifest_id}/deliver"),
    ("post", "/api/v1/manifests/{manifest_id}/treatment"),
    ("post", "/api/v1/manifests/{manifest_id}/cancel"),
    ("post", "/api/v1/manifests/{manifest_id}/corrections"),
    ("get", "/api/v1/manifests/{manifest_id}/corrections"),
    ("get", "/api/v1/manifests/{manifest_id}/versions/{version}"),
    ("get", "/api/v1/manifests/{manifest_id}/document.pdf"),
    ("get", "/api/v1/manifests/{manifest_id}/check"),
    ("post", "/api/v1/manifests/corrections/{correction_id}"),
    ("post", "/api/v1/manifests/paper"),
    ("post", "/api/v1/manifests/load"),
    ("get", "/api/v1/manifests/stock"),
    ("post", "/api/v1/manifests/onward"),
    ("post", "/api/v1/webhooks"),
    ("get", "/api/v1/webhooks"),
    ("delete", "/api/v1/webhooks/{subscription_id}"),
    ("get", "/api/v1/webhooks/{subscription_id}/deliveries"),
    ("post", "/api/v1/containers"),
    ("get", "/api/v1/containers/{code}"),
    ("get", "/api/v1/containers/{code}/label.pdf"),
    ("get", "/api/v1/ledger"),
    ("get", "/api/v1/audit-events"),
    ("get", "/api/v1/findings"),
    ("get", "/api/v1/findings/{finding_id}"),
    ("post", "/api/v1/findings/{finding_id}/assign"),
    ("post", "/api/v1/findings/{finding_id}/rectify"),
    ("post", "/api/v1/findings/{finding_id}/verify"),
    ("post", "/api/v1/findings/{finding_id}/close"),
    ("post", "/api/v1/findings/{finding_id}/dismiss"),
}


def test_openapi_document_is_json_with_every_operation(client):
    response = client.get(f"{API}/openapi.json")

    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    operations = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert operations == EXPECTED_OPERATIONS
    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {"type": "http", "scheme": "bearer"}
    assert schemes["DeviceKey"]["name"] == "X-Device-Key"
    readings = document["paths"]["/api/v1/readings"]["post"]
    assert readings["security"] == [{"DeviceKey": []}]
    assert all(op.get("security") for ops in document["paths"].values() for op in ops.values())


def test_openapi_document_resolves_every_reference(client):
    document = client.get(f"{API}/openapi.json").json()
    schemas = document["components"]["schemas"]

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    missing = {r for r in refs(document) if r.removeprefix("#/components/schemas/") not in schemas}
    assert not missing


def test_interactive_docs_render(client):
    response = client.get(f"{API}/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "openapi.json" in html and "swagger" in html.lower()
