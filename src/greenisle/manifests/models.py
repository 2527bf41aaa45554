"""Transfer manifests (联单): one per producer per trip (办法 Art. 16), lines per container."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel, TimeStampedModel
from greenisle.manifests.choices import LineDecision, ManifestStatus, SignatureMethod
from greenisle.organizations.visibility import VisibleQuerySet


class ManifestSerial(models.Model):
    """The per-city, per-year serial counter behind manifest numbers (办法 Art. 15). Row-locked on use."""

    province_city = models.CharField(max_length=4)
    year = models.PositiveIntegerField()
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["province_city", "year"]
        constraints = [models.UniqueConstraint(fields=["province_city", "year"], name="uniq_manifest_serial")]
        verbose_name = _("manifest serial")
        verbose_name_plural = _("manifest serials")

    def __str__(self) -> str:
        return f"{self.year}{self.province_city}: {self.last_serial}"


class ManifestQuerySet(VisibleQuerySet):
    producer_path = "producer_id"
    collector_path = "receiver_id"
    facility_path = "receiver_id"
    carrier_path = "carrier_id"
    division_path = "producer_site__division__code"

    def visible_to(self, user):  # type: ignore[no-untyped-def]
        from greenisle.organizations.visibility import scope_for

        scope = scope_for(user)
        qs = super().visible_to(user)
        # A collector also sees the manifests its own trucks carry.
        if scope is not None and scope.kind == "collector":
            qs = qs | self.filter(carrier_id=scope.organization_id)
        return qs


class Manifest(PublicModel):
    """An electronic transfer manifest."""

    number = models.CharField(_("manifest number"), max_length=14, unique=True)
    status = models.CharField(
        _("status"), max_length=20, choices=ManifestStatus.choices, default=ManifestStatus.DRAFT
    )
    trip = models.ForeignKey(
        "dispatch.Trip", on_delete=models.PROTECT, related_name="manifests", null=True, blank=True
    )
    producer = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="produced_manifests"
    )
    producer_site = models.ForeignKey(
        "organizations.Site", on_delete=models.PROTECT, related_name="manifests"
    )
    carrier = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="carried_manifests"
    )
    receiver = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="received_manifests"
    )
    receiver_site = models.ForeignKey(
        "organizations.Site",
        on_delete=models.PROTECT,
        related_name="incoming_manifests",
        null=True,
        blank=True,
    )
    vehicle = models.ForeignKey(
        "dispatch.Vehicle", on_delete=models.PROTECT, related_name="manifests", null=True, blank=True
    )
    producer_signed_at = models.DateTimeField(_("signed by producer at"), null=True, blank=True)
    producer_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    producer_signature_method = models.CharField(max_length=20, choices=SignatureMethod.choices, blank=True)
    departed_at = models.DateTimeField(_("departed at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ManifestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # 办法 Art. 16: one manifest per producer on a trip.
            models.UniqueConstraint(
                fields=["trip", "producer"],
                condition=~models.Q(status=ManifestStatus.CANCELLED),
                name="one_manifest_per_producer_per_trip",
            ),
        ]
        verbose_name = _("manifest")
        verbose_name_plural = _("manifests")

    def __str__(self) -> str:
        return self.number

    @property
    def total_weight_kg(self) -> Decimal:
        return sum((line.weight_kg for line in self.lines.all()), start=Decimal("0"))


class ManifestLine(TimeStampedModel):
    """One container on a manifest."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="lines")
    waste_code = models.ForeignKey(
        "catalog.WasteCode", on_delete=models.PROTECT, related_name="manifest_lines"
    )
    container_code = models.CharField(_("container code"), max_length=64)
    request = models.ForeignKey(
        "dispatch.PickupRequest",
        on_delete=models.PROTECT,
        related_name="manifest_lines",
        null=True,
        blank=True,
    )
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=9, decimal_places=2)
    received_weight_kg = models.DecimalField(
        _("received weight (kg)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    decision = models.CharField(_("decision"), max_length=20, choices=LineDecision.choices, blank=True)

    class Meta:
        ordering = ["manifest", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["manifest", "container_code"], name="uniq_container_per_manifest"
            ),
            models.CheckConstraint(condition=models.Q(weight_kg__gt=0), name="line_weight_positive"),
        ]
        verbose_name = _("manifest line")
        verbose_name_plural = _("manifest lines")

    def __str__(self) -> str:
        return f"{self.manifest} · {self.container_code}"
