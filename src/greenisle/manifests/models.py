"""Transfer manifests (联单): one per producer per trip (办法 Art. 16), lines per container."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel, TimeStampedModel
from greenisle.manifests.choices import (
    CorrectionStatus,
    LineDecision,
    ManifestKind,
    ManifestStatus,
    ReceiptOutcome,
    SignatureMethod,
    WasteForm,
)
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
    kind = models.CharField(
        _("kind"), max_length=20, choices=ManifestKind.choices, default=ManifestKind.COLLECTION
    )
    # The version in force; each applied correction adds one (the old ones stay in ManifestVersion).
    version = models.PositiveIntegerField(_("version"), default=1)
    departed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    delivered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # 办法 Art. 18: the receiver confirms within 5 working days of delivery.
    receipt_due_on = models.DateField(_("receipt due on"), null=True, blank=True)
    receipt_outcome = models.CharField(
        _("receipt outcome"), max_length=20, choices=ReceiptOutcome.choices, blank=True
    )
    treated_at = models.DateTimeField(_("treatment recorded at"), null=True, blank=True)
    treatment_method = models.CharField(_("treatment method"), max_length=10, blank=True)
    treatment_note = models.CharField(_("treatment note"), max_length=300, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("reason for cancelling"), max_length=300, blank=True)
    # 办法 Art. 20: a transfer made on paper while the system was unavailable, entered afterwards.
    paper = models.BooleanField(_("entered from paper"), default=False)
    paper_transfer_ended_on = models.DateField(_("paper transfer ended on"), null=True, blank=True)
    paper_entry_due_on = models.DateField(_("paper entry due on"), null=True, blank=True)
    paper_reference = models.CharField(_("paper manifest reference"), max_length=64, blank=True)
    # Onward manifests (办法 Art. 31): the small-producer manifests whose containers they carry on.
    sources = models.ManyToManyField("self", symmetrical=False, related_name="onward_manifests", blank=True)

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
            # A signature's time is never earlier than the previous party's.
            models.CheckConstraint(
                condition=Q(departed_at__isnull=True)
                | Q(producer_signed_at__isnull=True)
                | Q(departed_at__gte=F("producer_signed_at")),
                name="manifest_departed_after_signed",
            ),
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True)
                | Q(departed_at__isnull=True)
                | Q(delivered_at__gte=F("departed_at")),
                name="manifest_delivered_after_departed",
            ),
            models.CheckConstraint(
                condition=Q(received_at__isnull=True)
                | Q(delivered_at__isnull=True)
                | Q(received_at__gte=F("delivered_at")),
                name="manifest_received_after_delivered",
            ),
            models.CheckConstraint(
                condition=Q(treated_at__isnull=True)
                | Q(received_at__isnull=True)
                | Q(treated_at__gte=F("received_at")),
                name="manifest_treated_after_received",
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
    # 办法 Art. 18: typed discrepancies found at receipt (Discrepancy values) and what was accepted.
    discrepancies = models.JSONField(_("discrepancies"), default=list, blank=True)
    discrepancy_note = models.CharField(_("discrepancy note"), max_length=300, blank=True)
    accepted_weight_kg = models.DecimalField(
        _("accepted weight (kg)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    container = models.ForeignKey(
        "manifests.Container", on_delete=models.PROTECT, related_name="lines", null=True, blank=True
    )
    # On an onward manifest: the small producer's line this container came in on.
    source_line = models.ForeignKey(
        "self", on_delete=models.PROTECT, related_name="onward_lines", null=True, blank=True
    )

    @property
    def discrepancy_labels(self) -> list[str]:
        from greenisle.manifests.choices import Discrepancy

        labels = dict(Discrepancy.choices)
        return [str(labels.get(k, k)) for k in self.discrepancies]

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


class ReceiptTotalQuerySet(VisibleQuerySet):
    # The bureau's statistics read it; the parties read their manifests themselves.
    division_path = "division__code"


class ReceiptTotal(models.Model):
    """What a received manifest counts in one HW category, for the statistics (ADR 15): the weight of
    its lines of the category (accepted, else received, else declared; containers the receiver
    rejected count nothing) with what the counts group by copied onto it: the sending site, its
    division, the producer, the collector, the local day and month of receipt. A manifest received
    or treated has one row per category it carries.

    Written in the same transaction as the receipt, a correction or a paper manifest
    (``manifests.receipt_totals.receipt_totals_refresh``), so it is never behind the manifests it
    comes from; ``greenisle receipt_totals --check`` compares it with the lines, ``--rebuild``
    rewrites it."""

    manifest = models.ForeignKey(Manifest, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=4)
    kind = models.CharField(max_length=20, choices=ManifestKind.choices)
    received_at = models.DateTimeField()
    received_on = models.DateField()  # in Beijing time
    month = models.PositiveIntegerField()  # yyyymm of received_on
    site = models.ForeignKey("organizations.Site", on_delete=models.CASCADE, related_name="+")
    division = models.ForeignKey("organizations.Division", on_delete=models.PROTECT, related_name="+")
    producer = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    # The collector the weight is counted for: the receiver of a collection manifest, the sender of
    # an onward one.
    collector = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    kg = models.DecimalField(max_digits=12, decimal_places=2)
    lines = models.PositiveIntegerField()

    objects = ReceiptTotalQuerySet.as_manager()

    class Meta:
        ordering = ["received_at", "manifest", "category"]
        constraints = [
            models.UniqueConstraint(fields=["manifest", "category"], name="one_receipt_total_per_category")
        ]
        indexes = [
            models.Index(fields=["received_on", "division"], name="receipttotal_day_division"),
            models.Index(fields=["site", "category", "received_on"], name="receipttotal_site_category"),
            models.Index(fields=["producer", "received_on"], name="receipttotal_producer_day"),
        ]
        verbose_name = _("receipt total")
        verbose_name_plural = _("receipt totals")

    def __str__(self) -> str:
        return f"{self.manifest_id} {self.received_on} {self.category} {self.kg}"


class ContainerSerial(models.Model):
    """The per-producer, per-day serial in containers' identification codes. Row-locked on use."""

    producer = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["producer", "day"]
        constraints = [models.UniqueConstraint(fields=["producer", "day"], name="uniq_container_serial")]
        verbose_name = _("container serial")
        verbose_name_plural = _("container serials")

    def __str__(self) -> str:
        return f"{self.producer_id} {self.day}: {self.last_serial}"


