"""Manifests in the statistics: made in the period by current state, and delivered in the period by
how their receipt met the deadline (办法 Art. 18: 5 working days from delivery), per district and
month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Count,
    F,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from greenisle.manifests.choices import ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.supervision import statistics_core as core
from greenisle.supervision.statistics_filters import (
    Filters,
    districts_of,
    has_category,
    local_tz,
    manifests_seen,
    month_of,
)

# --- manifests: state and receipt deadline ----------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    status: str
    label: str
    collection: int
    onward: int

    @property
    def total(self) -> int:
        return self.collection + self.onward


@dataclass
class Compliance:
    code: str
    name: str
    on_time: int = 0
    late: int = 0
    open_overdue: int = 0
    open_pending: int = 0

    @property
    def decided(self) -> int:
        """Manifests whose deadline has been met or missed (the pending ones are not yet either)."""
        return self.on_time + self.late + self.open_overdue

    @property
    def on_time_pct(self) -> float | None:
        return core.rate_pct(self.on_time, self.decided)


@dataclass(frozen=True)
class ManifestStats:
    states: list[StateCount]
    compliance: list[Compliance]
    compliance_total: Compliance


def _deadline_counts(qs: QuerySet[Manifest], today: dt.date, *group: Any) -> Any:
    """Count the manifests of ``qs`` (delivered, with a due date) by how their receipt met 办法 Art. 18."""
    received_on = TruncDate("received_at", tzinfo=local_tz())
    return (
        qs.annotate(received_on=received_on)
        .values(*group)
        .annotate(
            on_time=Count("id", filter=Q(received_at__isnull=False, received_on__lte=F("receipt_due_on"))),
            late=Count("id", filter=Q(received_at__isnull=False, received_on__gt=F("receipt_due_on"))),
            open_overdue=Count(
                "id",
                filter=Q(received_at__isnull=True, status=ManifestStatus.DELIVERED, receipt_due_on__lt=today),
            ),
            open_pending=Count(
                "id",
                filter=Q(
                    received_at__isnull=True, status=ManifestStatus.DELIVERED, receipt_due_on__gte=today
                ),
            ),
        )
        .order_by()
    )


def _delivered(user: Any, f: Filters) -> QuerySet[Manifest]:
    qs = (
        manifests_seen(user, f)
        .exclude(status=ManifestStatus.CANCELLED)
        .filter(delivered_at__gte=f.start, delivered_at__lt=f.end, receipt_due_on__isnull=False)
    )
    if f.category:
        qs = qs.filter(has_category(f))
    return qs


DEADLINE_COUNTS = ("on_time", "late", "open_overdue", "open_pending")


def deadline_rows(user: Any, f: Filters) -> list[dict[str, Any]]:
    """The manifests delivered in the period by how their receipt met 办法 Art. 18, per district and
    month of delivery (index in ``month_keys(f)``): what ``manifest_stats`` sums per district and
    ``trend`` per month. One query."""
    delivered = _delivered(user, f).annotate(month=month_of("delivered_at", f))
    return list(_deadline_counts(delivered, timezone.localdate(), "producer_site__division_id", "month"))


def summed(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, int]]:
    out: dict[Any, dict[str, int]] = {}
    for r in rows:
        sums = out.setdefault(r[key], dict.fromkeys(DEADLINE_COUNTS, 0))
        for name in DEADLINE_COUNTS:
            sums[name] += r[name]
    return out


def manifest_stats(user: Any, f: Filters, deadlines: list[dict[str, Any]] | None = None) -> ManifestStats:
    """Manifests made in the period by current state (collection and onward), and those delivered in
    the period by receipt deadline (办法 Art. 18: 5 working days from delivery) per district.
    ``deadlines``: ``deadline_rows(user, f)`` when the caller has them already."""
    made = manifests_seen(user, f).filter(created_at__gte=f.start, created_at__lt=f.end)
    if f.category:
        made = made.filter(has_category(f))
    counts = {
        (r["status"], r["kind"]): r["n"]
        for r in made.values("status", "kind").annotate(n=Count("id")).order_by()
    }
    states = [
        StateCount(
            status=str(value),
            label=str(label),
            collection=counts.get((value, ManifestKind.COLLECTION), 0),
            onward=counts.get((value, ManifestKind.ONWARD), 0),
        )
        for value, label in ManifestStatus.choices
    ]
    rows = summed(deadline_rows(user, f) if deadlines is None else deadlines, "producer_site__division_id")
    total = Compliance(code=f.division or f.scope_code, name="")
    compliance = []
    for place in districts_of(f, set(rows)):
        r = rows.get(place.code, {})
        row = Compliance(
            place.code,
            place.name,
            r.get("on_time", 0),
            r.get("late", 0),
            r.get("open_overdue", 0),
            r.get("open_pending", 0),
        )
        for name in ("on_time", "late", "open_overdue", "open_pending"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        compliance.append(row)
    return ManifestStats(states=states, compliance=compliance, compliance_total=total)
