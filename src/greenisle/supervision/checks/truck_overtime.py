"""A truck not back at its depot ``minutes`` after its shift ended.

``tracking.services.truck_alerts_sweep`` opens an ``overtime`` alert when, after the shift end, the
truck is still away from its depot; this rule turns each such alert that lasted ``minutes`` (within the
last ``lookback_days``) into one finding on the collector running the truck. A loaded truck out after
hours is outside the plan the collector approved and the bureau can see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from greenisle.supervision.checks.base import truck_alert_check
from greenisle.supervision.rules import OWNER_ORGANIZATION, SOLID_WASTE_LAW, VEHICLE_MONITORING, RuleInfo
from greenisle.tracking.models import TruckAlertKind

RULE: Final = RuleInfo(
    code="truck.overtime",
    title_zh="危废运输车辆超时未归",
    title_en="Truck not back after its shift",
    regulation=(
        f"{SOLID_WASTE_LAW}第八十三条（运输危险废物应当采取防止污染环境的措施，遵守危险货物运输管理规定）；"
        f"{VEHICLE_MONITORING}（运输过程实时监控）"
    ),
    severity="C",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=5,
)

DEFAULTS: Final[dict[str, Any]] = {"minutes": 30, "lookback_days": 7}


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    return truck_alert_check(
        RULE,
        kind=TruckAlertKind.OVERTIME,
        now=now,
        params=params,
        what=("收车超时未归", "not back after its shift"),
    )