class ContainerQuerySet(VisibleQuerySet):
    producer_path = "producer_id"
    collector_path = "collector_id"
    division_path = "site__division__code"


class Container(PublicModel):
    """A labelled container of hazardous waste (HJ 1276-2022). ``code`` is the label's digital
    identification code; the label's QR code resolves to the container's page."""

    code = models.CharField(_("identification code"), max_length=64, unique=True)
    producer = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="containers"
    )
    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT, related_name="containers")
    # The collector serving the producer when the label was made: it sees the container too.
    collector = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="collected_containers",
        null=True,
        blank=True,
    )
    waste_code = models.ForeignKey("catalog.WasteCode", on_delete=models.PROTECT, related_name="containers")
    waste_name = models.CharField(_("waste name"), max_length=200)
    form = models.CharField(_("physical form"), max_length=20, choices=WasteForm.choices)
    hazard_characteristics = models.CharField(_("hazard characteristics"), max_length=20)
    main_constituents = models.CharField(_("main constituents"), max_length=200)
    hazardous_constituents = models.CharField(_("hazardous constituents"), max_length=200)
    precautions = models.CharField(_("precautions"), max_length=300, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=100)
    contact_phone = models.CharField(_("contact phone"), max_length=32)
    produced_on = models.DateField(_("date produced"))
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=9, decimal_places=2)
    request = models.ForeignKey(
        "dispatch.PickupRequest", on_delete=models.PROTECT, related_name="containers", null=True, blank=True
    )

    objects = ContainerQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(weight_kg__gt=0), name="container_weight_positive"),
        ]
        verbose_name = _("container")
        verbose_name_plural = _("containers")

    def __str__(self) -> str:
        return self.code


class LoadingRefusal(TimeStampedModel):
    """办法 Art. 13: a container the driver did not load because its label disagreed with the manifest."""

    request = models.ForeignKey(
        "dispatch.PickupRequest", on_delete=models.PROTECT, related_name="loading_refusals"
    )
    container = models.ForeignKey(
        Container, on_delete=models.PROTECT, related_name="loading_refusals", null=True, blank=True
    )
    scanned = models.CharField(_("scanned code"), max_length=300)
    reasons = models.JSONField(_("reasons"), default=list)
    detail = models.CharField(_("detail"), max_length=500)
    weight_kg = models.DecimalField(_("weighed (kg)"), max_digits=9, decimal_places=2, null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("loading refusal")
        verbose_name_plural = _("loading refusals")

    def __str__(self) -> str:
        return f"{self.scanned}: {', '.join(self.reasons)}"


class ManifestVersion(TimeStampedModel):
    """A superseded version of a manifest, kept readable as it was (corrections never edit in place)."""

    manifest = models.ForeignKey(Manifest, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    snapshot = models.JSONField(_("content"))

    class Meta:
        ordering = ["manifest", "version"]
        constraints = [
            models.UniqueConstraint(fields=["manifest", "version"], name="uniq_manifest_version"),
        ]
        verbose_name = _("manifest version")
        verbose_name_plural = _("manifest versions")

    def __str__(self) -> str:
        return f"{self.manifest_id} v{self.version}"


class ManifestCorrection(PublicModel):
    """A correction to a signed manifest, proposed by one party and confirmed by the other.
    Applying it makes a new version. One open correction per manifest at a time."""

    manifest = models.ForeignKey(Manifest, on_delete=models.PROTECT, related_name="corrections")
    status = models.CharField(
        _("status"), max_length=20, choices=CorrectionStatus.choices, default=CorrectionStatus.OPEN
    )
    base_version = models.PositiveIntegerField(_("corrects version"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_by_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=300)
    # {"lines": {line_id: {"weight_kg": "…", "waste_code": "…"}}}
    changes = models.JSONField(_("changes"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["manifest"],
                condition=Q(status=CorrectionStatus.OPEN),
                name="one_open_correction_per_manifest",
            ),
        ]
        verbose_name = _("manifest correction")
        verbose_name_plural = _("manifest corrections")

    def __str__(self) -> str:
        return f"{self.manifest_id} correction of v{self.base_version}"
