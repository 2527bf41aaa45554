"""Pickup requests, the fleet (depots, vehicles, drivers), route plans and trips (a truck's round:
the parent of one manifest per producer)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel, TimeStampedModel
from greenisle.dispatch.choices import (
    BLOCKING_STATUSES,
    PlanStatus,
    RequestOrigin,
    RequestStatus,
    TripStatus,
)
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


class FleetQuerySet(VisibleQuerySet):
    collector_path = "collector_id"
    carrier_path = "collector_id"
    division_path = "collector__division__code"


VehicleQuerySet = FleetQuerySet


class Depot(PublicModel):
    """A collector's warehouse: where its trucks start and end, and unload mid-shift."""

    collector = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="depots"
    )
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    opens_at = models.TimeField(_("opens at"), default=dt.time(7, 0))
    closes_at = models.TimeField(_("closes at"), default=dt.time(19, 0))
    unload_minutes = models.PositiveIntegerField(_("unloading time (min)"), default=20)

    objects = FleetQuerySet.as_manager()

    class Meta:
        ordering = ["collector", "name"]
        verbose_name = _("depot")
        verbose_name_plural = _("depots")

    def __str__(self) -> str:
        return self.name


class WasteClassGroup(TimeStampedModel):
    """Hazardous-waste categories that may travel together. Wastes of different groups are never
    on one truck at the same time (固废法 Art. 81; GB 18597-2023 on incompatible wastes)."""

    collector = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="waste_class_groups"
    )
    name = models.CharField(_("name"), max_length=60)
    categories = models.ManyToManyField(
        "catalog.HazardCategory", related_name="class_groups", verbose_name=_("categories")
    )

    objects = FleetQuerySet.as_manager()

    class Meta:
        ordering = ["collector", "name"]
        constraints = [
            models.UniqueConstraint(fields=["collector", "name"], name="uniq_class_group_name"),
        ]
        verbose_name = _("compatible waste group")
        verbose_name_plural = _("compatible waste groups")

    def __str__(self) -> str:
        return self.name


class Vehicle(PublicModel):
    """A hazardous-goods truck of a collector."""

    collector = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="vehicles"
    )
    plate = models.CharField(_("plate"), max_length=16, unique=True)
    capacity_kg = models.DecimalField(_("capacity (kg)"), max_digits=9, decimal_places=2)
    dg_permit_number = models.CharField(_("dangerous goods permit"), max_length=64)
    dg_permit_valid_to = models.DateField(_("permit valid to"))
    depot = models.ForeignKey(
        Depot,
        on_delete=models.PROTECT,
        related_name="vehicles",
        null=True,
        blank=True,
        verbose_name=_("home depot"),
    )
    shift_start = models.TimeField(_("shift starts"), default=dt.time(7, 30))
    shift_end = models.TimeField(_("shift ends"), default=dt.time(18, 30))
    cost_per_km = models.DecimalField(
        _("cost per km (yuan)"), max_digits=7, decimal_places=2, default=Decimal("3.50")
    )
    cost_per_hour = models.DecimalField(
        _("cost per hour (yuan)"), max_digits=7, decimal_places=2, default=Decimal("80.00")
    )
    # Empty: licensed for every group the collector has.
    class_groups = models.ManyToManyField(
        WasteClassGroup, related_name="vehicles", blank=True, verbose_name=_("compatible groups carried")
    )
    # Waste codes on the truck's transport permit (empty: whatever its collector is licensed for).
    licensed_codes = models.ManyToManyField(
        "catalog.WasteCode", related_name="vehicles", blank=True, verbose_name=_("licensed waste codes")
    )
    # Per hazard category, the most the truck may carry (kg), e.g. {"HW08": 3000}.
    category_limits_kg = models.JSONField(_("limits per category (kg)"), default=dict, blank=True)
    active = models.BooleanField(_("in service"), default=True)

    objects = FleetQuerySet.as_manager()

    class Meta:
        ordering = ["plate"]
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")

    def __str__(self) -> str:
        return self.plate


class Driver(PublicModel):
    """A driver of a collector, with the permits the law asks of a hazardous-goods driver."""

    collector = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="drivers"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="driver_profile",
        null=True,
        blank=True,
        verbose_name=_("account"),
    )
    name = models.CharField(_("name"), max_length=60)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    licence_number = models.CharField(_("driving licence number"), max_length=32)
    # 道路危险货物运输从业资格证 (road dangerous goods transport qualification).
    qualification_number = models.CharField(_("dangerous goods qualification"), max_length=32)
    qualification_valid_to = models.DateField(_("qualification valid to"))
    # The truck the driver usually drives: a published route goes to this driver unless changed.
    usual_vehicle = models.ForeignKey(
        Vehicle,
        on_delete=models.SET_NULL,
        related_name="usual_drivers",
        null=True,
        blank=True,
        verbose_name=_("usual vehicle"),
    )
    active = models.BooleanField(_("active"), default=True)

    objects = FleetQuerySet.as_manager()

    class Meta:
        ordering = ["collector", "name"]
        verbose_name = _("driver")
        verbose_name_plural = _("drivers")

    def __str__(self) -> str:
        return self.name


class RoutePlan(PublicModel):
    """A day's routes for a collector's fleet, from draft to published.

    ``problem`` and ``result`` hold the planner's input and answer as JSON (the pure model's data,
    see ``dispatch.optimization``): the dispatcher's edits change ``result``; publishing turns its
    routes into trips.
    """

    collector = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="route_plans"
    )
    service_date = models.DateField(_("date"))
    status = models.CharField(
        _("status"), max_length=20, choices=PlanStatus.choices, default=PlanStatus.QUEUED
    )
    progress_pct = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    seconds = models.PositiveIntegerField(_("search time (s)"), default=30)
    problem = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    locked_vehicles = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="route_plans", null=True
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    objects = FleetQuerySet.as_manager()

    class Meta:
        ordering = ["-service_date", "-created_at"]
        verbose_name = _("route plan")
        verbose_name_plural = _("route plans")

    def __str__(self) -> str:
        return f"{self.collector} {self.service_date} {self.get_status_display()}"


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
    plan = models.ForeignKey(RoutePlan, on_delete=models.PROTECT, related_name="trips", null=True, blank=True)
    driver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trips")
    service_date = models.DateField(_("date"))
    status = models.CharField(
        _("status"), max_length=20, choices=TripStatus.choices, default=TripStatus.PLANNED
    )
    planned_start_at = models.DateTimeField(_("planned start"), null=True, blank=True)
    planned_end_at = models.DateTimeField(_("planned end"), null=True, blank=True)
    planned_distance_m = models.PositiveIntegerField(_("planned distance (m)"), null=True, blank=True)

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
    planned_arrival_at = models.DateTimeField(_("planned arrival"), null=True, blank=True)

    class Meta:
        ordering = ["trip", "position"]
        verbose_name = _("trip stop")
        verbose_name_plural = _("trip stops")

    def __str__(self) -> str:
        return f"{self.trip} #{self.position}"
