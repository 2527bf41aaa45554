"""Decisions after a batch: what a bin's state moving to a newer reading sets off.

Crossing the bin's threshold opens a pickup request (exactly one: the partial unique index on
blocking requests backs this up under concurrency), falling to the emptied level closes it, and the
temperature opens or clears an alert. Both ingest paths (``ingest`` and ``ingest_pg``) hand their
decisions to ``apply_decisions`` inside the ingest transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection

from greenisle.devices.models import Bin


@dataclass(frozen=True, slots=True)
class Decision:
    """A bin whose state has just moved to a batch's reading that may cross the threshold, empty the
    bin, or change a temperature alert."""

    device_id: uuid.UUID
    observed_at: dt.datetime
    fill_pct: Decimal | None
    temperature_c: Decimal | None
    threshold_pct: Decimal
    item: int  # the batch item that carried the reading


def apply_decisions(decisions: list[Decision]) -> dict[uuid.UUID, str]:
    """Open or close pickup requests, open or clear temperature alerts; returns the requests opened
    per bin. Runs in the ingest transaction."""
    from greenisle.dispatch.services import FillNewest, requests_apply_fill
    from greenisle.telemetry.alerts import temperature_apply

    emptied = emptied_level()
    by_device = {d.device_id: d for d in decisions}
    over: set[uuid.UUID] = set()
    low: set[uuid.UUID] = set()
    for decision in decisions:
        if decision.fill_pct is not None:
            if decision.fill_pct >= decision.threshold_pct:
                over.add(decision.device_id)
            elif decision.fill_pct <= emptied:
                low.add(decision.device_id)
    opened: dict[uuid.UUID, str] = {}
    if over or low:
        blocked = _blocked_get(over | low)
        # Over the threshold with a request already open, or emptied with none open: nothing to do.
        todo = (over - blocked) | (low & blocked)
        if todo:
            bins = Bin.objects.select_related("site__organization").filter(pk__in=todo).order_by("pk")
            opened = requests_apply_fill(
                [
                    FillNewest(device, by_device[device.pk].fill_pct, by_device[device.pk].observed_at)  # type: ignore[arg-type]
                    for device in bins
                ]
            )
    temperatures = [(d.device_id, d.temperature_c) for d in decisions if d.temperature_c is not None]
    if temperatures:
        temperature_apply(
            temperatures,  # type: ignore[arg-type]
            observed={d.device_id: d.observed_at for d in decisions if d.temperature_c is not None},
        )
    return opened


def emptied_level() -> Decimal:
    return Decimal(str(settings.GREENISLE["BIN_EMPTIED_PCT"]))


def decision_filter() -> tuple[str, list[Any]]:
    """Of the bins whose state moved to this batch's reading (``up``), the ones that need a decision
    (threshold, emptied, temperature): most of a batch needs none, and fetching and converting a row
    per bin would cost more than the update."""
    limit = settings.GREENISLE["TEMPERATURE_LIMIT_C"]
    clear = limit - settings.GREENISLE["TEMPERATURE_CLEAR_MARGIN_C"]
    return (
        "JOIN devices_bin b ON b.id = up.device_id "
        "WHERE up.fill_pct >= b.threshold_pct OR up.fill_pct <= %s OR up.temperature_c > %s "
        "OR (up.temperature_c < %s AND EXISTS (SELECT 1 FROM telemetry_alert a "
        "WHERE a.device_id = up.device_id AND a.kind = 'temperature' AND a.cleared_at IS NULL))",
        [emptied_level(), limit, clear],
    )


def _blocked_get(ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Bins among ``ids`` with a pickup request that blocks a new one (open, assigned, collected)."""
    from greenisle.dispatch.models import BLOCKING_STATUSES, PickupRequest

    if connection.vendor != "postgresql":
        return set(
            PickupRequest.objects.filter(bin_id__in=ids, status__in=BLOCKING_STATUSES).values_list(
                "bin_id", flat=True
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT bin_id FROM {PickupRequest._meta.db_table} "
            "WHERE bin_id = ANY(%s::uuid[]) AND status = ANY(%s::varchar[])",
            [list(ids), [str(s) for s in BLOCKING_STATUSES]],
        )
        return {row[0] for row in cursor.fetchall()}
