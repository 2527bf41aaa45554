"""The HJ 1259-2022 ledger: one record per container and event, with Appendix B batch codes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel, TimeStampedModel
from greenisle.organizations.visibility import VisibleQuerySet


class RecordType(models.TextChoices):
    PRODUCTION = "production", _("Production")
    STORAGE_IN = "storage_in", _("Storage in")
    STORAGE_OUT = "storage_out", _("Storage out")
    OWN_UTILISATION = "own_utilisation", _("Own utilisation")
    OWN_DISPOSAL = "own_disposal", _("Own disposal")
    OUTSOURCED_UTILISATION = "outsourced_utilisation", _("Outsourced utilisation")
    OUTSOURCED_DISPOSAL = "outsourced_disposal", _("Outsourced disposal")
    EXPORT_UTILISATION = "export_utilisation", _("Export for utilisation")
    EXPORT_DISPOSAL = "export_disposal", _("Export for disposal")


class EntryKind(models.TextChoices):
    EVENT = "event", _("From a platform event")
    MANUAL = "manual", _("Manual entry")
    REVERSAL = "reversal", _("Reversing entry")


class ReceiverType(models.TextChoices):
    """HJ 1259 Table B.5 接收单位类型."""

    LICENSED = "licensed", _("Licence holder")
    EXEMPT = "exempt", _("Exempted utiliser/disposer")
    ABROAD = "abroad", _("Receiver outside the PRC")


class LedgerSerial(models.Model):
    """Batch-code serial per site, record type and date. Row-locked on use."""

    site = models.ForeignKey("organizations.Site", on_delete=models.CASCADE, related_name="+")
    record_type = models.CharField(max_length=30, choices=RecordType.choices)
    day = models.DateField()
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["site", "day", "record_type"]
        constraints = [
            models.UniqueConstraint(fields=["site", "record_type", "day"], name="uniq_ledger_serial")
        ]
        verbose_name = _("ledger serial")
        verbose_name_plural = _("ledger serials")

    def __str__(self) -> str:
        return f"{self.site_id} {self.record_type} {self.day}: {self.last_serial}"


class LedgerRecordQuerySet(VisibleQuerySet):
    producer_path = "organization_id"
    collector_path = "organization_id"
    facility_path = "organization_id"
    division_path = "site__division__code"


class LedgerRecord(PublicModel):
    """One ledger line (HJ 1259-2022 §6.3, Appendix B): a container produced, stored in, stored out,
    used or disposed of. Records are never edited: a correction is a reversing entry (same type,
    opposite weight) and, where needed, a new record."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="ledger_records"
    )
    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT, related_name="ledger_records")
    record_type = models.CharField(_("record type"), max_length=30, choices=RecordType.choices)
    entry = models.CharField(_("entry"), max_length=10, choices=EntryKind.choices, default=EntryKind.EVENT)
    batch_code = models.CharField(_("batch code"), max_length=32)
    # The batch this one follows (产生批次编码 / 入库批次编码 / 出库批次编码 of Appendix B).
    source_batch_code = models.CharField(_("source batch code"), max_length=32, blank=True)
    waste_code = models.ForeignKey(
        "catalog.WasteCode", on_delete=models.PROTECT, related_name="ledger_records"
    )
    container_code = models.CharField(_("container code"), max_length=64)
    container_type = models.CharField(_("container type"), max_length=40, blank=True)
    container_count = models.PositiveIntegerField(_("containers"), default=1)
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=10, decimal_places=2)
    # +1, 0 or −1: how this record moves the unit's stock (ledger.core.stock_effect).
    stock_effect = models.SmallIntegerField(_("stock effect"), default=0)
    occurred_at = models.DateTimeField(_("time"), db_index=True)
    # 设施编码: the producing facility, the storage point (zone) or the own treatment facility.
    facility_code = models.CharField(_("facility code"), max_length=40, blank=True)
    handler = models.CharField(_("handled by"), max_length=100, blank=True)
    destination = models.CharField(_("destination"), max_length=200, blank=True)
    method = models.CharField(_("utilisation/disposal method"), max_length=8, blank=True)
    receiver_type = models.CharField(
        _("receiver type"), max_length=10, choices=ReceiverType.choices, blank=True
    )
    licence_number = models.CharField(_("licence number"), max_length=64, blank=True)
    province = models.CharField(_("province"), max_length=20, blank=True)
    left_site_at = models.DateTimeField(_("left the site at"), null=True, blank=True)
    manifest = models.ForeignKey(
        "manifests.Manifest", on_delete=models.PROTECT, related_name="ledger_records", null=True, blank=True
    )
    counterparty = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, related_name="reversal", null=True, blank=True
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    objects = LedgerRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "batch_code"], name="uniq_batch_code_per_site"),
            # A record adds weight; only a reversing entry takes it away again.
            models.CheckConstraint(
                condition=(
                    Q(reverses__isnull=True, weight_kg__gt=0) | Q(reverses__isnull=False, weight_kg__lt=0)
                ),
                name="ledger_weight_sign",
            ),
            models.CheckConstraint(condition=Q(stock_effect__in=[-1, 0, 1]), name="ledger_stock_effect"),
        ]
        indexes = [
            models.Index(fields=["organization", "site", "occurred_at"], name="ledger_org_site_time"),
            models.Index(fields=["organization", "container_code"], name="ledger_org_container"),
        ]
        verbose_name = _("ledger record")
        verbose_name_plural = _("ledger records")

    def __str__(self) -> str:
        return f"{self.batch_code} {self.container_code}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # HJ 1259 §6: a ledger is kept, not rewritten. Corrections are reversing entries.
        if not self._state.adding:
            raise ValueError("ledger records are never edited; reverse them instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("ledger records are kept at least five years (HJ 1259-2022 §6.4)")

    @property
    def weight_t(self) -> Decimal:
        return (self.weight_kg / 1000).quantize(Decimal("0.001"))


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Monthly")
    QUARTER = "quarter", _("Quarterly")
    YEAR = "year", _("Annual")


class DeclarationStatus(models.TextChoices):
    DRAFT = "draft", _("Prepared")
    CONFIRMED = "confirmed", _("Confirmed")
    SUBMITTED = "submitted", _("Submitted")


class DeclarationQuerySet(VisibleQuerySet):
    producer_path = "organization_id"
    collector_path = "organization_id"
    facility_path = "organization_id"
    division_path = "site__division__code"


class Declaration(PublicModel):
    """A periodic declaration (申报, HJ 1259-2022 §7) of one site, generated from its ledger. A draft
    follows the ledger; a submitted one is frozen."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="declarations"
    )
    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT, related_name="declarations")
    kind = models.CharField(_("period"), max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end (exclusive)"))
    label = models.CharField(_("period label"), max_length=10)
    due_on = models.DateField(_("due on"))
    management_class = models.CharField(_("management class"), max_length=20)
    status = models.CharField(
        _("status"), max_length=12, choices=DeclarationStatus.choices, default=DeclarationStatus.DRAFT
    )
    content = models.JSONField(_("content"), default=dict)
    generated_at = models.DateTimeField(_("generated at"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # §7.1.3: a licence holder may declare on the producer's behalf.
    filed_by_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    receipt_number = models.CharField(_("receipt number"), max_length=40, blank=True)

    objects = DeclarationQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "kind", "period_start"], name="one_declaration_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")), name="declaration_period_order"
            ),
        ]
        verbose_name = _("declaration")
        verbose_name_plural = _("declarations")

    def __str__(self) -> str:
        return f"{self.site} {self.label}"


class DeclarationSerial(models.Model):
    """Receipt numbers of submitted declarations, per division and year."""

    division_code = models.CharField(max_length=12)
    year = models.PositiveIntegerField()
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["division_code", "year"], name="uniq_declaration_serial")
        ]

    def __str__(self) -> str:
        return f"{self.division_code} {self.year}: {self.last_serial}"


class StoragePolicy(TimeStampedModel):
    """A collector's local caps on storage (pilot rules of its city), configuration not constants.
    The 1-year limit of 固废法 Art. 81 applies whatever is set here."""

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.CASCADE, related_name="storage_policy"
    )
    max_days = models.PositiveIntegerField(_("local cap on storage days"), null=True, blank=True)
    max_tonnes = models.DecimalField(
        _("local cap on tonnes in store"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    reminder_days = models.PositiveIntegerField(_("remind this many days before a limit"), default=10)

    class Meta:
        verbose_name = _("storage policy")
        verbose_name_plural = _("storage policies")

    def __str__(self) -> str:
        return f"{self.organization}: {self.max_days} d / {self.max_tonnes} t"


class StorageZone(TimeStampedModel):
    """A storage area of a site (贮存分区) for compatible waste groups: incompatible wastes are
    stored apart (GB 18597-2023 §6; 固废法 Art. 81)."""

    site = models.ForeignKey("organizations.Site", on_delete=models.CASCADE, related_name="storage_zones")
    code = models.CharField(_("storage facility code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    groups = models.ManyToManyField(
        "dispatch.WasteClassGroup", related_name="storage_zones", verbose_name=_("compatible groups")
    )

    class Meta:
        ordering = ["site", "code"]
        constraints = [models.UniqueConstraint(fields=["site", "code"], name="uniq_zone_code_per_site")]
        verbose_name = _("storage zone")
        verbose_name_plural = _("storage zones")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class BulkFilingStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class BulkFiling(PublicModel):
    """A collector filing plans or declarations for all its clients at once (§7.1.3), with progress."""

    collector = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    what = models.CharField(_("what"), max_length=20)  # "plans" or "declarations"
    period = models.CharField(_("period"), max_length=20, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=BulkFilingStatus.choices, default=BulkFilingStatus.QUEUED
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("bulk filing")
        verbose_name_plural = _("bulk filings")

    def __str__(self) -> str:
        return f"{self.collector} {self.what} {self.period}"
