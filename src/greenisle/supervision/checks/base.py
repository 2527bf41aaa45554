"""What the check modules share: which objects a rule already raised a finding on, local days and
months, and the truck-alert check that two rules run with different kinds.

A check raises one finding per object and breach. ``finding_raise`` keeps one *active* finding per
rule and object; the checks also skip an object that had a finding on the rule since the breach began
(``already_raised``), so a finding the bureau dismissed or closed is not raised again by the next
sweep while the same breach (the same alert, manifest or fill cycle) is still there.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from greenisle.supervision.models import Finding
from greenisle.supervision.rules import RuleInfo
from greenisle.supervision.services import finding_raise
from greenisle.tracking.models import TruckAlert

CHUNK = 500
MESSAGE_LIMIT = 500


def object_type(model: type[models.Model]) -> str:
    """How a finding names the type of its object (as ``finding_raise`` does)."""
    return f"{model._meta.app_label}.{model._meta.model_name}"


def already_raised(
    rule: str, model: type[models.Model], ids: Iterable[Any], *, since: dt.datetime | None = None
) -> set[str]:
    """Of ``ids`` (primary keys of ``model``), those with a finding on ``rule`` in any state (raised
    since ``since``, when given). One query per 500 ids."""
    wanted = [str(pk) for pk in ids]
    found: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        findings = Finding.objects.filter(
            rule=rule, object_type=object_type(model), object_id__in=wanted[start : start + CHUNK]
        )
        if since is not None:
            findings = findings.filter(created_at__gte=since)
        found.update(findings.values_list("object_id", flat=True))
    return found


def local_day(now: dt.datetime) -> dt.date:
    return timezone.localtime(now).date()


def local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def hours(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def stamp(at: dt.datetime) -> str:
    """A time as people of the division read it (local, to the minute)."""
    return f"{timezone.localtime(at):%Y-%m-%d %H:%M}"


def iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def raise_on(
    rule: RuleInfo,
    *,
    organization: Any,
    division_code: str,
    obj: Any,
    message: str,
    evidence: dict[str, Any],
    now: dt.datetime,
) -> bool:
    """Raise ``rule`` on ``obj`` (deadline counted from the local day of ``now``); True if raised."""
    raised = finding_raise(
        rule=rule.code,
        organization=organization,
        division_code=division_code,
        obj=obj,
        message=message[:MESSAGE_LIMIT],
        evidence={"rule": rule.code, **evidence},
        today=local_day(now),
    )
    return raised is not None


def truck_alert_check(
    rule: RuleInfo, *, kind: str, now: dt.datetime, params: Mapping[str, Any], what: tuple[str, str]
) -> dict[str, int]:
    """One finding per truck alert of ``kind`` that started within ``lookback_days`` and lasted at
    least ``minutes`` (still open: until ``now``). The collector running the truck is concerned."""
    least = dt.timedelta(minutes=params["minutes"])
    recent = TruckAlert.objects.filter(
        kind=kind, started_at__gte=now - dt.timedelta(days=params["lookback_days"])
    )
    long_enough = recent.filter(
        Q(cleared_at__isnull=True, started_at__lte=now - least)
        | Q(cleared_at__isnull=False, cleared_at__gte=F("started_at") + least)
    ).select_related("vehicle__collector", "trip")
    alerts = list(long_enough.order_by("started_at", "pk"))
    done = already_raised(rule.code, TruckAlert, (a.pk for a in alerts))
    zh, en = what
    raised = 0
    for alert in alerts:
        if str(alert.pk) in done:
            continue
        vehicle = alert.vehicle
        collector = vehicle.collector
        ended = alert.cleared_at or now
        minutes = int((ended - alert.started_at).total_seconds() // 60)
        started = stamp(alert.started_at)
        raised += raise_on(
            rule,
            organization=collector,
            division_code=collector.division_id,
            obj=alert,
            message=(
                f"车辆 {vehicle.plate} {started} 起{zh} {minutes} 分钟 / truck {vehicle.plate} "
                f"{en} for {minutes} min from {started}"
            ),
            evidence={
                "truck_alert_id": alert.pk,
                "kind": alert.kind,
                "vehicle_id": str(vehicle.pk),
                "plate": vehicle.plate,
                "trip_id": str(alert.trip_id) if alert.trip_id else None,
                "started_at": iso(alert.started_at),
                "cleared_at": iso(alert.cleared_at),
                "minutes": minutes,
                "latitude": str(alert.latitude),
                "longitude": str(alert.longitude),
                "detail": alert.detail,
                "threshold_minutes": params["minutes"],
            },
            now=now,
        )
    return {"checked": recent.count(), "breaches": len(alerts), "raised": raised}
