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
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned for changes")
    SUPERSEDED = "superseded", _("Superseded by an amendment")


# A plan in one of these states is the site's plan of record (办法 Art. 14 checks against it).
IN_FORCE = (PlanStatus.FILED, PlanStatus.APPROVED)


class TransferType(models.TextChoices):
    """HJ 1259 Table A.7 转移类型."""

    IN_PROVINCE = "in_province", _("Within the province")
    INTER_PROVINCE = "inter_province", _("To another province")
    ABROAD = "abroad", _("Abroad")


class PlanQuerySet(VisibleQuerySet):
    producer_path = "site__organization_id"
    division_path = "site__division__code"


class ManagementPlan(PublicModel):
    """One revision of a site's plan for a year. Revision 0 is the plan; an amendment (§5.2.3) is a new
    revision that supersedes the previous one when it is filed."""

    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT, related_name="management_plans")
    year = models.PositiveIntegerField(_("year"))
    revision = models.PositiveIntegerField(_("revision"), default=0)
    amends = models.OneToOneField(
        "self", on_delete=models.PROTECT, related_name="amendment", null=True, blank=True
    )
    management_class = models.CharField(
        _("management class"),
        max_length=20,
        choices=ManagementClass.choices,
        default=ManagementClass.REGISTRATION,
    )
    status = models.CharField(
        _("status"), max_length=20, choices=PlanStatus.choices, default=PlanStatus.DRAFT
    )
    # Table A.1 (every class), A.2 facilities and A.5 own treatment (key units), A.6 reduction
    # (key and simplified). A.3/A.4/A.7 are the PlanWaste rows.
    basic = models.JSONField(_("unit information (A.1)"), default=dict, blank=True)
    facilities = models.JSONField(_("facilities (A.2)"), default=list, blank=True)
    own_treatment = models.JSONField(_("own use and disposal (A.5)"), default=list, blank=True)
    reduction = models.JSONField(_("reduction plan (A.6)"), default=dict, blank=True)
    filing_number = models.CharField(_("filing number"), max_length=40, blank=True)
    filed_at = models.DateTimeField(_("filed at"), null=True, blank=True)
    filed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # The collector that filed for its client, when it did (HJ 1259 §7.1.3 by analogy; 办法 Art. 9).
    filed_by_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    review_note = models.CharField(_("review note"), max_length=500, blank=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["site", "-year", "-revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "year", "revision"], name="one_plan_revision_per_site_year"
            ),
            # One revision in force per site and year.
            models.UniqueConstraint(
                fields=["site", "year"],
                condition=models.Q(status__in=["filed", "approved"]),
                name="one_plan_in_force_per_site_year",
            ),
        ]
        verbose_name = _("management plan")
        verbose_name_plural = _("management plans")

    def __str__(self) -> str:
        return f"{self.site} {self.year}" + (f" r{self.revision}" if self.revision else "")

    @property
    def in_force(self) -> bool:
        return self.status in IN_FORCE


class PlanWaste(TimeStampedModel):
    """A waste the plan expects: generation (A.3), storage (A.4) and transfer (A.7) in one row."""

    plan = models.ForeignKey(ManagementPlan, on_delete=models.CASCADE, related_name="wastes")
    waste_code = models.ForeignKey("catalog.WasteCode", on_delete=models.PROTECT, related_name="+")
    internal_name = models.CharField(_("internal name"), max_length=100, blank=True)
    hazardous_constituents = models.CharField(_("hazardous constituents"), max_length=200, blank=True)
    form = models.CharField(_("physical form"), max_length=20, blank=True)
    facility_code = models.CharField(_("producing facility code"), max_length=40, blank=True)
    annual_t = models.DecimalField(_("expected per year (t)"), max_digits=10, decimal_places=3)
    storage_facility_code = models.CharField(_("storage facility code"), max_length=40, blank=True)
    storage_type = models.CharField(_("storage facility type"), max_length=60, blank=True)
    packaging = models.CharField(_("packaging"), max_length=100, blank=True)
    year_end_stock_t = models.DecimalField(
        _("expected year-end stock (t)"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    transfer_type = models.CharField(
        _("transfer type"), max_length=20, choices=TransferType.choices, default=TransferType.IN_PROVINCE
    )
    transfer_t = models.DecimalField(
        _("expected transfer (t)"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    method = models.CharField(_("utilisation/disposal method"), max_length=8, blank=True)
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


class SiteClassification(TimeStampedModel):
    """A site's management class (HJ 1259 §4.2): computed from its annual amount (§4.2.3) and the
    facts below, unless the city's bureau sets it (§4.2.2)."""

    site = models.OneToOneField("organizations.Site", on_delete=models.CASCADE, related_name="classification")
    operating_since = models.DateField(_("operating since"), null=True, blank=True)
    assessed_t = models.DecimalField(
        _("annual amount in the EIA or permit (t)"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    own_facility = models.BooleanField(_("treats its own waste"), default=False)
    computed_class = models.CharField(max_length=20, choices=ManagementClass.choices, blank=True)
    annual_t = models.DecimalField(max_digits=10, decimal_places=3, default=0)
    basis = models.CharField(max_length=200, blank=True)
    override_class = models.CharField(
        _("class set by the bureau"), max_length=20, choices=ManagementClass.choices, blank=True
    )
    override_reason = models.CharField(_("reason"), max_length=300, blank=True)
    overridden_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    overridden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("site classification")
        verbose_name_plural = _("site classifications")

    def __str__(self) -> str:
        return f"{self.site}: {self.effective_class}"

    @property
    def effective_class(self) -> str:
        return self.override_class or self.computed_class or ManagementClass.REGISTRATION


class PlanSerial(models.Model):
    """Filing numbers per division and year (a locked counter, never a count)."""

    division_code = models.CharField(max_length=12)
    year = models.PositiveIntegerField()
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["division_code", "year"], name="uniq_plan_serial")]

    def __str__(self) -> str:
        return f"{self.division_code} {self.year}: {self.last_serial}"
