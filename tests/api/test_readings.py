"""A smart bin posts readings over HTTP JSON (POST /api/v1/readings, header X-Device-Key)."""

from __future__ import annotations

import datetime as dt

import pytest

from api.helpers import JsonClient, items, reading
from greenisle.dispatch.models import PickupRequest
from greenisle.telemetry.models import Reading


def test_reading_is_accepted_with_201_and_stored(world, device):
    response = device(world.bin).post(
        "/readings", reading(42.5, net_weight_kg=61.2, battery_pct=97, sequence=1)
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "accepted"
    stored = Reading.objects.get(device=world.bin)
    assert stored.device == world.bin and str(stored.fill_pct) == "42.50"
    assert body["request_opened"] is None  # 42.5 % is under the 80 % threshold


def test_the_same_reading_twice_is_stored_once_and_answered_200(world, device):
    body = reading(50)
    first = device(world.bin).post("/readings", body)
    second = device(world.bin).post("/readings", body)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["status"] == "duplicate"
    assert Reading.objects.filter(device=world.bin).count() == 1


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"X-Device-Key": "dk_nobody-issued-this-key"}, "unknown_device"),
        ({"X-Device-Key": ""}, "device_key_missing"),
        ({}, "device_key_missing"),
    ],
    ids=["unknown-key", "empty-key", "missing-key"],
)
def test_unknown_or_missing_device_key_is_401_json(world, headers, code):
    response = JsonClient(headers).post("/readings", reading(90))

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == code
    assert response.json()["field"] == "X-Device-Key"
    assert not Reading.objects.exists() and not PickupRequest.objects.exists()


def test_a_person_token_is_not_a_device_key(world, api_as):
    response = api_as(world.dispatcher).post("/readings", reading(90))

    assert response.status_code == 401
    assert not Reading.objects.exists()


def test_disabled_device_is_refused_with_403(world, device):
    world.bin.enabled = False
    world.bin.save(update_fields=["enabled"])

    response = device(world.bin).post("/readings", reading(90))

    assert response.status_code == 403
    assert response.json()["code"] == "device_disabled"
    assert not Reading.objects.exists() and not PickupRequest.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (reading(120), "fill_pct"),
        (reading(-1), "fill_pct"),
        ({"observed_at": "2026-10-08T09:30:00", "fill_pct": 50}, "observed_at"),
        ({"observed_at": dt.datetime.now(dt.UTC).isoformat()}, "fill_pct"),
        ({"fill_pct": 50}, "observed_at"),
        (reading("lots"), "fill_pct"),
        (reading(50, battery_pct=101), "battery_pct"),
        (reading(50, minutes_ago=-60), "observed_at"),
    ],
    ids=["fill-120", "fill-negative", "naive-observed_at", "missing-fill", "missing-observed_at",
         "fill-not-a-number", "battery-101", "observed_at-in-future"],
)  # fmt: skip
def test_bad_reading_is_refused_with_json_naming_the_field(world, device, body, field):
    response = device(world.bin).post("/readings", body)

    assert response.status_code in (400, 422), response.content
    error = response.json()
    assert error["field"] == field, error
    assert field in error["detail"] or error["code"] == "invalid"
    assert not Reading.objects.exists()


def test_crossing_the_threshold_opens_exactly_one_request(world, device, api_as):
    bin_client = device(world.bin)
    first = bin_client.post("/readings", reading(85, minutes_ago=10)).json()
    again = bin_client.post("/readings", reading(92, minutes_ago=5)).json()

    assert first["request_opened"] and again["request_opened"] is None
    rows = items(api_as(world.dispatcher).get("/pickup-requests", status="open"))
    assert [r["id"] for r in rows] == [first["request_opened"]]
    assert rows[0]["fill_pct_at_open"] == 85.0
    assert rows[0]["bin_id"] == str(world.bin.pk)
