from django.db import models
from django.utils.translation import gettext_lazy as _


class RequestStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ASSIGNED = "assigned", _("Assigned")
    COLLECTED = "collected", _("Collected")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


# While a request is in one of these, its bin gets no second request (exactly one per fill cycle).
BLOCKING_STATUSES = [RequestStatus.OPEN, RequestStatus.ASSIGNED, RequestStatus.COLLECTED]


class RequestOrigin(models.TextChoices):
    THRESHOLD = "threshold", _("Bin threshold")
    PRODUCER = "producer", _("Producer request")
    FORECAST = "forecast", _("Predicted to fill")


class TripStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")


class PlanStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SOLVING = "solving", _("Planning")
    READY = "ready", _("Ready for review")
    PUBLISHED = "published", _("Published")
    FAILED = "failed", _("Failed")
    SUPERSEDED = "superseded", _("Superseded")
