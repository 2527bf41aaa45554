"""The append-only, hash-linked event log (全过程留痕)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class EventQuerySet(models.QuerySet["Event"]):
    def visible_to(self, user: Any) -> EventQuerySet:
        from greenisle.organizations.visibility import scope_for

        scope = scope_for(user)
        if scope is None:
            return self.none()
        if scope.kind == "regulator":
            return self.filter(division_code__startswith=scope.division_prefix)
        orgs = scope.visible_org_ids()
        return self.filter(Q(organization_id__in=orgs) | Q(subject_organization_id__in=orgs))


class Event(models.Model):
    """One state change: who, in which organisation, did what to which object, hash-linked."""

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        help_text="The organisation the actor acted for.",
    )
    subject_organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events_about",
        help_text="The organisation that owns the object (the producer for a bin or manifest).",
    )
    division_code = models.CharField(max_length=6, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"#{self.id} {self.action} {self.object_type}:{self.object_id}"

    def chain_fields(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at.isoformat(),
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "organization_id": str(self.organization_id) if self.organization_id else None,
            "subject_organization_id": str(self.subject_organization_id)
            if self.subject_organization_id
            else None,
            "division_code": self.division_code,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "payload": self.payload,
        }
