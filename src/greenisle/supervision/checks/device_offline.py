"""A smart bin offline for longer than ``hours``.

``telemetry_maintain`` opens an offline alert after the bin missed ``OFFLINE_MISSED_INTERVALS``
reporting intervals (``opened_at`` is when it became overdue) and clears it with the next reading. A
bin that stays silent that long can neither show its fill nor ask for a pickup: the platform's record
of the waste it holds stops. One finding per offline episode (alert); a disabled bin is not checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from greenisle.supervision.checks.base import already_raised, hours, iso, raise_on, stamp
from greenisle.supervision.rules import OWNER_ORGANIZATION, SOLID_WASTE_LAW, RuleInfo
from greenisle.telemetry.models import Alert, AlertKind

RULE: Final = RuleInfo(
    code="device.offline",
    title_zh="智能收集箱长时间离线",
    title_en="Smart bin offline too long",
    regulation=(
        f"{SOLID_WASTE_LAW}第七十八条第一款（如实记录危险废物信息）；"
        "地方小微企业危险废物集中收集试点要求（智能收集设施在线联网）"
    ),
    severity="C",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=3,
)

DEFAULTS: Final[dict[str, Any]] = {"hours": 24}


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    limit = dt.timedelta(hours=params["hours"])
    offline = Alert.objects.filter(kind=AlertKind.OFFLINE, cleared_at__isnull=True, device__enabled=True)
    late = list(
        offline.filter(opened_at__lte=now - limit)
        .select_related("device__site", "device__collector", "device__state")
        .order_by("opened_at", "pk")
    )
    done = already_raised(RULE.code, Alert, (a.pk for a in late))
    raised = 0
    for alert in late:
        if str(alert.pk) in done:
            continue
        device = alert.device
        state = getattr(device, "state", None)
        last = state.received_at if state is not None else None
        off = hours(now - alert.opened_at)
        raised += raise_on(
            RULE,
            organization=device.collector,
            division_code=device.site.division_id,
            obj=alert,
            message=(
                f"收集箱 {device.serial}（{device.site.name}）自 {stamp(alert.opened_at)} 离线 {off} 小时 / bin "
                f"{device.serial} at {device.site.name} offline for {off} h"
            ),
            evidence={
                "alert_id": alert.pk,
                "bin_id": str(device.pk),
                "bin_serial": device.serial,
                "site_id": str(device.site_id),
                "offline_since": iso(alert.opened_at),
                "last_received_at": iso(last),
                "reporting_interval_s": device.reporting_interval_s,
                "hours_offline": off,
                "limit_hours": params["hours"],
            },
            now=now,
        )
    return {"checked": offline.count(), "breaches": len(late), "raised": raised}
