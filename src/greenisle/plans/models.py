"""Management plans (HJ 1259-2022 §5): per production site and year, the waste it expects to make and
who receives it. A filed plan is what manifests are checked against (办法 Art. 14)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel, TimeStampedModel
from greenisle.organizations.visibility import VisibleQuerySet


class ManagementClass(models.TextChoices):
    """HJ 1259-2022 §4.2."""

    KEY = "key", _("Key (≥ 100 t/yr)")
    SIMPLIFIED = "simplified", _("Simplified (10–100 t/yr)")
    REGISTRATION = "registration", _("Registration (< 10 t/yr)")


class PlanStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    FILED = "filed", _("Filed")


class PlanQuerySet(VisibleQuerySet):
    producer_path = "site__organization_id"
    division_path = "site__division__code"


class ManagementPlan(PublicModel):
    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT, related_name="management_plans")
    year = models.PositiveIntegerField(_("year"))
    management_class = models.CharField(
        _("management class"),
        max_length=20,
        choices=ManagementClass.choices,
        default=ManagementClass.REGISTRATION,
    )
    status = models.CharField(
        _("status"), max_length=20, choices=PlanStatus.choices, default=PlanStatus.DRAFT
    )
    filing_number = models.CharField(_("filing number"), max_length=40, blank=True)
    filed_at = models.DateTimeField(_("filed at"), null=True, blank=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["site", "-year"]
        constraints = [models.UniqueConstraint(fields=["site", "year"], name="one_plan_per_site_and_year")]
        verbose_name = _("management plan")
        verbose_name_plural = _("management plans")

    def __str__(self) -> str:
        return f"{self.site} {self.year}"


class PlanWaste(TimeStampedModel):
    """A waste the plan expects, how much, and the units that will receive it (A.3 and A.5/A.6)."""

    plan = models.ForeignKey(ManagementPlan, on_delete=models.CASCADE, related_name="wastes")
    waste_code = models.ForeignKey("catalog.WasteCode", on_delete=models.PROTECT, related_name="+")
    annual_t = models.DecimalField(_("expected per year (t)"), max_digits=10, decimal_places=3)
    receivers = models.ManyToManyField("organizations.Organization", related_name="+", blank=True)

    class Meta:
        ordering = ["plan", "waste_code"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "waste_code"], name="one_row_per_code_in_plan")
        ]
        verbose_name = _("planned waste")
        verbose_name_plural = _("planned wastes")

    def __str__(self) -> str:
        return f"{self.plan} {self.waste_code_id}"
