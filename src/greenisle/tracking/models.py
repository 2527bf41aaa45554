"""The trucks' JT/T 808 terminals, the track points they report, and the alerts raised on the tracks.

``TrackPoint`` is keyed by (terminal, recorded_at): the same report twice (a resend after a lost reply, a
blind-area back-fill of a point that did arrive) is one row. On PostgreSQL the table is partitioned by
month of ``recorded_at`` (see ``tracking.partitions``).
"""

from __future__ import annotations

import secrets

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel
from greenisle.devices.models import hash_device_key
from greenisle.organizations.visibility import VisibleQuerySet


class ProtocolVersion(models.IntegerChoices):
    """The header layout a terminal speaks (JT/T 808-2019 4.4.3: bit 14 of the body attributes)."""

    V2013 = 2013, "JT/T 808-2013"
    V2019 = 2019, "JT/T 808-2019"


# The identity of a terminal is its phone number with the leading zeros stripped (protocols.md 2.6): the
# 2013 header sends BCD[6] (12 digits), the 2019 header BCD[10] (20 digits).
phone_validator = RegexValidator(r"^[1-9][0-9]{0,19}$", _("1–20 digits, without leading zeros"), "phone")


class TerminalQuerySet(VisibleQuerySet):
    collector_path = "vehicle__collector_id"
    carrier_path = "vehicle__collector_id"
    division_path = "vehicle__collector__division__code"


class Terminal(PublicModel):
    """The on-board JT/T 808 terminal (车载终端) of a truck.

    Known by its phone number (the SIM in every message header). It registers (0x0100) and receives an
    auth code, which it then presents on every connection (0x0102); only the code's hash is kept. What it
    reported at registration (maker, model, terminal id, plate) is kept as reported; the truck it is
    bound to is ``vehicle``.
    """

    phone = models.CharField(
        _("terminal phone number"), max_length=20, unique=True, validators=[phone_validator]
    )
    vehicle = models.OneToOneField(
        "dispatch.Vehicle",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="terminal",
        verbose_name=_("vehicle"),
    )
    manufacturer = models.CharField(_("manufacturer"), max_length=40, blank=True)
    model_number = models.CharField(_("terminal model"), max_length=60, blank=True)
    terminal_number = models.CharField(_("terminal ID"), max_length=60, blank=True)
    # JT/T 697.7 plate colour code; 0 means the vehicle is not plated and ``reported_plate`` is its VIN.
    plate_color = models.PositiveSmallIntegerField(_("plate colour"), null=True, blank=True)
    reported_plate = models.CharField(_("reported plate"), max_length=40, blank=True)
    province_code = models.PositiveIntegerField(null=True, blank=True)
    city_code = models.PositiveIntegerField(null=True, blank=True)
    imei = models.CharField("IMEI", max_length=20, blank=True)
    software_version = models.CharField(_("software version"), max_length=40, blank=True)
    auth_code_hash = models.CharField(max_length=64, blank=True)
    protocol_version = models.PositiveSmallIntegerField(
        _("protocol version"), choices=ProtocolVersion.choices, default=ProtocolVersion.V2013
    )
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen at"), null=True, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    objects = TerminalQuerySet.as_manager()

    class Meta:
        ordering = ["phone"]
        verbose_name = _("vehicle terminal")
        verbose_name_plural = _("vehicle terminals")

    def __str__(self) -> str:
        return f"{self.phone} ({self.vehicle})" if self.vehicle_id else self.phone

    def issue_auth_code(self) -> str:
        """A new auth code (returned once, kept hashed like device keys); the old one stops working."""
        raw = secrets.token_hex(8)
        self.auth_code_hash = hash_device_key(raw)
        return raw

    def set_auth_code(self, raw: str) -> None:
        """An auth code configured on the terminal by its installer."""
        self.auth_code_hash = hash_device_key(raw)

    def check_auth_code(self, raw: str) -> bool:
        return bool(self.auth_code_hash) and secrets.compare_digest(self.auth_code_hash, hash_device_key(raw))


class TrackPointQuerySet(VisibleQuerySet):
    collector_path = "vehicle__collector_id"
    carrier_path = "vehicle__collector_id"
    division_path = "vehicle__collector__division__code"


