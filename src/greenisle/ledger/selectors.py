from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from greenisle.ledger.models import LedgerRecord


def ledger_list_visible_to(user: Any, *, record_type: str | None = None) -> QuerySet[LedgerRecord]:
    qs = LedgerRecord.objects.visible_to(user).select_related(
        "organization", "site", "waste_code", "manifest"
    )
    if record_type:
        qs = qs.filter(record_type=record_type)
    return qs
