"""A smart bin over its fill threshold that nobody collected within ``hours``.

Crossing the threshold opens a pickup request (``origin=threshold``) at the reading's time, so the
request's ``opened_at`` is when the bin went over. The request leaves "open"/"assigned" once the waste
is on a truck (collected, at the signature of its manifest) and records ``emptied_at`` when a reading
shows the bin emptied: either means collected, no finding. One finding per fill cycle (request).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from greenisle.dispatch.choices import RequestOrigin, RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.supervision.checks.base import already_raised, hours, iso, raise_on, stamp
from greenisle.supervision.rules import OWNER_ORGANIZATION, SOLID_WASTE_LAW, RuleInfo

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
    waiting = PickupRequest.objects.filter(
        origin=RequestOrigin.THRESHOLD, status__in=WAITING, emptied_at__isnull=True, bin__isnull=False
    )
    late = list(
        waiting.filter(opened_at__lte=now - limit)
        .select_related("bin__state", "site", "collector")
        .order_by("opened_at", "pk")
    )
    done = already_raised(RULE.code, PickupRequest, (r.pk for r in late))
    raised = 0
    for request in late:
        if str(request.pk) in done:
            continue
        device = request.bin
        assert device is not None
        state = getattr(device, "state", None)
        waited = hours(now - request.opened_at)
        raised += raise_on(
            RULE,
            organization=request.collector,
            division_code=request.site.division_id,
            obj=request,
            message=(
                f"收集箱 {device.serial}（{request.site.name}）自 {stamp(request.opened_at)} 达到满溢阈值 "
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
                "over_threshold_since": iso(request.opened_at),
                "fill_pct_at_open": str(request.fill_pct_at_open),
                "threshold_pct": str(device.threshold_pct),
                "fill_pct_now": str(state.fill_pct) if state is not None else None,
                "hours_waiting": waited,
                "limit_hours": params["hours"],
            },
            now=now,
        )
    return {"checked": waiting.count(), "breaches": len(late), "raised": raised}
