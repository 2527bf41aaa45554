"""Smart storage bins (危废收集云仓) and their credentials."""

from __future__ import annotations

import hashlib
import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel
from greenisle.organizations.visibility import VisibleQuerySet


class Transport(models.TextChoices):
    HTTP = "http", _("HTTP JSON")
    MQTT = "mqtt", _("MQTT")
    HJ212 = "hj212", _("HJ 212 over TCP")


def hash_device_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class BinQuerySet(VisibleQuerySet):
    producer_path = "site__organization_id"
    collector_path = "collector_id"
    division_path = "site__division__code"


class Bin(PublicModel):
    """A smart bin at a producer's site, run by a collector. Reports fill; crossing the threshold asks for a pickup."""

    serial = models.CharField(_("serial number"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT, related_name="bins")
    collector = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="operated_bins",
        verbose_name=_("collector"),
    )
    capacity_l = models.PositiveIntegerField(_("capacity (L)"))
    capacity_kg = models.DecimalField(_("capacity (kg)"), max_digits=9, decimal_places=2)
    waste_codes = models.ManyToManyField(
        "catalog.WasteCode", related_name="bins", verbose_name=_("waste codes")
    )
    threshold_pct = models.DecimalField(
        _("threshold (%)"),
        max_digits=5,
        decimal_places=2,
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    reporting_interval_s = models.PositiveIntegerField(_("reporting interval (s)"), default=900)
    transport = models.CharField(
        _("transport"), max_length=10, choices=Transport.choices, default=Transport.HTTP
    )
    key_prefix = models.CharField(max_length=8, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    objects = BinQuerySet.as_manager()

    class Meta:
        ordering = ["serial"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(threshold_pct__gte=1, threshold_pct__lte=100), name="bin_threshold_range"
            ),
        ]
        verbose_name = _("smart bin")
        verbose_name_plural = _("smart bins")

    def __str__(self) -> str:
        return f"{self.serial} {self.name}"

    def rotate_key(self) -> str:
        """Issue a new HTTP device key; only its hash is kept. Returns the key once."""
        raw = "dk_" + secrets.token_urlsafe(24)
        self.key_prefix = raw[:8]
        self.key_hash = hash_device_key(raw)
        return raw
