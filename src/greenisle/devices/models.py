"""Smart storage bins (危废收集云仓) and their credentials."""

from __future__ import annotations

import hashlib
import re
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel
from greenisle.organizations.visibility import VisibleQuerySet


class Transport(models.TextChoices):
    HTTP = "http", _("HTTP JSON")
    MQTT = "mqtt", _("MQTT")
    HJ212 = "hj212", _("HJ 212 over TCP")


class CrcMode(models.TextChoices):
    """HJ 212 check-code variants met in the field (protocols.md §1.6); strict by default."""

    STANDARD = "standard", _("HJ 212 standard CRC16")
    MODBUS = "modbus", _("Modbus CRC16 (non-standard)")
    MODBUS_SWAPPED = "modbus_swapped", _("Modbus CRC16, low byte first (non-standard)")


def hash_device_key(raw: str) -> str:
    """Device secrets are generated with ≥ 128 bits of entropy (or typed by an installer), so one
    SHA-256 is enough: a slow password hash would cost every HJ 212 packet, which carries its PW."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


_MQTT_USERNAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# Real MN values vary (protocols.md §1.2): 14-char 2005 ids, 24 hex chars, ``JLYP01_AIR01_0001``.
_HJ212_MN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HJ212_PW = re.compile(r"[\x21-\x7e]{1,64}")


def validate_mqtt_username(value: str) -> None:
    """One topic level of ``greenisle/v1/bins/{username}/readings``: no ``/``, ``+``, ``#``."""
    if not _MQTT_USERNAME.fullmatch(value or ""):
        raise ValidationError(
            _("MQTT username: 1–64 letters, digits, '_', '.', ':' or '-'"), code="mqtt_username"
        )


def validate_hj212_mn(value: str) -> None:
    if not _HJ212_MN.fullmatch(value or ""):
        raise ValidationError(_("HJ 212 MN: 1–64 letters, digits, '_' or '-'"), code="hj212_mn")


def validate_hj212_pw(value: str) -> None:
    # ``;`` and ``=`` would break the data segment's KEY=value;… syntax.
    if not _HJ212_PW.fullmatch(value or "") or ";" in value or "=" in value or "&" in value:
        raise ValidationError(
            _("HJ 212 PW: 1–64 printable ASCII characters without ';', '=' or '&'"), code="hj212_pw"
        )


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
    # MQTT: the device connects with this username (also its topic level) and a generated password.
    mqtt_username = models.CharField(
        _("MQTT username"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        validators=[validate_mqtt_username],
    )
    mqtt_password_hash = models.CharField(max_length=64, blank=True)
    # HJ 212: the data logger's MN identifies it and the PW it sends in every packet authenticates it.
    hj212_mn = models.CharField(
        _("HJ 212 MN"), max_length=64, unique=True, null=True, blank=True, validators=[validate_hj212_mn]
    )
    hj212_pw_hash = models.CharField(max_length=64, blank=True)
    hj212_crc_mode = models.CharField(
        _("HJ 212 CRC variant"), max_length=20, choices=CrcMode.choices, default=CrcMode.STANDARD
    )
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

    def rotate_mqtt_password(self) -> str:
        """Issue a new MQTT password for ``mqtt_username``; only its hash is kept. Returns it once."""
        raw = secrets.token_urlsafe(24)
        self.mqtt_password_hash = hash_device_key(raw)
        return raw

    def set_hj212_password(self, raw: str) -> None:
        """HJ 212 PW: set at the data logger by the installer (or by CN=1072), so it is typed here."""
        validate_hj212_pw(raw)
        self.hj212_pw_hash = hash_device_key(raw)

    def mqtt_password_matches(self, raw: str) -> bool:
        return bool(self.mqtt_password_hash) and secrets.compare_digest(
            self.mqtt_password_hash, hash_device_key(raw)
        )

    def hj212_password_matches(self, raw: str | None) -> bool:
        return bool(self.hj212_pw_hash and raw) and secrets.compare_digest(
            self.hj212_pw_hash, hash_device_key(raw or "")
        )
