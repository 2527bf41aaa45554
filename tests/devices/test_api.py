"""The provisioning API: create, change, rotate, import; and what GET /bins now tells the collector."""

from __future__ import annotations

import json

import pytest
from api.helpers import API, JsonClient, bearer_headers, reading
from django.test import Client

from devices.test_importing import ZH_HEADER, csv_bytes, xlsx_bytes
from greenisle.audit.models import Event
from greenisle.devices import tables
from greenisle.devices.models import Bin
from greenisle.telemetry.services import device_authenticate


@pytest.fixture
def admin_api(admin) -> JsonClient:
    return JsonClient(bearer_headers(admin))


def new_bin(world, **overrides):
    body = {
        "serial": "NT-API-0001",
        "name": "接口云仓",
        "site_id": str(world.site.pk),
        "capacity_l": 240,
        "capacity_kg": 200,
        "waste_codes": ["900-214-08"],
    }
    body.update(overrides)
    return body


def patch(client: JsonClient, path: str, body: dict) -> object:
    return client.client.patch(
        f"{API}{path}", json.dumps(body), content_type="application/json", headers=client.headers
    )


def upload(user, data: bytes, name: str, **form: str) -> object:
    client = Client()
    return client.post(
        f"{API}/bins/import",
        {"file": _file(data, name), **form},
        headers=bearer_headers(user),
    )


def _file(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_admin_creates_a_bin_and_its_key_posts_readings(world, admin_api):
    response = admin_api.post("/bins", new_bin(world, transport="mqtt", mqtt_username="nt-api-1"))

    assert response.status_code == 201, response.content
    body = response.json()
    key = body["credentials"]["http_key"]
    assert body["credentials"]["mqtt_username"] == "nt-api-1" and body["credentials"]["mqtt_password"]
    assert body["bin"]["serial"] == "NT-API-0001" and body["bin"]["transport"] == "mqtt"
    assert body["bin"]["connection"] == "never" and body["bin"]["accepted"] == 0
    assert body["bin"]["key_prefix"] == key[:8]
    obj = Bin.objects.get(serial="NT-API-0001")
    assert device_authenticate(key) == obj
    posted = JsonClient({"X-Device-Key": key}).post("/readings", reading(40))
    assert posted.status_code == 201
    shown = admin_api.get(f"/bins/{obj.pk}").json()
    assert (shown["accepted"], shown["connection"], shown["fill_pct"]) == (1, "online", 40.0)
    assert "http_key" not in json.dumps(shown) and key not in json.dumps(shown)


def test_a_refusal_names_the_field_and_lists_every_fault(world, admin_api):
    response = admin_api.post("/bins", new_bin(world, waste_codes=["999-999-99"], transport="hj212"))

    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "waste_codes"
    assert [e["field"] for e in body["errors"]] == ["waste_codes", "hj212_mn"]
    schema_refusal = admin_api.post("/bins", new_bin(world, threshold_pct=0))
    assert schema_refusal.status_code == 422 and schema_refusal.json()["field"] == "threshold_pct"
    assert not Bin.objects.filter(serial="NT-API-0001").exists()


def test_only_the_collectors_admin_provisions(world, admin_api, api_as, rival_admin):
    for user in (world.dispatcher, world.alice):
        client = api_as(user)
        assert client.post("/bins", new_bin(world)).status_code == 403
        assert patch(client, f"/bins/{world.bin.pk}", {"threshold_pct": 50}).status_code == 403
        assert client.post(f"/bins/{world.bin.pk}/credentials", {}).status_code == 403
        assert upload(user, csv_bytes([ZH_HEADER]), "a.csv", dry_run="true").status_code == 403
    rival = api_as(rival_admin)
    assert patch(rival, f"/bins/{world.bin.pk}", {"threshold_pct": 50}).status_code == 404
    assert rival.post(f"/bins/{world.bin.pk}/credentials", {}).status_code == 404
    assert Bin.objects.count() == 1


def test_patch_changes_only_what_is_sent(world, admin_api):
    response = patch(admin_api, f"/bins/{world.bin.pk}", {"threshold_pct": 70, "reporting_interval_s": 300})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["bin"]["threshold_pct"], body["bin"]["reporting_interval_s"], body["bin"]["name"]) == (
        70.0,
        300,
        world.bin.name,
    )
    assert body["credentials"] == {"http_key": None, "mqtt_username": None, "mqtt_password": None}
    refused = patch(admin_api, f"/bins/{world.bin.pk}", {"transport": "mqtt"})
    assert refused.status_code == 400 and refused.json()["field"] == "mqtt_username"
    cleared = patch(admin_api, f"/bins/{world.bin.pk}", {"name": None})
    assert cleared.status_code == 400 and cleared.json()["field"] == "name"
    disabled = patch(admin_api, f"/bins/{world.bin.pk}", {"enabled": False})
    assert disabled.json()["bin"]["connection"] == "disabled"