class TrackPoint(models.Model):
    """One location of a truck as its terminal reported it (0x0200, or an item of a 0x0704 batch).

    ``recorded_at`` is the terminal's time converted from Beijing time (GMT+8) to UTC; ``time_raw`` keeps
    the 12 BCD digits as sent. Stored once per (terminal, recorded_at).
    """

    pk = models.CompositePrimaryKey("terminal", "recorded_at")
    terminal = models.ForeignKey(
        Terminal,
        on_delete=models.DO_NOTHING,
        related_name="points",
        db_constraint=False,  # the listener only stores points of authenticated terminals
        db_index=False,  # the primary key (terminal, recorded_at) starts with it
    )
    vehicle = models.ForeignKey(
        "dispatch.Vehicle",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="track_points",
        db_constraint=False,
        db_index=False,  # the (vehicle, recorded_at) index below starts with it
        verbose_name=_("vehicle"),
    )
    recorded_at = models.DateTimeField(_("recorded at"))
    time_raw = models.CharField(max_length=12, blank=True)
    received_at = models.DateTimeField(_("received at"))
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    altitude_m = models.IntegerField(_("altitude (m)"), default=0)
    speed_kmh = models.DecimalField(_("speed (km/h)"), max_digits=5, decimal_places=1, default=0)
    heading = models.PositiveIntegerField(_("heading (°)"), default=0)
    alarm_flags = models.PositiveBigIntegerField(_("alarm flags"), default=0)
    status_flags = models.PositiveBigIntegerField(_("status flags"), default=0)
    positioned = models.BooleanField(_("positioned"), default=True)
    mileage_km = models.DecimalField(
        _("mileage (km)"), max_digits=10, decimal_places=1, null=True, blank=True
    )
    cabin_temp_c = models.SmallIntegerField(_("cabin temperature (°C)"), null=True, blank=True)
    backfill = models.BooleanField(_("blind-area back-fill"), default=False)

    objects = TrackPointQuerySet.as_manager()

    class Meta:
        ordering = ["terminal_id", "-recorded_at"]
        indexes = [models.Index(fields=["vehicle", "recorded_at"], name="tracking_point_vehicle_time")]
        verbose_name = _("track point")
        verbose_name_plural = _("track points")

    def __str__(self) -> str:
        return f"{self.vehicle_id or self.terminal_id} {self.recorded_at:%Y-%m-%d %H:%M:%S} ({self.latitude}, {self.longitude})"


class TruckAlertKind(models.TextChoices):
    """The kinds of truck alert (the rules are in ``tracking.alerts``)."""

    OFF_ROUTE = "off_route", _("off route")
    UNPLANNED_STOP = "unplanned_stop", _("unplanned stop")
    OVERTIME = "overtime", _("not back after shift end")
    CABIN_HOT = "cabin_hot", _("cabin too hot")


class TruckAlertQuerySet(VisibleQuerySet):
    collector_path = "vehicle__collector_id"
    carrier_path = "vehicle__collector_id"
    division_path = "vehicle__collector__division__code"

    def open(self) -> TruckAlertQuerySet:
        return self.filter(cleared_at__isnull=True)


class TruckAlert(models.Model):
    """A truck condition that needs a person (off its route, stopped where no stop is planned, not back
    after its shift, cabin too hot): open while it lasts, cleared when it ends.

    Opened and cleared by the sweep (``tracking.services.truck_alerts_sweep``) from the track and the
    day's plan, each step with its audit event. ``started_at`` is when the condition started (the first
    fix off the route, the shift end …); ``latitude``/``longitude`` where it happened; ``detail`` the
    numbers the rule measured (distances in m, durations in s, temperatures in °C).
    """

    vehicle = models.ForeignKey(
        "dispatch.Vehicle", on_delete=models.CASCADE, related_name="truck_alerts", verbose_name=_("vehicle")
    )
    trip = models.ForeignKey(
        "dispatch.Trip",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="truck_alerts",
        verbose_name=_("trip"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=TruckAlertKind.choices)
    started_at = models.DateTimeField(_("started at"))
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    objects = TruckAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # At most one open alert of a kind per truck.
            models.UniqueConstraint(
                fields=["vehicle", "kind"],
                condition=models.Q(cleared_at__isnull=True),
                name="uniq_open_truck_alert_per_kind",
            ),
            # An episode is recorded once, however many sweeps see it.
            models.UniqueConstraint(
                fields=["vehicle", "kind", "started_at"], name="uniq_truck_alert_episode"
            ),
        ]
        verbose_name = _("truck alert")
        verbose_name_plural = _("truck alerts")

    def __str__(self) -> str:
        return f"{self.vehicle_id} {self.kind} {self.started_at:%Y-%m-%d %H:%M}"
