"""Device alerts: offline, door open too long, temperature over the limit.

An alert opens once (a partial unique index allows one open alert per device and kind) and clears
when the condition ends; both steps are audited in the same transaction. Temperature is judged at
ingest; offline and door-open are judged by ``telemetry_maintain`` because they are about time passing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from greenisle.audit.services import event_record
from greenisle.devices.models import Bin
from greenisle.telemetry.models import Alert, AlertKind, BinState


def _open(device: Bin, kind: str, *, at: dt.datetime, value: str, detail: str) -> Alert | None:
    try:
        with transaction.atomic():
            alert = Alert.objects.create(device=device, kind=kind, opened_at=at, value=value, detail=detail)
    except IntegrityError:
        return None  # already open
    event_record(
        action="telemetry.alert.opened",
        obj=alert,
        subject_organization=device.site.organization,
        division_code=device.site.division_id,
        payload={"bin": device.serial, "kind": kind, "value": value, "detail": detail},
    )
    return alert


def _clear(alert: Alert, *, at: dt.datetime, detail: str) -> None:
    alert.cleared_at = at
    alert.save(update_fields=["cleared_at"])
    device = alert.device
    event_record(
        action="telemetry.alert.cleared",
        obj=alert,
        subject_organization=device.site.organization,
        division_code=device.site.division_id,
        payload={"bin": device.serial, "kind": alert.kind, "detail": detail},
    )


def temperature_apply(
    temperatures: Iterable[tuple[uuid.UUID, Decimal]], *, observed: dict[uuid.UUID, dt.datetime]
) -> None:
    """Called by ingest inside its transaction with each moved bin's newest temperature."""
    limit = Decimal(str(settings.GREENISLE["TEMPERATURE_LIMIT_C"]))
    clear_below = limit - Decimal(str(settings.GREENISLE["TEMPERATURE_CLEAR_MARGIN_C"]))
    hot = {device_id: t for device_id, t in temperatures if t > limit}
    cool = {device_id: t for device_id, t in temperatures if t < clear_below}
    if hot:
        already = set(
            Alert.objects.filter(
                device_id__in=hot, kind=AlertKind.TEMPERATURE, cleared_at__isnull=True
            ).values_list("device_id", flat=True)
        )
        for device in Bin.objects.select_related("site__organization").filter(pk__in=set(hot) - already):
            _open(
                device,
                AlertKind.TEMPERATURE,
                at=observed[device.pk],
                value=f"{hot[device.pk]:.1f} °C",
                detail=f"超过 {limit} °C / over {limit} °C",
            )
    # Most batches carry normal temperatures: look for alerts to clear only if any is open at all.
    if cool and Alert.objects.filter(kind=AlertKind.TEMPERATURE, cleared_at__isnull=True).exists():
        for alert in Alert.objects.select_related("device__site__organization").filter(
            device_id__in=cool, kind=AlertKind.TEMPERATURE, cleared_at__isnull=True
        ):
            _clear(alert, at=observed[alert.device_id], detail=f"{cool[alert.device_id]:.1f} °C")


def offline_scan(now: dt.datetime | None = None) -> tuple[int, int]:
    """Mark bins offline after N missed reporting intervals (and back online); returns (opened, cleared).

    A bin that never reported is not offline: it may not be installed yet.
    """
    now = now or timezone.now()
    missed = settings.GREENISLE["OFFLINE_MISSED_INTERVALS"]
    opened = cleared = 0
    states = BinState.objects.select_related("device__site__organization").filter(
        device__enabled=True, received_at__isnull=False
    )
    for state in states.filter(offline_since__isnull=True).iterator():
        deadline = state.received_at + dt.timedelta(seconds=missed * state.device.reporting_interval_s)
        if deadline < now:
            with transaction.atomic():
                updated = BinState.objects.filter(
                    pk=state.pk, offline_since__isnull=True, received_at=state.received_at
                ).update(offline_since=deadline)
                if updated and _open(
                    state.device,
                    AlertKind.OFFLINE,
                    at=deadline,
                    value=f"{missed}×{state.device.reporting_interval_s} s",
                    detail=f"最后收到 {state.received_at:%Y-%m-%d %H:%M} UTC / last heard then",
                ):
                    opened += 1
    # Ingest clears offline_since with the next reading; the alert clears here.
    back = Alert.objects.select_related("device__site__organization").filter(
        kind=AlertKind.OFFLINE, cleared_at__isnull=True, device__state__offline_since__isnull=True
    )
    for alert in back:
        with transaction.atomic():
            _clear(alert, at=alert.device.state.received_at or now, detail="恢复上报 / reporting again")
            cleared += 1
    return opened, cleared


def door_scan(now: dt.datetime | None = None) -> tuple[int, int]:
    """Open an alert for doors open longer than the limit; clear it once the door is closed."""
    now = now or timezone.now()
    limit = dt.timedelta(seconds=settings.GREENISLE["DOOR_OPEN_LIMIT_S"])
    opened = cleared = 0
    for state in BinState.objects.select_related("device__site__organization").filter(
        door_open=True, door_opened_at__lt=now - limit
    ):
        with transaction.atomic():
            if _open(
                state.device,
                AlertKind.DOOR_OPEN,
                at=state.door_opened_at + limit,
                value=f"{int((now - state.door_opened_at).total_seconds() // 60)} min",
                detail=f"开门超过 {int(limit.total_seconds() // 60)} 分钟 / door open over the limit",
            ):
                opened += 1
    closed = Alert.objects.select_related("device__site__organization", "device__state").filter(
        Q(device__state__door_open=False) | Q(device__state__door_open__isnull=True),
        kind=AlertKind.DOOR_OPEN,
        cleared_at__isnull=True,
    )
    for alert in closed:
        with transaction.atomic():
            _clear(alert, at=alert.device.state.observed_at, detail="门已关闭 / door closed")
            cleared += 1
    # A door re-opened after closing starts a new alert: an open alert whose door_opened_at is later
    # than its own opening belongs to an earlier opening.
    stale = Alert.objects.select_related("device__site__organization").filter(
        kind=AlertKind.DOOR_OPEN,
        cleared_at__isnull=True,
        device__state__door_opened_at__gt=F("opened_at"),
    )
    for alert in stale:
        with transaction.atomic():
            _clear(alert, at=alert.device.state.door_opened_at, detail="门曾关闭 / door was closed meanwhile")
            cleared += 1
    return opened, cleared
