"""Pickup requests, vehicles and trips (a truck's round: the parent of one manifest per producer)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel, TimeStampedModel
from greenisle.dispatch.choices import BLOCKING_STATUSES, RequestOrigin, RequestStatus, TripStatus
from greenisle.organizations.visibility import VisibleQuerySet


class PickupRequestQuerySet(VisibleQuerySet):
    producer_path = "producer_id"
    collector_path = "collector_id"
    division_path = "site__division__code"

    def open(self) -> PickupRequestQuerySet:
        return self.filter(status__in=[RequestStatus.OPEN, RequestStatus.ASSIGNED])


class PickupRequest(PublicModel):
    """A bin (or a producer) asks for collection. At most one blocking request per bin."""

    bin = models.ForeignKey(
        "devices.Bin", on_delete=models.PROTECT, related_name="pickup_requests", null=True, blank=True
    )
    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT, related_name="pickup_requests")
    producer = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="pickup_requests"
    )
    collector = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="collector_pickup_requests"
    )
    origin = models.CharField(_("origin"), max_length=20, choices=RequestOrigin.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=RequestStatus.choices, default=RequestStatus.OPEN
    )
    fill_pct_at_open = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"))
    emptied_at = models.DateTimeField(_("bin emptied at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    objects = PickupRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # Exactly one request per bin and fill cycle, even when two readings race.
            models.UniqueConstraint(
                fields=["bin"],
                condition=models.Q(status__in=BLOCKING_STATUSES),
                name="one_blocking_request_per_bin",
            ),
        ]
        verbose_name = _("pickup request")
        verbose_name_plural = _("pickup requests")

    def __str__(self) -> str:
        return f"{self.site} · {self.get_status_display()}"


class VehicleQuerySet(VisibleQuerySet):
    collector_path = "collector_id"
    carrier_path = "collector_id"
    division_path = "collector__division__code"


class Vehicle(PublicModel):
    """A hazardous-goods truck of a collector."""

    collector = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="vehicles"
    )
    plate = models.CharField(_("plate"), max_length=16, unique=True)
    capacity_kg = models.DecimalField(_("capacity (kg)"), max_digits=9, decimal_places=2)
    dg_permit_number = models.CharField(_("dangerous goods permit"), max_length=64)
    dg_permit_valid_to = models.DateField(_("permit valid to"))

    objects = VehicleQuerySet.as_manager()

    class Meta:
        ordering = ["plate"]
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")

    def __str__(self) -> str:
        return self.plate


class TripQuerySet(VisibleQuerySet):
    collector_path = "collector_id"
    carrier_path = "collector_id"
    division_path = "collector__division__code"


class Trip(PublicModel):
    """One round of one truck on one day: the parent of the manifests of the producers it serves (办法 Art. 16)."""

    collector = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="trips"
    )
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="trips")
    driver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trips")
    service_date = models.DateField(_("date"))
    status = models.CharField(
        _("status"), max_length=20, choices=TripStatus.choices, default=TripStatus.PLANNED
    )

    objects = TripQuerySet.as_manager()

    class Meta:
        ordering = ["-service_date", "vehicle"]
        verbose_name = _("trip")
        verbose_name_plural = _("trips")

    def __str__(self) -> str:
        return f"{self.vehicle} {self.service_date}"


class TripStop(TimeStampedModel):
    """A pickup request served on a trip, in visiting order."""

    trip = models.ForeignKey(Trip, on_delete=models.CASCADE, related_name="stops")
    request = models.OneToOneField(PickupRequest, on_delete=models.PROTECT, related_name="stop")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["trip", "position"]
        verbose_name = _("trip stop")
        verbose_name_plural = _("trip stops")

    def __str__(self) -> str:
        return f"{self.trip} #{self.position}"
