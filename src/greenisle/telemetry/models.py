"""Bin readings and the last known state per bin."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.devices.models import Transport
from greenisle.organizations.visibility import VisibleQuerySet


class ReadingQuerySet(VisibleQuerySet):
    producer_path = "device__site__organization_id"
    collector_path = "device__collector_id"
    division_path = "device__site__division__code"


class Reading(models.Model):
    """One report from a bin. Stored once per (device, observed_at): the same reading twice is one row."""

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey("devices.Bin", on_delete=models.CASCADE, related_name="readings")
    observed_at = models.DateTimeField(_("observed at"))
    device_time_raw = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    transport = models.CharField(max_length=10, choices=Transport.choices)
    fill_pct = models.DecimalField(_("fill (%)"), max_digits=5, decimal_places=2)
    net_weight_kg = models.DecimalField(
        _("net weight (kg)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    temperature_c = models.DecimalField(
        _("temperature (°C)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    door_open = models.BooleanField(_("door open"), null=True, blank=True)
    battery_pct = models.DecimalField(_("battery (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    sequence = models.BigIntegerField(null=True, blank=True)

    objects = ReadingQuerySet.as_manager()

    class Meta:
        ordering = ["device", "-observed_at"]
        constraints = [
            models.UniqueConstraint(fields=["device", "observed_at"], name="uniq_reading_device_time"),
        ]
        verbose_name = _("reading")
        verbose_name_plural = _("readings")

    def __str__(self) -> str:
        return f"{self.device_id} {self.observed_at:%Y-%m-%d %H:%M} {self.fill_pct}%"


class BinStateQuerySet(VisibleQuerySet):
    producer_path = "device__site__organization_id"
    collector_path = "device__collector_id"
    division_path = "device__site__division__code"


class BinState(models.Model):
    """The newest reading per bin: the small table every dashboard reads."""

    device = models.OneToOneField(
        "devices.Bin", on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    observed_at = models.DateTimeField()
    fill_pct = models.DecimalField(max_digits=5, decimal_places=2)
    net_weight_kg = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    temperature_c = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    door_open = models.BooleanField(null=True, blank=True)
    battery_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    readings_accepted = models.PositiveBigIntegerField(default=0)
    readings_duplicate = models.PositiveBigIntegerField(default=0)

    objects = BinStateQuerySet.as_manager()

    class Meta:
        ordering = ["-fill_pct"]
        verbose_name = _("bin state")
        verbose_name_plural = _("bin states")

    def __str__(self) -> str:
        return f"{self.device_id}: {self.fill_pct}%"
