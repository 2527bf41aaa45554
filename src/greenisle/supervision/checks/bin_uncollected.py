"""A smart bin over its fill threshold that nobody collected within ``hours``.

Crossing the threshold opens a pickup request (``origin=threshold``) at the reading's time, so the
request's ``opened_at`` is when the bin went over. The request leaves "open"/"assigned" once the waste
is on a truck (collected, at the signature of its manifest) and records ``emptied_at`` when a reading
shows the bin emptied: either means collected, no finding. One finding per fill cycle (request).

A bin has one waiting request at a time, so one the producer asked for (or a forecast opened) before
the bin filled stands in for the threshold's own: such a bin is over its threshold since its first
reading at or over it after the request opened, and is judged from then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from django.db.models import Case, DateTimeField, F, OuterRef, Subquery, When

from greenisle.dispatch.choices import RequestOrigin, RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.supervision.checks.base import already_raised, hours, iso, raise_on, stamp
from greenisle.supervision.rules import OWNER_ORGANIZATION, SOLID_WASTE_LAW, RuleInfo
from greenisle.telemetry.models import Reading

RULE: Final = RuleInfo(
    code="bin.over_threshold_uncollected",
    title_zh="智能收集箱满溢未及时清运",
    title_en="Bin over its threshold not collected in time",
    regulation=(
        f"{SOLID_WASTE_LAW}第七十九条（按照国家有关规定和环境保护标准要求贮存危险废物）；"
        "地方小微企业危险废物集中收集试点要求（收集单位及时清运）"
    ),
    severity="C",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=2,
)

DEFAULTS: Final[dict[str, Any]] = {"hours": 48}

WAITING = (RequestStatus.OPEN, RequestStatus.ASSIGNED)


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    limit = dt.timedelta(hours=params["hours"])
    first_over = (
        Reading.objects.filter(
            device=OuterRef("bin_id"),
            observed_at__gte=OuterRef("opened_at"),
            fill_pct__gte=OuterRef("bin__threshold_pct"),
        )
        .order_by("observed_at")
        .values("observed_at")[:1]
    )
    waiting = PickupRequest.objects.filter(
        status__in=WAITING, emptied_at__isnull=True, bin__isnull=False
    ).annotate(
        over_since=Case(
            When(origin=RequestOrigin.THRESHOLD, then=F("opened_at")),
            default=Subquery(first_over),
            output_field=DateTimeField(),
        )
    )
    over = waiting.filter(over_since__isnull=False)
    late = list(
        over.filter(over_since__lte=now - limit)
        .select_related("bin__state", "site", "collector")
        .order_by("over_since", "pk")
    )
    done = already_raised(RULE.code, PickupRequest, (r.pk for r in late))
    raised = 0
    for request in late:
        if str(request.pk) in done:
            continue
        device = request.bin
        assert device is not None
        state = getattr(device, "state", None)
        since = request.over_since  # type: ignore[attr-defined]
        waited = hours(now - since)
        raised += raise_on(
            RULE,
            organization=request.collector,
            division_code=request.site.division_id,
            obj=request,
            message=(
                f"收集箱 {device.serial}（{request.site.name}）自 {stamp(since)} 达到满溢阈值 "
                f"{device.threshold_pct}%，{waited} 小时未清运 / bin {device.serial} at {request.site.name} over its "
                f"{device.threshold_pct}% threshold since then, not collected for {waited} h"
            ),
            evidence={
                "pickup_request_id": str(request.pk),
                "bin_id": str(device.pk),
                "bin_serial": device.serial,
                "site_id": str(request.site_id),
                "producer_id": str(request.producer_id),
                "request_status": request.status,
                "request_origin": request.origin,
                "request_opened_at": iso(request.opened_at),
                "over_threshold_since": iso(since),
                "fill_pct_at_open": str(request.fill_pct_at_open),
                "threshold_pct": str(device.threshold_pct),
                "fill_pct_now": str(state.fill_pct) if state is not None else None,
                "hours_waiting": waited,
                "limit_hours": params["hours"],
            },
            now=now,
        )
    return {"checked": over.count(), "breaches": len(late), "raised": raised}
