"""The regulator's overview of its division (and any role's counts of what it may see)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q, Sum

from greenisle.devices.models import Bin
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.organizations.models import Division, Organization


@dataclass(frozen=True)
class DivisionRow:
    code: str
    name: str
    producers: int
    bins: int
    bins_over_threshold: int
    open_requests: int
    manifests_in_transit: int
    received_kg: float


def division_overview(user: Any) -> list[DivisionRow]:
    """Per county-level division the person can see: the loop's counts."""
    bins = Bin.objects.visible_to(user)
    requests = PickupRequest.objects.visible_to(user)
    manifests = Manifest.objects.visible_to(user)
    orgs = Organization.objects.visible_to(user).filter(kind="producer")
    by_div: dict[str, dict[str, Any]] = {}

    def bump(rows: Any, key: str, field: str) -> None:
        for row in rows:
            by_div.setdefault(row[key], {})[field] = row["n"]

    bump(orgs.values("division_id").annotate(n=Count("id")), "division_id", "producers")
    bump(bins.values("site__division_id").annotate(n=Count("id")), "site__division_id", "bins")
    over = bins.filter(state__fill_pct__gte=F("threshold_pct"))
    bump(over.values("site__division_id").annotate(n=Count("id")), "site__division_id", "over")
    bump(
        requests.filter(status__in=[RequestStatus.OPEN, RequestStatus.ASSIGNED])
        .values("site__division_id")
        .annotate(n=Count("id")),
        "site__division_id",
        "open",
    )
    bump(
        manifests.values("producer_site__division_id").annotate(
            n=Count("id", filter=Q(status=ManifestStatus.IN_TRANSIT))
        ),
        "producer_site__division_id",
        "transit",
    )
    received = (
        manifests.filter(status=ManifestStatus.RECEIVED)
        .values("producer_site__division_id")
        .annotate(n=Sum("lines__received_weight_kg"))
    )
    bump(received, "producer_site__division_id", "kg")
    names = dict(Division.objects.filter(code__in=by_div.keys()).values_list("code", "name"))
    return [
        DivisionRow(
            code=code,
            name=names.get(code, code),
            producers=v.get("producers", 0),
            bins=v.get("bins", 0),
            bins_over_threshold=v.get("over", 0),
            open_requests=v.get("open", 0),
            manifests_in_transit=v.get("transit", 0),
            received_kg=float(v.get("kg") or 0),
        )
        for code, v in sorted(by_div.items())
    ]
