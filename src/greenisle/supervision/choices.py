from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Severity(models.TextChoices):
    A = "A", _("A (serious)")
    B = "B", _("B (significant)")
    C = "C", _("C (minor)")


class FindingStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("finding status", "Open")
    ASSIGNED = "assigned", pgettext_lazy("finding status", "Assigned")
    RECTIFICATION_SUBMITTED = (
        "rectification_submitted",
        pgettext_lazy("finding status", "Rectification submitted"),
    )
    VERIFIED = "verified", pgettext_lazy("finding status", "Verified")
    CLOSED = "closed", pgettext_lazy("finding status", "Closed")
    DISMISSED = "dismissed", pgettext_lazy("finding status", "Dismissed")


# A finding in one of these is still being followed up: a rule raises at most one per object.
ACTIVE_STATUSES = (
    FindingStatus.OPEN,
    FindingStatus.ASSIGNED,
    FindingStatus.RECTIFICATION_SUBMITTED,
    FindingStatus.VERIFIED,
)
TERMINAL_STATUSES = (FindingStatus.CLOSED, FindingStatus.DISMISSED)
# The owner still has to act: reminders before the deadline, overdue after it.
AWAITING_RECTIFICATION = (FindingStatus.OPEN, FindingStatus.ASSIGNED)
