from django.db import models
from django.utils.translation import gettext_lazy as _


class ManifestStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PRODUCER_SIGNED = "producer_signed", _("Signed by producer")
    IN_TRANSIT = "in_transit", _("In transit")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class SignatureMethod(models.TextChoices):
    SESSION = "session", _("Signed while logged in")
    CODE = "code", _("Signature code on the driver's phone")
    DELEGATED = "delegated", _("Signed by the collector under delegation")


class LineDecision(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    PARTLY_ACCEPTED = "partly_accepted", _("Partly accepted")
    REJECTED = "rejected", _("Rejected")
