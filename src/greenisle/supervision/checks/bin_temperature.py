"""A smart bin hotter than ``TEMPERATURE_LIMIT_C`` for longer than ``minutes``.

Ingest opens a temperature alert at the first reading over the limit and clears it only once the bin
is ``TEMPERATURE_CLEAR_MARGIN_C`` below it, so an open alert older than ``minutes`` is heat that lasted.
Heat in a store of waste oil, solvents or rags is a fire risk: GB 18597-2023 requires storage to be
run so that it does not cause pollution or accidents. One finding per episode (alert).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from django.conf import settings

from greenisle.supervision.checks.base import already_raised, iso, raise_on, stamp
from greenisle.supervision.rules import OWNER_ORGANIZATION, SOLID_WASTE_LAW, STORAGE_STANDARD, RuleInfo
from greenisle.telemetry.models import Alert, AlertKind

RULE: Final = RuleInfo(
    code="bin.temperature_high",
    title_zh="收集箱温度持续超限",
    title_en="Bin temperature over the limit",
    regulation=(
        f"{STORAGE_STANDARD}第8章（贮存过程污染控制要求）；"
        f"{SOLID_WASTE_LAW}第八十一条第二款（贮存危险废物应当采取符合国家环境保护标准的防护措施）"
    ),
    severity="B",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=1,
)

DEFAULTS: Final[dict[str, Any]] = {"minutes": 30}


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    limit = dt.timedelta(minutes=params["minutes"])
    hot = Alert.objects.filter(kind=AlertKind.TEMPERATURE, cleared_at__isnull=True)
    lasting = list(
        hot.filter(opened_at__lte=now - limit)
        .select_related("device__site", "device__collector", "device__state")
        .order_by("opened_at", "pk")
    )
    done = already_raised(RULE.code, Alert, (a.pk for a in lasting))
    limit_c = settings.GREENISLE["TEMPERATURE_LIMIT_C"]
    raised = 0
    for alert in lasting:
        if str(alert.pk) in done:
            continue
        device = alert.device
        state = getattr(device, "state", None)
        minutes = int((now - alert.opened_at).total_seconds() // 60)
        raised += raise_on(
            RULE,
            organization=device.collector,
            division_code=device.site.division_id,
            obj=alert,
            message=(
                f"收集箱 {device.serial}（{device.site.name}）自 {stamp(alert.opened_at)} 温度超过 {limit_c} °C"
                f"（{alert.value}）已 {minutes} 分钟 / bin {device.serial} at {device.site.name} over {limit_c} °C "
                f"({alert.value}) for {minutes} min"
            ),
            evidence={
                "alert_id": alert.pk,
                "bin_id": str(device.pk),
                "bin_serial": device.serial,
                "site_id": str(device.site_id),
                "hot_since": iso(alert.opened_at),
                "value": alert.value,
                "temperature_now_c": str(state.temperature_c) if state is not None else None,
                "limit_c": limit_c,
                "minutes": minutes,
                "limit_minutes": params["minutes"],
            },
            now=now,
        )
    return {"checked": hot.count(), "breaches": len(lasting), "raised": raised}
