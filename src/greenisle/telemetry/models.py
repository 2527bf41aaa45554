"""Bin readings, their hourly rollups, the last known state per bin, device counters and alerts.

``Reading`` is keyed by (device, observed_at): the same reading twice is one row, whichever transport
brought it. On PostgreSQL the table is partitioned by month of ``observed_at`` (see
``telemetry.partitions``); raw readings are kept ``READINGS_RAW_RETENTION_DAYS`` and hourly rollups at
least five years (HJ 1259-2022 §5.3 keeps ledgers five years).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.devices.models import Transport
from greenisle.organizations.visibility import VisibleQuerySet


class Quality(models.TextChoices):
    """Data flags of HJ 212-2017 Table 8, used for every transport."""

    NORMAL = "N", _("normal")
    STOPPED = "F", _("stopped")
    MAINTENANCE = "M", _("maintenance")
    MANUAL = "S", _("manual setting")
    FAULT = "D", _("fault")
    CALIBRATING = "C", _("calibrating")
    OVER_RANGE = "T", _("over measuring range")
    COMMUNICATION = "B", _("communication abnormal")


class DeviceScopedQuerySet(VisibleQuerySet):
    producer_path = "device__site__organization_id"
    collector_path = "device__collector_id"
    division_path = "device__site__division__code"


class Reading(models.Model):
    """One report from a bin. Stored once per (device, observed_at)."""

    pk = models.CompositePrimaryKey("device", "observed_at")
    device = models.ForeignKey(
        "devices.Bin",
        on_delete=models.DO_NOTHING,
        related_name="readings",
        db_constraint=False,  # checked by ingest; no per-row lookup on the hottest insert
        db_index=False,  # the primary key (device, observed_at) starts with it
    )
    observed_at = models.DateTimeField(_("observed at"))
    device_time_raw = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(_("received at"))
    transport = models.CharField(max_length=10, choices=Transport.choices)
    fill_pct = models.DecimalField(_("fill (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    net_weight_kg = models.DecimalField(
        _("net weight (kg)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    temperature_c = models.DecimalField(
        _("temperature (°C)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    door_open = models.BooleanField(_("door open"), null=True, blank=True)
    battery_pct = models.DecimalField(_("battery (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    quality = models.CharField(_("quality"), max_length=1, default=Quality.NORMAL)
    sequence = models.BigIntegerField(null=True, blank=True)

    objects = DeviceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["device", "-observed_at"]
        verbose_name = _("reading")
        verbose_name_plural = _("readings")

    def __str__(self) -> str:
        return f"{self.device_id} {self.observed_at:%Y-%m-%d %H:%M} {self.fill_pct}%"


class ReadingHourly(models.Model):
    """Hourly rollup of a bin's readings, kept at least five years after the raw rows are dropped."""

    pk = models.CompositePrimaryKey("device", "hour")
    device = models.ForeignKey(
        "devices.Bin", on_delete=models.DO_NOTHING, related_name="hourly", db_constraint=False, db_index=False
    )
    hour = models.DateTimeField(_("hour (UTC)"))
    readings = models.PositiveIntegerField()
    fill_min = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    fill_max = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    fill_avg = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    fill_last = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    weight_last_kg = models.DecimalField(max_digits=9, decimal_places=2, null=True)
    temperature_max_c = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    door_open_readings = models.PositiveIntegerField(default=0)
    faulty_readings = models.PositiveIntegerField(default=0)

    objects = DeviceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["device", "-hour"]
        indexes = [models.Index(fields=["hour"], name="telemetry_hourly_hour")]
        verbose_name = _("hourly reading")
        verbose_name_plural = _("hourly readings")

    def __str__(self) -> str:
        return f"{self.device_id} {self.hour:%Y-%m-%d %H}h"


class RollupWatermark(models.Model):
    """How far the rollup has read ``Reading.received_at``: hours touched after it are recomputed."""

    name = models.CharField(max_length=40, primary_key=True)
    received_before = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} < {self.received_before}"


class BinState(models.Model):
    """The newest reading per bin, its counters, and what is derived from its history: the small
    table every dashboard reads. Written by ingest (newest reading wins; counters add up) and by
    maintenance (rate, forecast, offline). A row without ``observed_at`` is a device that has only
    had readings refused so far."""

    device = models.OneToOneField(
        "devices.Bin", on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    observed_at = models.DateTimeField(null=True)
    received_at = models.DateTimeField(null=True)
    transport = models.CharField(max_length=10, choices=Transport.choices, blank=True)
    fill_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True)
    net_weight_kg = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    temperature_c = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    door_open = models.BooleanField(null=True, blank=True)
    door_opened_at = models.DateTimeField(null=True, blank=True)
    battery_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    quality = models.CharField(max_length=1, default=Quality.NORMAL)
    fill_rate_pct_per_day = models.FloatField(_("fill rate (%/day)"), null=True, blank=True)
    predicted_full_at = models.DateTimeField(_("predicted to reach threshold"), null=True, blank=True)
    forecast_at = models.DateTimeField(null=True, blank=True)
    offline_since = models.DateTimeField(_("offline since"), null=True, blank=True)
    # What the device's transports delivered, shown to the collector.
    accepted = models.PositiveBigIntegerField(_("accepted"), default=0)
    duplicate = models.PositiveBigIntegerField(_("duplicate"), default=0)
    rejected = models.PositiveBigIntegerField(_("rejected"), default=0)
    last_rejected_at = models.DateTimeField(null=True, blank=True)
    last_rejected_reason = models.CharField(max_length=200, blank=True)

    objects = DeviceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-fill_pct"]
        verbose_name = _("bin state")
        verbose_name_plural = _("bin states")

    def __str__(self) -> str:
        return f"{self.device_id}: {self.fill_pct}%"


class RefusedDevice(models.Model):
    """Unknown or disabled devices that tried to report, counted per transport and identifier."""

    transport = models.CharField(max_length=10, choices=Transport.choices)
    identifier = models.CharField(max_length=100)
    refused = models.PositiveBigIntegerField(default=0)
    first_refused_at = models.DateTimeField()
    last_refused_at = models.DateTimeField()
    last_reason = models.CharField(max_length=200)
    last_peer = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-last_refused_at"]
        constraints = [
            models.UniqueConstraint(fields=["transport", "identifier"], name="uniq_refused_device"),
        ]
        verbose_name = _("refused device")
        verbose_name_plural = _("refused devices")

    def __str__(self) -> str:
        return f"{self.transport}:{self.identifier} ×{self.refused}"


class AlertKind(models.TextChoices):
    OFFLINE = "offline", _("offline")
    DOOR_OPEN = "door_open", _("door open too long")
    TEMPERATURE = "temperature", _("temperature over limit")


class Alert(models.Model):
    """A device condition that needs a person: open while it lasts, cleared when it ends."""

    device = models.ForeignKey("devices.Bin", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(_("kind"), max_length=20, choices=AlertKind.choices)
    opened_at = models.DateTimeField(_("opened at"))
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    value = models.CharField(_("value"), max_length=60, blank=True)
    detail = models.CharField(_("detail"), max_length=200, blank=True)

    objects = DeviceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # At most one open alert of a kind per device.
            models.UniqueConstraint(
                fields=["device", "kind"],
                condition=models.Q(cleared_at__isnull=True),
                name="uniq_open_alert_per_kind",
            ),
        ]
        verbose_name = _("device alert")
        verbose_name_plural = _("device alerts")

    def __str__(self) -> str:
        return f"{self.device_id} {self.kind}"
