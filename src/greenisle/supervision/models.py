"""Findings: a rule broken, raised automatically, for the regulator to follow up.

Each finding names its rule (a stable code with the regulation it enforces), a severity grade, the
organisation concerned and the object that is its evidence. A rule raises at most one open finding
per object.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel
from greenisle.organizations.visibility import VisibleQuerySet


class Severity(models.TextChoices):
    A = "A", _("A (serious)")
    B = "B", _("B (significant)")
    C = "C", _("C (minor)")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class FindingQuerySet(VisibleQuerySet):
    producer_path = "organization_id"
    collector_path = "organization_id"
    facility_path = "organization_id"
    carrier_path = "organization_id"
    division_path = "division_code"


class Finding(PublicModel):
    rule = models.CharField(_("rule"), max_length=60, db_index=True)
    severity = models.CharField(_("severity"), max_length=1, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="findings"
    )
    division_code = models.CharField(_("division code"), max_length=6, db_index=True)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    message = models.CharField(_("message"), max_length=500)
    evidence = models.JSONField(_("evidence"), default=dict)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "object_type", "object_id"],
                condition=Q(status=FindingStatus.OPEN),
                name="one_open_finding_per_rule_and_object",
            ),
        ]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self) -> str:
        return f"{self.rule} {self.object_id}"
