"""The one ingest path every transport calls: HTTP JSON, MQTT and HJ 212 all end in ``ingest_batch``.

A batch is written in one transaction and committed before the function returns, so a transport
acknowledges (HTTP 2xx, MQTT PUBACK, HJ 212 9014) only what is stored. Per reading the outcome is
``accepted``, ``duplicate`` (the same device and observed_at was stored before: stored once) or
``rejected`` with the reason and the field. Late and out-of-order readings are stored; only the newest
moves the bin's state. Crossing the threshold opens exactly one pickup request in the same transaction
(``decisions``).

The readings, the bins' state and counters (``ingest_sql``) and the alerts (``decisions``) are one
statement each per batch, rows sorted by device so that concurrent batches lock in the same order.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.devices.models import Bin
from greenisle.telemetry.decisions import Decision, apply_decisions
from greenisle.telemetry.ingest_sql import StateRow, aware, devices_get, insert_readings, upsert_states
from greenisle.telemetry.validation import ReadingIn, reading_from_json

MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    status: str  # accepted | duplicate | rejected
    request_opened: str | None = None
    reason: str = ""
    field: str | None = None
    code: str = ""


@dataclass(slots=True)
class Rejection:
    """A reading a transport could not turn into a ReadingIn, counted against its device."""

    device_id: uuid.UUID
    reason: str
    field: str | None = None
    code: str = "invalid"


@dataclass
class _DeviceTally:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    last_rejected_reason: str = ""
    newest: tuple[dt.datetime, ReadingIn, int] | None = None  # observed_at, reading, item index
    readings: list[ReadingIn] = field(default_factory=list)


ACCEPTED = IngestOutcome(status="accepted")
DUPLICATE = IngestOutcome(status="duplicate", reason="already stored")


def _uuid_order(value: uuid.UUID) -> int:
    return value.int  # comparing UUID objects goes through Python-level __lt__; ints compare in C


def _key_order(key: tuple[uuid.UUID, dt.datetime]) -> tuple[int, dt.datetime]:
    return (key[0].int, key[1])


def ingest_batch(
    items: Sequence[tuple[uuid.UUID, ReadingIn]],
    *,
    transport: str,
    rejections: Iterable[Rejection] = (),
    now: dt.datetime | None = None,
    devices: Mapping[uuid.UUID, tuple[bool, Decimal]] | None = None,
) -> list[IngestOutcome]:
    """Store a batch of readings for known devices; return one outcome per item, in order.

    ``rejections`` are items the transport already refused (bad JSON, bad packet values): they are
    only counted against their device. Items of a disabled or unknown device are rejected here.
    ``devices`` (enabled flag and threshold per bin) may be passed by a transport that has just read
    them; bins missing from it are looked up. Everything happens in one transaction that has
    committed when this returns.
    """
    received = now or timezone.now()
    tallies: defaultdict[uuid.UUID, _DeviceTally] = defaultdict(_DeviceTally)
    for rejection in rejections:
        tally = tallies[rejection.device_id]
        tally.rejected += 1
        tally.last_rejected_reason = rejection.reason[:200]

    outcomes: list[IngestOutcome | None] = [None] * len(items)
    with transaction.atomic():
        wanted = {device_id for device_id, _ in items} | set(tallies)
        if devices is None:
            known_devices: Mapping[uuid.UUID, tuple[bool, Decimal]] = devices_get(wanted)
        else:
            missing = wanted - devices.keys()
            known_devices = {**devices, **devices_get(missing)} if missing else devices
        first: dict[tuple[uuid.UUID, dt.datetime], int] = {}
        for index, (device_id, reading) in enumerate(items):
            known = known_devices.get(device_id)
            if known is None or not known[0]:
                code = "unknown_device" if known is None else "device_disabled"
                reason = "未知设备 / unknown device" if known is None else "设备已停用 / device is disabled"
                outcomes[index] = IngestOutcome(status="rejected", reason=reason, field="device", code=code)
                if known is not None:
                    tally = tallies[device_id]
                    tally.rejected += 1
                    tally.last_rejected_reason = reason
                continue
            key = (device_id, reading.observed_at)
            if key in first:  # the same reading twice in one batch
                outcomes[index] = DUPLICATE
                tallies[device_id].duplicate += 1
                continue
            first[key] = index
        # Sorted, so that concurrent batches take their row locks in the same order (no deadlock).
        keys = sorted(first, key=_key_order)
        inserted = insert_readings([items[first[k]] for k in keys], received, transport) if keys else None
        for key in keys:
            index = first[key]
            device_id, reading = items[index]
            tally = tallies[device_id]
            if inserted is None or key in inserted:
                outcomes[index] = ACCEPTED
                tally.accepted += 1
                if reading.door_open is not None:
                    tally.readings.append(reading)
                if tally.newest is None or reading.observed_at > tally.newest[0]:
                    tally.newest = (reading.observed_at, reading, index)
            else:
                outcomes[index] = DUPLICATE
                tally.duplicate += 1

        # One row per device: the newest reading (moves the state only if newer) and the counters.
        state_rows = []
        for device_id in sorted(tallies, key=_uuid_order):
            if device_id not in known_devices:
                continue
            tally = tallies[device_id]
            newest = tally.newest[1] if tally.newest else None
            door_since = None
            if newest is not None and newest.door_open:
                # The start of the trailing run of door-open readings in this batch.
                door_since = newest.observed_at
                for reading in sorted(tally.readings, key=lambda r: r.observed_at, reverse=True):
                    if reading.door_open:
                        door_since = reading.observed_at
                    elif reading.door_open is False:
                        break
            state_rows.append(
                StateRow(
                    device_id=device_id,
                    newest=newest,
                    door_since=door_since,
                    accepted=tally.accepted,
                    duplicate=tally.duplicate,
                    rejected=tally.rejected,
                    last_rejected_reason=tally.last_rejected_reason,
                )
            )
        decisions = []
        for device_id, observed_at, fill, temperature in upsert_states(state_rows, received, transport):
            device_id = uuid.UUID(str(device_id))
            newest_at = tallies[device_id].newest
            if newest_at is not None and aware(observed_at) == newest_at[0]:
                decisions.append(
                    Decision(
                        device_id=device_id,
                        observed_at=newest_at[0],
                        fill_pct=None if fill is None else Decimal(str(fill)),
                        temperature_c=None if temperature is None else Decimal(str(temperature)),
                        threshold_pct=known_devices[device_id][1],
                        item=newest_at[2],
                    )
                )
        opened = apply_decisions(decisions)

    final: list[IngestOutcome] = [outcome for outcome in outcomes if outcome is not None]
    assert len(final) == len(items)
    for decision in decisions:
        if decision.device_id in opened:
            final[decision.item] = IngestOutcome(status="accepted", request_opened=opened[decision.device_id])
    return final


def ingest_parsed(
    items: Sequence[tuple[uuid.UUID, Any] | ServiceError],
    *,
    transport: str,
    now: dt.datetime,
    rejections: Iterable[Rejection] = (),
) -> list[IngestOutcome]:
    """Parsed JSON items through the Python validators and ``ingest_batch``: the path of SQLite, and
    of any batch PostgreSQL could not parse. Each item is (bin, JSON value), or the error that already
    refused it (an unknown serial: counted against no bin). One outcome per item, in order."""
    batch: list[tuple[uuid.UUID, ReadingIn]] = []
    positions: list[int] = []
    results: list[IngestOutcome] = [ACCEPTED] * len(items)
    rejected = list(rejections)
    for index, item in enumerate(items):
        try:
            if isinstance(item, ServiceError):
                raise item
            device_id, value = item
            try:
                batch.append((device_id, reading_from_json(value, now=now)))
            except ServiceError as exc:
                rejected.append(Rejection(device_id, exc.message, exc.field, exc.code))
                raise
        except ServiceError as exc:
            results[index] = IngestOutcome(
                status="rejected", reason=exc.message, field=exc.field, code=exc.code
            )
            continue
        positions.append(index)
    outcomes = ingest_batch(batch, transport=transport, rejections=rejected, now=now)
    for index, outcome in zip(positions, outcomes, strict=True):
        results[index] = outcome
    return results


def reading_ingest(*, device: Bin, reading: ReadingIn, transport: str) -> IngestOutcome:
    """One reading through the batch path (committed before it returns). A disabled device's reading
    is counted against it and refused."""
    outcome = ingest_batch([(device.pk, reading)], transport=transport)[0]
    if outcome.code == "device_disabled":
        raise PermissionDenied("设备已停用 / device is disabled", field="device", code="device_disabled")
    return outcome
