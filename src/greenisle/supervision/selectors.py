"""The regulator's overview of its division, and the findings a person may see: lists, a finding's
audit trail, its repeat chain and its evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.db.models import Count, F, Q, Sum

from greenisle.devices.models import Bin
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.manifests.choices import ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest, ReceiptTotal
from greenisle.organizations.models import Division, Organization
from greenisle.supervision.models import Finding


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
    # Everything collected from the division's producers to date (accepted weight of collection
    # manifests received or treated; the onward transfer of the same waste is not counted again), from
    # the receipt totals: one pass over one table (ADR 15).
    received = (
        ReceiptTotal.objects.visible_to(user)
        .filter(kind=ManifestKind.COLLECTION)
        .values("division_id")
        .annotate(n=Sum("kg"))
        .order_by()
    )
    bump(received, "division_id", "kg")
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


# --- findings -------------------------------------------------------------------------------------


def finding_list_visible_to(
    user: Any,
    *,
    status: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
    division: str | None = None,
    organization_id: Any = None,
) -> Any:
    """Findings the person may see, newest first; ``division`` is a division code or its prefix
    (320600 is the whole city, like the bureau's own scope)."""
    from greenisle.organizations.identifiers import IdentifierError, division_prefix

    qs = Finding.objects.visible_to(user).select_related("organization", "owner_organization", "assigned_to")
    if status:
        qs = qs.filter(status=status)
    if rule:
        qs = qs.filter(rule=rule)
    if severity:
        qs = qs.filter(severity=severity)
    if division:
        try:
            prefix = division_prefix(division)
        except IdentifierError:
            prefix = division
        qs = qs.filter(division_code__startswith=prefix)
    if organization_id:
        qs = qs.filter(Q(organization_id=organization_id) | Q(owner_organization_id=organization_id))
    return qs


def finding_visible(user: Any, finding_id: Any) -> Finding | None:
    found: Finding | None = finding_list_visible_to(user).filter(pk=finding_id).first()
    return found


def finding_events(finding: Finding) -> Any:
    """The finding's audit trail, oldest first: raised, each step, reminders, overdue."""
    from greenisle.audit.models import Event

    return Event.objects.filter(object_type="supervision.finding", object_id=str(finding.pk)).order_by("id")


# A repeat chain is as long as a unit keeps breaking the same rule; pages show the latest ones.
REPEAT_CHAIN_LIMIT = 50


def finding_repeat_chain(finding: Finding, user: Any) -> list[Finding]:
    """The earlier findings this one repeats, most recent first (each links to the one before it), and
    only those the person may see."""
    visible = Finding.objects.visible_to(user)
    chain: list[Finding] = []
    current_id = finding.repeat_of_id
    seen = {finding.pk}
    while current_id is not None and current_id not in seen and len(chain) < REPEAT_CHAIN_LIMIT:
        earlier = visible.filter(pk=current_id).first()
        if earlier is None:
            break
        chain.append(earlier)
        seen.add(earlier.pk)
        current_id = earlier.repeat_of_id
    return chain


# Where the object a finding is about can be looked at: the API path and the page, per object type.
_EVIDENCE_PATHS: dict[str, tuple[str, str]] = {
    "manifests.manifest": ("/api/v1/manifests/{id}", "/manifests/{id}/"),
    "dispatch.pickuprequest": ("/api/v1/pickup-requests/{id}", "/requests/{id}/"),
    "devices.bin": ("/api/v1/bins/{id}", "/bins/{id}/"),
    "plans.managementplan": ("/api/v1/management-plans/{id}", "/management-plans/{id}/"),
}


def evidence_links(finding: Finding) -> list[dict[str, str]]:
    """Links to what the finding rests on: its object, the container it names, and the object's audit
    events."""
    links: list[dict[str, str]] = []
    paths = _EVIDENCE_PATHS.get(finding.object_type)
    if paths is not None:
        api, page = paths
        links.append({"rel": "object", "href": api.format(id=finding.object_id)})
        links.append({"rel": "page", "href": page.format(id=finding.object_id)})
    container = str((finding.evidence or {}).get("container_code") or "")
    if container:
        links.append({"rel": "container", "href": f"/api/v1/containers/{quote(container, safe='')}"})
        links.append({"rel": "ledger", "href": f"/api/v1/ledger?{urlencode({'container_code': container})}"})
    links.append(
        {"rel": "audit", "href": f"/api/v1/audit-events?{urlencode({'object_id': finding.object_id})}"}
    )
    return links
