"""A truck off its planned route for at least ``minutes``.

``tracking.services.truck_alerts_sweep`` opens an ``off_route`` alert when the truck is farther than
the configured distance from the day's planned path for longer than the configured time; this rule
turns each such alert that lasted ``minutes`` (within the last ``lookback_days``) into one finding on
the collector running the truck. A detour nobody planned is where waste can leave the chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from greenisle.supervision.checks.base import truck_alert_check
from greenisle.supervision.rules import OWNER_ORGANIZATION, SOLID_WASTE_LAW, VEHICLE_MONITORING, RuleInfo
from greenisle.tracking.models import TruckAlertKind

RULE: Final = RuleInfo(
    code="truck.off_route",
    title_zh="危废运输车辆偏离规划路线",
    title_en="Truck off its planned route",
    regulation=(
        f"{SOLID_WASTE_LAW}第八十三条（运输危险废物应当采取防止污染环境的措施，遵守危险货物运输管理规定）；"
        f"{VEHICLE_MONITORING}（按核定线路运行、实时监控）"
    ),
    severity="B",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=5,
)

DEFAULTS: Final[dict[str, Any]] = {"minutes": 10, "lookback_days": 7}


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    return truck_alert_check(
        RULE,
        kind=TruckAlertKind.OFF_ROUTE,
        now=now,
        params=params,
        what=("偏离规划路线", "off its planned route"),
    )
