"""Reads of manifests and their timelines."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from greenisle.audit.models import Event
from greenisle.ledger.models import LedgerRecord
from greenisle.manifests.models import Manifest


def manifest_list_visible_to(user: Any, *, status: str | None = None) -> QuerySet[Manifest]:
    qs = Manifest.objects.visible_to(user).select_related(
        "producer", "producer_site__division", "carrier", "receiver", "vehicle", "trip"
    )
    if status:
        qs = qs.filter(status=status)
    return qs


def manifest_get_visible_to(user: Any, manifest_id: Any) -> Manifest | None:
    # The manifest's ledger records as the person's own ledger shows them (ADR 0002): the producer its
    # production records, the regulator those in its division, the collector both.
    ledger = LedgerRecord.objects.visible_to(user).select_related("waste_code", "organization")
    return (
        manifest_list_visible_to(user)
        .prefetch_related("lines__waste_code", Prefetch("ledger_records", queryset=ledger))
        .filter(pk=manifest_id)
        .first()
    )


def object_timeline(user: Any, *, object_type: str, object_id: Any) -> QuerySet[Event]:
    """The audit events about one object that the person may see, oldest first."""
    return (
        Event.objects.visible_to(user)
        .filter(object_type=object_type, object_id=str(object_id))
        .select_related("actor", "organization")
        .order_by("id")
    )
