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


class WebhookSubscription(TimeStampedModel):
    """An organisation's endpoint for state changes of the manifests it is a party to. Payloads are
    signed with ``secret`` (HMAC-SHA256), shown once when the subscription is made."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(max_length=64)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        ordering = ["organization", "created_at"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return f"{self.organization_id} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(TimeStampedModel):
    """One audit event sent to one subscription, retried with backoff until it is acknowledged."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("audit.Event", on_delete=models.PROTECT, related_name="+")
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="uniq_delivery_per_event"),
        ]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.subscription_id} #{self.event_id} {self.status}"


class WebhookCursor(models.Model):
    """The last audit event turned into deliveries (the audit chain is the outbox)."""

    name = models.CharField(max_length=30, primary_key=True)
    last_event_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("webhook cursor")
        verbose_name_plural = _("webhook cursors")

    def __str__(self) -> str:
        return f"{self.name}: {self.last_event_id}"
