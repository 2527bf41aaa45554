"""Standardised-management assessments (规范化环境管理评估): one per organisation and year, an item per
indicator of its checklist (``checklists.py``) with the platform's suggested score and the evidence
behind it, the scores of each stage (self-assessment, district review, city spot check), the files
uploaded as evidence, and the published lists of benchmark enterprises (标杆企业)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils.translation import gettext_lazy as _

from greenisle.assessment.choices import AssessmentKind, AssessmentResult, AssessmentStatus, Stage
from greenisle.core.models import PublicModel, TimeStampedModel
from greenisle.organizations.visibility import VisibleQuerySet


def attachment_storage() -> FileSystemStorage:
    """Uploads live under VAR_DIR/uploads and are served only through a view that checks who asks
    (no MEDIA_URL: the settings have none, and evidence is not public)."""
    return FileSystemStorage(location=Path(settings.VAR_DIR) / "uploads", base_url=None)


def attachment_path(instance: Attachment, filename: str) -> str:
    suffix = Path(filename).suffix.lower()[:8]
    return f"assessment/{instance.assessment_id}/{uuid.uuid4().hex}{suffix}"


class AssessmentQuerySet(VisibleQuerySet):
    producer_path = "organization_id"
    collector_path = "organization_id"
    facility_path = "organization_id"
    division_path = "division_code"


class Assessment(PublicModel):
    """One organisation's assessment for one year: its status in the flow, who acted at each stage,
    and the result of the latest stage's scores."""

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="assessments"
    )
    division_code = models.CharField(_("division code"), max_length=6, db_index=True)
    year = models.PositiveIntegerField(_("year"))
    kind = models.CharField(_("checklist"), max_length=20, choices=AssessmentKind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_by_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    evidence_at = models.DateTimeField(_("evidence gathered at"), null=True, blank=True)

    self_submitted_at = models.DateTimeField(_("self-assessment submitted at"), null=True, blank=True)
    self_submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The collector that assessed for its small client, when it did.
    self_submitted_by_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    district_reviewed_at = models.DateTimeField(_("district review at"), null=True, blank=True)
    district_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    district_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    district_note = models.CharField(_("district review note"), max_length=500, blank=True)
    city_checked_at = models.DateTimeField(_("city spot check at"), null=True, blank=True)
    city_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    city_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    city_note = models.CharField(_("city spot check note"), max_length=500, blank=True)
    finalised_at = models.DateTimeField(_("final at"), null=True, blank=True)
    finalised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    return_reason = models.CharField(_("reason for returning"), max_length=500, blank=True)

    # The latest stage's outcome (checklists.outcome), and each stage's for the history.
    result_stage = models.CharField(
        _("stage of the result"), max_length=10, choices=Stage.choices, blank=True
    )
    score_total = models.PositiveIntegerField(_("score"), null=True, blank=True)
    score_max = models.PositiveIntegerField(_("maximum score"), null=True, blank=True)
    score_pct = models.DecimalField(_("score (%)"), max_digits=4, decimal_places=1, null=True, blank=True)
    result = models.CharField(_("result"), max_length=10, choices=AssessmentResult.choices, blank=True)
    stage_outcomes = models.JSONField(_("outcome per stage"), default=dict, blank=True)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "organization"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "year"], name="one_assessment_per_org_year"),
        ]
        indexes = [models.Index(fields=["year", "status", "result"], name="assessment_year_status")]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")

    def __str__(self) -> str:
        return f"{self.organization} {self.year}"


class AssessmentItem(TimeStampedModel):
    """One indicator of an assessment: the platform's suggestion and its facts, then each stage's score
    and note (the reason when it differs from the suggestion or the stage before)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(_("item"), max_length=40)
    position = models.PositiveSmallIntegerField(default=0)
    suggested_score = models.PositiveSmallIntegerField(_("suggested score"), null=True, blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    self_score = models.PositiveSmallIntegerField(_("self score"), null=True, blank=True)
    self_note = models.CharField(_("self-assessment note"), max_length=500, blank=True)
    district_score = models.PositiveSmallIntegerField(_("district score"), null=True, blank=True)
    district_note = models.CharField(_("district note"), max_length=500, blank=True)
    city_score = models.PositiveSmallIntegerField(_("city score"), null=True, blank=True)
    city_note = models.CharField(_("city note"), max_length=500, blank=True)

    class Meta:
        ordering = ["assessment", "position"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "code"], name="one_item_per_code"),
            models.CheckConstraint(
                condition=models.Q(self_score__lte=2) | models.Q(self_score__isnull=True),
                name="assessment_self_score_range",
            ),
            models.CheckConstraint(
                condition=models.Q(district_score__lte=2) | models.Q(district_score__isnull=True),
                name="assessment_district_score_range",
            ),
            models.CheckConstraint(
                condition=models.Q(city_score__lte=2) | models.Q(city_score__isnull=True),
                name="assessment_city_score_range",
            ),
        ]
        verbose_name = _("assessment item")
        verbose_name_plural = _("assessment items")

    def __str__(self) -> str:
        return f"{self.assessment} · {self.code}"

    def score_at(self, stage: str) -> int | None:
        value: int | None = getattr(self, f"{stage}_score")
        return value


class Attachment(PublicModel):
    """A document or photo uploaded as evidence for an item (or the whole assessment), at a stage."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="attachments")
    item_code = models.CharField(_("item"), max_length=40, blank=True)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, default=Stage.SELF)
    file = models.FileField(_("file"), storage=attachment_storage, upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=60)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    note = models.CharField(_("note"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_by_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["assessment", "created_at"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class BenchmarkList(PublicModel):
    """A published list of benchmark enterprises (标杆企业): the best-assessed per industry of one year
    in the bureau's area, frozen as published so that the list the bureau promotes stays as it was."""

    year = models.PositiveIntegerField(_("year"))
    division_code = models.CharField(_("area"), max_length=6)
    per_industry = models.PositiveSmallIntegerField(_("per industry"))
    entries = models.JSONField(_("entries"), default=list)
    note = models.CharField(_("note"), max_length=500, blank=True)
    published_at = models.DateTimeField(_("published at"))
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    published_by_organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-published_at"]
        verbose_name = _("benchmark list")
        verbose_name_plural = _("benchmark lists")

    def __str__(self) -> str:
        return f"{self.division_code} {self.year} ({self.published_at:%Y-%m-%d})"

    @property
    def industries(self) -> list[dict[str, Any]]:
        """The entries grouped by industry, in the order published."""
        groups: dict[str, dict[str, Any]] = {}
        for entry in self.entries:
            key = str(entry.get("industry_key", ""))
            group = groups.setdefault(key, {"name": entry.get("industry", ""), "entries": []})
            group["entries"].append(entry)
        return list(groups.values())
