"""Batches of readings over HTTP JSON: POST /api/v1/readings/batch answers per item."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from factories import BinFactory

from api.helpers import bearer_headers, reading
from greenisle.dispatch.models import PickupRequest
from greenisle.telemetry.models import BinState, Reading


def test_a_device_batch_stores_good_items_and_rejects_bad_ones_by_index(world, device):
    good = [reading(20 + i, minutes_ago=30 - i) for i in range(5)]
    body = {
        "readings": [
            good[0],
            {"observed_at": "not a time", "fill_pct": 10},
            good[1],
            {**good[2], "fill_pct": 140},
            "not an object",
            good[3],
            good[3],  # the same reading twice in one batch
            good[4],
        ]
    }
    response = device(world.bin).post("/readings/batch", body)
    assert response.status_code == 200, response.content
    out = response.json()
    assert [r["status"] for r in out["results"]] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "accepted",
        "duplicate",
        "accepted",
    ]
    assert [r["index"] for r in out["results"]] == list(range(8))
    assert out["results"][1]["field"] == "observed_at"
    assert out["results"][3]["field"] == "fill_pct"
    assert (out["accepted"], out["duplicate"], out["rejected"]) == (4, 1, 3)
    assert Reading.objects.filter(device=world.bin).count() == 4
    state = BinState.objects.get(device=world.bin)
    # Newest reading wins; counters add up what the device sent (the non-object is not attributable
    # to a reading, but it came with this device's key, so it counts too).
    assert state.fill_pct == 24
    assert (state.accepted, state.duplicate, state.rejected) == (4, 1, 3)
    assert state.last_rejected_reason == out["results"][4]["reason"]  # the last one refused


def test_resending_a_batch_stores_nothing_twice(world, device):
    body = {"readings": [reading(30 + i, minutes_ago=20 - i) for i in range(10)]}
    first = device(world.bin).post("/readings/batch", body).json()
    second = device(world.bin).post("/readings/batch", body).json()
    assert (first["accepted"], second["accepted"], second["duplicate"]) == (10, 0, 10)
    assert Reading.objects.filter(device=world.bin).count() == 10


def test_a_batch_crossing_the_threshold_opens_one_request_on_the_newest_reading(world, device):
    body = {"readings": [reading(70, minutes_ago=9), reading(85, minutes_ago=6), reading(90, minutes_ago=3)]}
    out = device(world.bin).post("/readings/batch", body).json()
    opened = [r["request_opened"] for r in out["results"]]
    assert opened[0] is None and opened[1] is None and opened[2] is not None
    assert PickupRequest.objects.filter(bin=world.bin).count() == 1


def test_a_device_may_not_post_for_another_bin(world, device):
    other = BinFactory(site=world.site, collector=world.collector)
    out = device(world.bin).post("/readings/batch", {"readings": [{**reading(10), "serial": other.serial}]})
    assert out.json()["results"][0] == {
        "index": 0,
        "status": "rejected",
        "reason": out.json()["results"][0]["reason"],
        "field": "serial",
        "request_opened": None,
    }
    assert not Reading.objects.exists()


def test_a_collector_gateway_posts_for_its_own_bins_by_serial(world, api_as, rival_dispatcher):
    second = BinFactory(site=world.site, collector=world.collector)
    foreign = BinFactory(site=world.site, collector=rival_dispatcher.current_membership.organization)
    from api.helpers import JsonClient

    gateway = JsonClient(bearer_headers(world.dispatcher))
    body = {
        "readings": [
            {**reading(11), "serial": world.bin.serial},
            {**reading(12), "serial": second.serial},
            {**reading(13), "serial": foreign.serial},  # not this collector's bin
            reading(14),  # no serial
        ]
    }
    out = gateway.post("/readings/batch", body).json()
    assert [r["status"] for r in out["results"]] == ["accepted", "accepted", "rejected", "rejected"]
    assert {r["field"] for r in out["results"][2:]} == {"serial"}
    assert set(Reading.objects.values_list("device__serial", flat=True)) == {world.bin.serial, second.serial}


def test_a_producer_clerk_may_not_act_as_a_gateway(world):
    from api.helpers import JsonClient

    response = JsonClient(bearer_headers(world.alice)).post(
        "/readings/batch", {"readings": [{**reading(10), "serial": world.bin.serial}]}
    )
    assert response.status_code == 403
    assert response.json()["field"] == "authorization"


def test_batch_size_and_shape_are_checked(world, device):
    client = device(world.bin)
    assert client.post("/readings/batch", {"readings": []}).json()["field"] == "readings"
    too_many = {"readings": [reading(10, minutes_ago=i / 100) for i in range(1001)]}
    response = client.post("/readings/batch", too_many)
    assert response.status_code == 400 and response.json()["field"] == "readings"
    assert client.post("/readings/batch", {"data": []}).json()["field"] == "readings"
    assert not Reading.objects.exists()


def test_a_disabled_device_is_refused_per_item_and_counted(world, device):
    world.bin.enabled = False
    world.bin.save()
    out = device(world.bin).post("/readings/batch", {"readings": [reading(10)]}).json()
    assert out["results"][0]["status"] == "rejected"
    assert out["results"][0]["field"] == "device"
    assert BinState.objects.get(device=world.bin).rejected == 1
    assert not Reading.objects.exists()


def test_late_readings_in_a_batch_are_stored_without_moving_the_state(world, device):
    client = device(world.bin)
    client.post("/readings/batch", {"readings": [reading(40, minutes_ago=1)]})
    late = {"observed_at": (timezone.now() - dt.timedelta(days=3)).isoformat(), "fill_pct": 95}
    out = client.post("/readings/batch", {"readings": [late]}).json()
    assert out["results"][0]["status"] == "accepted"
    assert BinState.objects.get(device=world.bin).fill_pct == 40
    assert not PickupRequest.objects.exists()
