from django.db import models
from django.utils.translation import gettext_lazy as _


class AssessmentKind(models.TextChoices):
    PRODUCER = "producer", _("Producer checklist")
    COLLECTOR = "collector", _("Collector checklist")


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", _("Self-assessment in progress")
    SELF_SUBMITTED = "self_submitted", _("Self-assessment submitted")
    DISTRICT_REVIEWED = "district_reviewed", _("Reviewed by the district bureau")
    CITY_CHECKED = "city_checked", _("Spot-checked by the city bureau")
    FINAL = "final", _("Final")
    RETURNED = "returned", _("Returned to the enterprise")


class AssessmentResult(models.TextChoices):
    PASS = "pass", _("Meets the standard")
    BASIC = "basic", _("Largely meets the standard")
    FAIL = "fail", _("Does not meet the standard")


class Stage(models.TextChoices):
    SELF = "self", _("Self-assessment")
    DISTRICT = "district", _("District review")
    CITY = "city", _("City spot check")


# The enterprise (or its collector) still edits the self-assessment in these states.
EDITABLE = (AssessmentStatus.DRAFT, AssessmentStatus.RETURNED)
