"""Messages to an organisation: what it must know or do (a discrepancy on its waste, a deadline)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.core.models import TimeStampedModel
from greenisle.organizations.visibility import VisibleQuerySet


class NotificationQuerySet(VisibleQuerySet):
    producer_path = "organization_id"
    collector_path = "organization_id"
    facility_path = "organization_id"
    carrier_path = "organization_id"


class Notification(TimeStampedModel):
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="notifications"
    )
    # A stable code (e.g. ``manifest.discrepancy``), the message as written for people, and the object.
    kind = models.CharField(_("kind"), max_length=60)
    message = models.CharField(_("message"), max_length=500)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    # Sending the same reminder twice would be noise: (organisation, key) is unique.
    key = models.CharField(max_length=200)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="uniq_notification_key"),
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"
