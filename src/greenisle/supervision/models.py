"""Findings: a rule broken, raised automatically, for the regulator to follow up.

Each finding names its rule (a stable code registered in ``rules.py`` with the regulation it
enforces), a severity grade, the organisation concerned and the object that is its evidence. A rule
raises at most one finding per object while one is being followed up (open, assigned, rectification
submitted or verified); once closed, the same breach raised again is a repeat finding linked to the
earlier one.

Lifecycle (``transitions.py``): open → assigned (the bureau names an inspector) → rectification
submitted (by the owner organisation, or its collector for a small producer) → verified (or sent back
to assigned) → closed; the bureau may dismiss a finding, with its reason, before it is verified.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import PublicModel
from greenisle.organizations.visibility import Scope, VisibleQuerySet
from greenisle.supervision.choices import ACTIVE_STATUSES, FindingStatus, Severity

__all__ = ["Finding", "FindingQuerySet", "FindingStatus", "Severity"]


class FindingQuerySet(VisibleQuerySet):
    producer_path = "organization_id"
    collector_path = "organization_id"
    facility_path = "organization_id"
    carrier_path = "organization_id"
    division_path = "division_code"

    @classmethod
    def visibility_q(cls, scope: Scope) -> Q:
        # The organisation that must rectify sees the finding even when it is not the one concerned.
        q = super().visibility_q(scope)
        if scope.kind != "regulator":
            q |= Q(owner_organization_id=scope.organization_id)
        return q

    def active(self) -> FindingQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)


class Finding(PublicModel):
    rule = models.CharField(_("rule"), max_length=60, db_index=True)
    severity = models.CharField(_("severity"), max_length=1, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=30, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="findings"
    )
    division_code = models.CharField(_("division code"), max_length=6, db_index=True)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    message = models.CharField(_("message"), max_length=500)
    evidence = models.JSONField(_("evidence"), default=dict)

    # Follow-up: who must rectify (the organisation concerned unless the rule says the bureau), which
    # inspector follows it and by when.
    owner_organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="findings_owned",
        verbose_name=_("owner organisation"),
    )
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="findings_assigned",
        verbose_name=_("assigned to"),
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    rectification = models.TextField(_("rectification"), blank=True)
    rectification_submitted_at = models.DateTimeField(_("rectification submitted at"), null=True, blank=True)
    rectification_submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verification_note = models.TextField(_("verification note"), blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dismissed_reason = models.TextField(_("reason for dismissal"), blank=True)
    dismissed_at = models.DateTimeField(_("dismissed at"), null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The most recent earlier finding, closed, on the same rule and object (or organisation).
    repeat_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="repeats",
        verbose_name=_("repeat of"),
    )
    # Set by the reminder sweep, so that each is sent once per deadline.
    reminder_sent_at = models.DateTimeField(_("reminder sent at"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("overdue since"), null=True, blank=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "object_type", "object_id"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="one_active_finding_per_rule_and_object",
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"], name="finding_status_deadline")]
        verbose_name = _("finding")
        verbose_name_plural = _("findings")

    def __str__(self) -> str:
        return f"{self.rule} {self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.owner_organization_id is None:
            self.owner_organization_id = self.organization_id
        super().save(*args, **kwargs)