def test_rotating_credentials_retires_the_old_key(world, admin_api):
    old = world.bin.device_key

    response = admin_api.post(f"/bins/{world.bin.pk}/credentials", {})

    assert response.status_code == 200
    new = response.json()["credentials"]["http_key"]
    assert JsonClient({"X-Device-Key": old}).post("/readings", reading(10)).status_code == 401
    assert JsonClient({"X-Device-Key": new}).post("/readings", reading(10)).status_code == 201
    refused = admin_api.post(f"/bins/{world.bin.pk}/credentials", {"mqtt_password": True})
    assert refused.status_code == 400 and refused.json()["field"] == "mqtt_password"


def test_get_bins_shows_counters_to_all_and_device_ids_to_the_operator_only(world, admin, ingest, api_as):
    from greenisle.devices.services import bin_update

    bin_update(actor=admin, bin_id=world.bin.pk, transport="mqtt", mqtt_username="nt-cc-00001")
    ingest(30)
    ingest(30, at=None)

    operator = api_as(world.dispatcher).get(f"/bins/{world.bin.pk}").json()
    producer = api_as(world.alice).get(f"/bins/{world.bin.pk}").json()

    assert operator["accepted"] == producer["accepted"] == 2
    assert {"duplicate", "rejected", "last_rejected_reason", "connection", "last_seen_at"} <= set(producer)
    assert operator["mqtt_username"] == "nt-cc-00001" and producer["mqtt_username"] is None
    assert operator["key_prefix"] and producer["key_prefix"] is None
    listed = api_as(world.alice).get("/bins").json()["items"][0]
    assert listed["mqtt_username"] is None and listed["transport"] == "mqtt"


def test_import_dry_run_then_for_real(world, admin):
    rows = [ZH_HEADER, ["NT-API-IM-1", "导入云仓", world.producer.uscc, "240", "200", "900-214-08", "", "", ""],
            ["NT-API-IM-2", "", world.producer.uscc, "240", "200", "900-214-08", "", "", ""]]  # fmt: skip
    data = xlsx_bytes(rows)

    dry = upload(admin, data, "bins.xlsx", dry_run="true")

    assert dry.status_code == 200, dry.content
    body = dry.json()
    assert body["dry_run"] is True and body["credentials"] == []
    assert [(r["row"], r["status"]) for r in body["rows"]] == [(2, "ok"), (3, "error")]
    assert body["rows"][1]["errors"] == [{"field": "name", "detail": "名称必填 / name is required"}]
    assert not Bin.objects.filter(serial__startswith="NT-API-IM").exists()

    real = upload(admin, data, "bins.xlsx").json()

    assert [r["status"] for r in real["rows"]] == ["created", "error"]
    assert real["counts"]["created"] == 1 and real["counts"]["error"] == 1
    (secret,) = real["credentials"]
    assert secret["serial"] == "NT-API-IM-1" and secret["row"] == 2
    assert device_authenticate(secret["http_key"]).serial == "NT-API-IM-1"
    assert Event.objects.filter(action="devices.bin.imported").count() == 1


def test_import_refuses_an_unreadable_or_too_large_file(admin, monkeypatch):
    response = upload(admin, b"PK\x03\x04garbage", "bins.xlsx")
    assert response.status_code == 400 and response.json()["field"] == "file"

    monkeypatch.setattr(tables, "MAX_BYTES", 10)
    monkeypatch.setattr("greenisle.devices.api.MAX_BYTES", 10)
    too_large = upload(admin, b"serial\r\n" + b"A" * 20, "bins.csv")
    assert too_large.status_code == 413 and too_large.json()["field"] == "file"
