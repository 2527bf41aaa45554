"""The set-based PostgreSQL path gives exactly what the Python validators and ``ingest_batch`` give:
the same outcome per item, the same rows stored, the same bin state and counters."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from factories import BinFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenisle.devices.models import Bin
from greenisle.dispatch.models import PickupRequest
from greenisle.telemetry.api import _ingest_items
from greenisle.telemetry.ingest_pg import Extra, ingest_json
from greenisle.telemetry.models import BinState, Reading

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the set-based path is PostgreSQL's"
)

NOW = dt.datetime(2026, 10, 8, 1, 30, tzinfo=dt.UTC)


class _Rollback(Exception):
    pass


def _snapshot(bins: list[Bin]) -> tuple[Any, Any, Any]:
    ids = [b.pk for b in bins]
    readings = sorted(
        Reading.objects.filter(device_id__in=ids).values_list(
            "device_id", "observed_at", "device_time_raw", "fill_pct", "net_weight_kg", "temperature_c",
            "door_open", "battery_pct", "quality", "sequence",
        )
    )  # fmt: skip
    states = sorted(
        BinState.objects.filter(device_id__in=ids).values_list(
            "device_id", "observed_at", "fill_pct", "net_weight_kg", "temperature_c", "door_open",
            "door_opened_at", "battery_pct", "quality", "accepted", "duplicate", "rejected",
            "last_rejected_reason",
        )
    )  # fmt: skip
    requests = sorted(PickupRequest.objects.filter(bin_id__in=ids).values_list("bin_id", "status"))
    return readings, states, requests


def _run(path: Any, bins: list[Bin]) -> Any:
    """Run one path and return what it answered and stored, leaving the database as it was."""
    try:
        with transaction.atomic():
            outcomes = path()
            if outcomes is None:  # PostgreSQL declined the batch
                raise _Rollback(None)
            result = (
                [(o.status, o.code, o.field, o.reason, o.request_opened is not None) for o in outcomes],
                _snapshot(bins),
            )
            raise _Rollback(result)
    except _Rollback as done:
        return done.args[0]


@pytest.fixture
def fleet(world):
    other = BinFactory(serial="NT-CC-00002", site=world.site, collector=world.collector, threshold_pct=60)
    off = BinFactory(serial="NT-CC-00003", site=world.site, collector=world.collector, enabled=False)
    return [world.bin, other, off]


def _times() -> st.SearchStrategy[Any]:
    minutes = st.integers(min_value=-60 * 24 * 500, max_value=30)
    zones = st.sampled_from(["+08:00", "Z", "+0800", "-05:30", "", "+08"])
    separators = st.sampled_from(["T", " ", "t"])
    good = st.builds(
        lambda m, z, sep, frac: (NOW + dt.timedelta(minutes=m)).strftime(f"%Y-%m-%d{sep}%H:%M:%S") + frac + z,
        minutes, zones, separators, st.sampled_from(["", ".5", ".123456", ".1234567"]),
    )  # fmt: skip
    odd = st.sampled_from(
        ["2026-10-08T24:00:00Z", "2026-10-08T10:00:60Z", "20261008T100000Z",
         "yesterday", "", "2026-10-08T09:61:00Z", "2026-10-08T09:00:00+08:60"]
    )  # fmt: skip
    return st.one_of(good, good, good, odd, st.integers(min_value=-(2**63), max_value=2**63 - 1), st.none())


def _numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.integers(min_value=-200, max_value=200_000),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
        st.decimals(places=3, min_value=-100, max_value=300).map(str),
        st.sampled_from(["12.345", " 7 ", "1e2", "NaN", "full", "1_0", "+5", ".5", "5.", True, [], {}]),
        st.sampled_from([100, 100.5, 101, "100.004", "100.005", -60, -60.5, 200.01, 100000.001, -0.001]),
    )


def _good_times() -> st.SearchStrategy[str]:
    return st.builds(
        lambda m, z: (NOW + dt.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S") + z,
        st.integers(min_value=-30, max_value=0),  # a few distinct minutes: repeats happen
        st.sampled_from(["+08:00", "Z", "+00:00"]),
    )


def _good_numbers(low: float, high: float) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(min_value=int(low), max_value=int(high)),
        st.floats(min_value=low, max_value=high),
        st.decimals(places=3, min_value=low, max_value=high).map(str),
    )


def _items(serials: list[str]) -> st.SearchStrategy[Any]:
    """Mostly valid readings (so that states move and requests open), each with a chance of one
    field replaced by anything, or of a field left out."""
    valid = st.fixed_dictionaries(
        {
            "serial": st.sampled_from(serials),
            "observed_at": _good_times(),
            "fill_pct": _good_numbers(0, 100),
        },
        optional={
            "net_weight_kg": _good_numbers(0, 500),
            "temperature_c": _good_numbers(-10, 60),
            "battery_pct": _good_numbers(0, 100),
            "door_open": st.booleans(),
            "sequence": st.integers(min_value=0, max_value=2**40),
            "quality": st.sampled_from(["N", "D", "M"]),
        },
    )
    anything = {
        "serial": st.sampled_from([*serials, "NOPE", 7, None]),
        "observed_at": _times(),
        "fill_pct": _numbers(),
        "net_weight_kg": _numbers(),
        "temperature_c": _numbers(),
        "battery_pct": _numbers(),
        "door_open": st.sampled_from([True, False, None, "yes", 1]),
        "sequence": st.sampled_from([None, 0, 7, -1, 5.0, 2**63, 2**63 - 1, "7", True, 1.5]),
        "quality": st.sampled_from([None, "N", "D", "NN", "中", 1, ""]),
    }

    @st.composite
    def perturbed(draw: Any) -> Any:
        item = draw(valid)
        choice = draw(st.integers(min_value=0, max_value=9))
        if choice < 5:
            return item
        key = draw(st.sampled_from(sorted(anything)))
        if choice == 9:
            item.pop(key, None)
        else:
            item[key] = draw(anything[key])
        return item

    not_objects = st.sampled_from([[], 5, "x", None])
    return st.lists(st.one_of(perturbed(), perturbed(), perturbed(), not_objects), min_size=1, max_size=40)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_gateway_batches_agree_with_the_python_path(fleet, data):
    serials = [b.serial for b in fleet]
    items = data.draw(_items(serials))
    # Some items repeat an earlier one (a duplicate within the batch).
    if len(items) > 1 and data.draw(st.booleans()):
        items.append(items[0])
    collector = fleet[0].collector_id
    by_sql = _run(lambda: ingest_json(items, transport="http", now=NOW, collector_id=collector), fleet)
    by_python = _run(lambda: _ingest_items(items, device=None, collector_id=collector, now=NOW), fleet)
    assert by_sql is not None, "PostgreSQL declined a batch it should take"
    assert by_sql == by_python


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_device_batches_agree_with_the_python_path(fleet, data):
    device = data.draw(st.sampled_from(fleet))
    items = data.draw(_items([device.serial]))
    by_sql = _run(lambda: ingest_json(items, transport="http", now=NOW, device_id=device.pk), fleet)
    by_python = _run(lambda: _ingest_items(items, device=device, collector_id=None, now=NOW), fleet)
    assert by_sql is not None, "PostgreSQL declined a batch it should take"
    assert by_sql == by_python


def test_a_value_postgresql_cannot_parse_declines_and_stores_nothing(fleet):
    items = [
        {"serial": fleet[0].serial, "observed_at": "2026-10-08T09:00:00+08:00", "fill_pct": 30},
        {"serial": fleet[0].serial, "observed_at": "2026-02-30T09:00:00+08:00", "fill_pct": 30},
    ]
    with transaction.atomic():
        assert ingest_json(items, transport="http", now=NOW, collector_id=fleet[0].collector_id) is None
        assert not Reading.objects.exists()


def test_the_sql_path_actually_runs_and_counts(fleet):
    """Not vacuous: a plain batch is handled by PostgreSQL, with per-item answers and counters."""
    device = fleet[0]
    items = [
        {"observed_at": (NOW - dt.timedelta(minutes=m)).isoformat(), "fill_pct": 10 + m} for m in range(5)
    ] + [{"observed_at": "nope", "fill_pct": 1}, {"observed_at": NOW.isoformat(), "fill_pct": 95}]
    with transaction.atomic():
        outcomes = ingest_json(items, transport="mqtt", now=timezone.now(), device_ids=[device.pk] * 7,
                               extra=[Extra(device.pk, "not_json")])  # fmt: skip
    assert outcomes is not None
    statuses = [o.status for o in outcomes]
    assert statuses == ["accepted"] * 5 + ["rejected", "duplicate"]
    assert outcomes[5].field == "observed_at"
    state = BinState.objects.get(device=device)
    assert (state.accepted, state.duplicate, state.rejected) == (5, 1, 2)
    assert state.fill_pct == 10 and state.observed_at == NOW
    assert state.last_rejected_reason.startswith("observed_at")


def test_unknown_devices_in_mqtt_batches_are_rejected_not_counted(fleet):
    stranger = uuid.uuid4()
    items = [{"observed_at": NOW.isoformat(), "fill_pct": 10}]
    with transaction.atomic():
        outcomes = ingest_json(items, transport="mqtt", now=NOW, device_ids=[stranger])
    assert outcomes is not None and outcomes[0].code == "unknown_device"
    assert not BinState.objects.filter(device_id=stranger).exists()
