"""A collector or facility whose business licence has expired but which still receives or holds waste.

A unit with a 收集, 综合, 利用 or 处置经营许可证 on record, none of them in force today (the last one
ended more than ``grace_days`` ago), is raised on if a manifest was delivered to it or received by it
after that licence ended, or if its ledger still shows containers in stock. The object is the licence
that ended last; a renewal (a new licence in force) ends the breach.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from django.db.models import Exists, OuterRef, Q

from greenisle.ledger.storage import units_holding_stock
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.manifests.validation import RECEIVING_LICENCES
from greenisle.organizations.models import Licence, Organization
from greenisle.supervision.checks.base import already_raised, local_day, local_midnight, raise_on
from greenisle.supervision.rules import LICENCE_MEASURES, OWNER_ORGANIZATION, SOLID_WASTE_LAW, RuleInfo

RULE: Final = RuleInfo(
    code="licence.expired_operating",
    title_zh="经营许可证过期仍接收或贮存危险废物",
    title_en="Licence expired while the holder still receives or holds waste",
    regulation=(
        f"{SOLID_WASTE_LAW}第八十条第二款（禁止无许可证从事危险废物收集、贮存、利用、处置经营活动）；"
        f"{LICENCE_MEASURES}第十三条（有效期届满继续经营的应当换证）、第十五条第一款"
    ),
    severity="A",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=10,
)

DEFAULTS: Final[dict[str, Any]] = {"grace_days": 0}

MANIFEST_SHOWN = 5


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    today = local_day(now)
    ended_before = today - dt.timedelta(days=params["grace_days"])
    receiving = Licence.objects.filter(organization=OuterRef("pk"), licence_type__in=RECEIVING_LICENCES)
    holders = Organization.objects.filter(Exists(receiving))
    lapsed = list(
        # In force today, or ended within the grace days: not (yet) a breach. A licence starting later
        # does not cover the days before it.
        holders.exclude(Exists(receiving.filter(valid_from__lte=today, valid_to__gte=ended_before))).order_by(
            "name", "pk"
        )
    )
    if not lapsed:
        return {"checked": holders.count(), "breaches": 0, "raised": 0}
    ids = [org.pk for org in lapsed]
    last: dict[Any, Licence] = {}
    for licence in Licence.objects.filter(
        organization_id__in=ids, licence_type__in=RECEIVING_LICENCES, valid_from__lte=today
    ).order_by("valid_to", "pk"):
        last[licence.organization_id] = licence  # the one that ended last wins
    # After the day the licence ended: from the next local midnight on.
    if not last:
        return {"checked": holders.count(), "breaches": 0, "raised": 0}
    cut = {
        org_id: local_midnight(licence.valid_to + dt.timedelta(days=1)) for org_id, licence in last.items()
    }
    incoming: dict[Any, list[Manifest]] = {}
    earliest = min(cut.values())
    for manifest in (
        Manifest.objects.filter(receiver_id__in=list(cut))
        .exclude(status=ManifestStatus.CANCELLED)
        .filter(Q(delivered_at__gte=earliest) | Q(received_at__gte=earliest))
        .order_by("-delivered_at", "-pk")
    ):
        moment = manifest.received_at or manifest.delivered_at
        if moment is not None and moment >= cut[manifest.receiver_id]:
            incoming.setdefault(manifest.receiver_id, []).append(manifest)
    holding = set(units_holding_stock().filter(pk__in=ids).values_list("pk", flat=True))
    # Only licences that started in the future: the unit never held one yet, not an expiry.
    breaching = [org for org in lapsed if org.pk in last and (org.pk in incoming or org.pk in holding)]
    done = already_raised(RULE.code, Licence, (last[org.pk].pk for org in breaching))
    raised = 0
    for org in breaching:
        licence = last[org.pk]
        if str(licence.pk) in done:
            continue
        received = incoming.get(org.pk, [])
        raised += raise_on(
            RULE,
            organization=org,
            division_code=org.division_id,
            obj=licence,
            message=(
                f"{org.name} 的经营许可证 {licence.number} 已于 {licence.valid_to} 到期，此后接收联单 {len(received)} 份"
                f"{'，仍有危险废物贮存' if org.pk in holding else ''} / licence {licence.number} of {org.name} "
                f"expired on {licence.valid_to}; {len(received)} manifests received since"
                f"{', waste still in stock' if org.pk in holding else ''}"
            ),
            evidence={
                "licence_id": licence.pk,
                "licence_number": licence.number,
                "licence_type": licence.licence_type,
                "valid_to": licence.valid_to.isoformat(),
                "manifests_since": len(received),
                "manifests": [
                    {"id": str(m.pk), "number": m.number, "status": m.status}
                    for m in received[:MANIFEST_SHOWN]
                ],
                "holds_stock": org.pk in holding,
                "grace_days": params["grace_days"],
            },
            now=now,
        )
    return {"checked": holders.count(), "breaches": len(breaching), "raised": raised}
