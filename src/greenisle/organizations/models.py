"""The registry: divisions, organisations, sites, licences and service contracts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel, TimeStampedModel
from greenisle.organizations.choices import LicenceType, OrganizationKind
from greenisle.organizations.identifiers import IdentifierError, validate_division_code, validate_uscc
from greenisle.organizations.visibility import VisibleQuerySet


def _uscc_validator(value: str) -> None:
    try:
        validate_uscc(value)
    except IdentifierError as exc:
        raise ValidationError(str(exc), code="invalid_uscc") from exc


def _division_validator(value: str) -> None:
    try:
        validate_division_code(value)
    except IdentifierError as exc:
        raise ValidationError(str(exc), code="invalid_division") from exc


class Division(models.Model):
    """An administrative division (GB/T 2260): province, city or county-level code."""

    code = models.CharField(
        _("division code"), max_length=6, primary_key=True, validators=[_division_validator]
    )
    name = models.CharField(_("name"), max_length=50)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("administrative division")
        verbose_name_plural = _("administrative divisions")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class OrganizationQuerySet(VisibleQuerySet):
    producer_path = "id"
    collector_path = "id"
    facility_path = "id"
    carrier_path = "id"
    division_path = "division__code"


class Organization(PublicModel):
    """A producer, collector, carrier, facility or regulator, identified by its 统一社会信用代码."""

    kind = models.CharField(_("kind"), max_length=20, choices=OrganizationKind.choices, db_index=True)
    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(
        _("unified social credit code"), max_length=18, unique=True, validators=[_uscc_validator]
    )
    division = models.ForeignKey(
        Division, on_delete=models.PROTECT, related_name="organizations", verbose_name=_("division")
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    # 法定代表人 as registered (HJ 1259-2022 Table A.1).
    legal_representative = models.CharField(_("legal representative"), max_length=100, blank=True)
    signature_code_hash = models.CharField(max_length=128, blank=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name

    def set_signature_code(self, raw: str) -> None:
        from django.contrib.auth.hashers import make_password

        self.signature_code_hash = make_password(raw)

    def check_signature_code(self, raw: str) -> bool:
        from django.contrib.auth.hashers import check_password

        return bool(self.signature_code_hash) and check_password(raw, self.signature_code_hash)


class SiteQuerySet(VisibleQuerySet):
    producer_path = "organization_id"
    collector_path = "organization_id"
    facility_path = "organization_id"
    division_path = "division__code"


class Site(PublicModel):
    """A place where an organisation produces, stores or treats waste. A producer may have several."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6)
    division = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="sites")
    # When a truck may collect: the planner's time window for the site's pickups.
    opens_at = models.TimeField(_("collection from"), default=dt.time(8, 30))
    closes_at = models.TimeField(_("collection until"), default=dt.time(17, 0))
    service_minutes = models.PositiveIntegerField(_("time on site (min)"), default=10)
    # HJ 1259-2022 Table A.1: the site's EIA approval (or filing) number and its discharge permit or
    # registration number. "无" (none) is an answer a small workshop may give; empty means unknown.
    eia_reference = models.CharField(_("EIA approval or filing number"), max_length=200, blank=True)
    permit_reference = models.CharField(
        _("discharge permit or registration number"), max_length=100, blank=True
    )

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return f"{self.organization} · {self.name}"

    def clean(self) -> None:
        if self.latitude is not None and not (-90 <= float(self.latitude) <= 90):
            raise ValidationError({"latitude": _("Latitude must be between -90 and 90.")})
        if self.longitude is not None and not (-180 <= float(self.longitude) <= 180):
            raise ValidationError({"longitude": _("Longitude must be between -180 and 180.")})


class LicenceQuerySet(VisibleQuerySet):
    collector_path = "organization_id"
    facility_path = "organization_id"
    carrier_path = "organization_id"
    division_path = "organization__division__code"

    def valid_on(self, day: Any) -> LicenceQuerySet:
        return self.filter(valid_from__lte=day, valid_to__gte=day)


class Licence(TimeStampedModel):
    """A hazardous-waste operating licence (or transport permit) held by a collector, facility or carrier."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="licences")
    licence_type = models.CharField(_("licence type"), max_length=20, choices=LicenceType.choices)
    number = models.CharField(_("licence number"), max_length=64, unique=True)
    waste_codes = models.ManyToManyField("catalog.WasteCode", related_name="licences", blank=True)
    annual_capacity_t = models.DecimalField(_("annual capacity (t)"), max_digits=12, decimal_places=3)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"))

    objects = LicenceQuerySet.as_manager()

    class Meta:
        ordering = ["organization", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__gte=models.F("valid_from")), name="licence_dates_ordered"
            ),
            models.CheckConstraint(
                condition=Q(annual_capacity_t__gte=0), name="licence_capacity_non_negative"
            ),
        ]
        verbose_name = _("licence")
        verbose_name_plural = _("licences")

    def __str__(self) -> str:
        return f"{self.get_licence_type_display()} {self.number}"

    def is_valid_on(self, day: Any = None) -> bool:
        day = day or timezone.localdate()
        return bool(self.valid_from <= day <= self.valid_to)


class ServiceContractQuerySet(VisibleQuerySet):
    producer_path = "producer_id"
    collector_path = "collector_id"
    division_path = "producer__division__code"

    def active(self, day: Any = None) -> ServiceContractQuerySet:
        day = day or timezone.localdate()
        return self.filter(Q(valid_from__lte=day), Q(valid_to__isnull=True) | Q(valid_to__gte=day))


class ServiceContract(TimeStampedModel):
    """A collector serves a producer: makes the producer the collector's client."""

    collector = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="client_contracts")
    producer = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="service_contracts")
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    delegated_signing = models.BooleanField(_("signing delegated to the collector"), default=False)

    objects = ServiceContractQuerySet.as_manager()

    class Meta:
        ordering = ["collector", "producer"]
        constraints = [
            models.UniqueConstraint(
                fields=["collector", "producer", "valid_from"], name="uniq_contract_start"
            ),
        ]
        verbose_name = _("service contract")
        verbose_name_plural = _("service contracts")

    def __str__(self) -> str:
        return f"{self.collector} → {self.producer}"
