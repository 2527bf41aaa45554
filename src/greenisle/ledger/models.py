"""The HJ 1259-2022 ledger: one record per container and event, with Appendix B batch codes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel
from greenisle.organizations.visibility import VisibleQuerySet


class RecordType(models.TextChoices):
    PRODUCTION = "production", _("Production")
    STORAGE_IN = "storage_in", _("Storage in")
    STORAGE_OUT = "storage_out", _("Storage out")
    OWN_UTILISATION = "own_utilisation", _("Own utilisation")
    OWN_DISPOSAL = "own_disposal", _("Own disposal")
    OUTSOURCED_UTILISATION = "outsourced_utilisation", _("Outsourced utilisation")
    OUTSOURCED_DISPOSAL = "outsourced_disposal", _("Outsourced disposal")


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
    """One ledger line: a container produced, stored in, stored out, used or disposed of."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="ledger_records"
    )
    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT, related_name="ledger_records")
    record_type = models.CharField(_("record type"), max_length=30, choices=RecordType.choices)
    batch_code = models.CharField(_("batch code"), max_length=32)
    source_batch_code = models.CharField(_("source batch code"), max_length=32, blank=True)
    waste_code = models.ForeignKey(
        "catalog.WasteCode", on_delete=models.PROTECT, related_name="ledger_records"
    )
    container_code = models.CharField(_("container code"), max_length=64)
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=9, decimal_places=2)
    occurred_at = models.DateTimeField(_("time"))
    manifest = models.ForeignKey(
        "manifests.Manifest", on_delete=models.PROTECT, related_name="ledger_records", null=True, blank=True
    )
    counterparty = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    objects = LedgerRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "batch_code"], name="uniq_batch_code_per_site")
        ]
        verbose_name = _("ledger record")
        verbose_name_plural = _("ledger records")

    def __str__(self) -> str:
        return f"{self.batch_code} {self.container_code}"
