"""国家危险废物名录 as data: editions, HW categories, waste codes, exemptions."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

WASTE_CODE_RE = re.compile(r"^\d{3}-\d{3}-\d{2}$")
HAZARD_TOKENS = {"T", "C", "I", "R", "In"}


def validate_waste_code(value: str) -> None:
    if not WASTE_CODE_RE.match(value or ""):
        raise ValidationError(_("Waste code must look like NNN-NNN-NN."), code="invalid_waste_code")


class Edition(models.Model):
    """One edition of the catalogue (2021, 2025 …). Exactly one is current."""

    code = models.CharField(_("edition"), max_length=10, primary_key=True)
    title = models.CharField(_("title"), max_length=200)
    in_force_from = models.DateField(_("in force from"))
    is_current = models.BooleanField(_("current"), default=False)

    class Meta:
        ordering = ["-in_force_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=models.Q(is_current=True), name="one_current_edition"
            )
        ]
        verbose_name = _("catalogue edition")
        verbose_name_plural = _("catalogue editions")

    def __str__(self) -> str:
        return self.title


class HazardCategory(models.Model):
    """HW01–HW50."""

    edition = models.ForeignKey(Edition, on_delete=models.CASCADE, related_name="categories")
    code = models.CharField(_("category"), max_length=4)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["edition", "code"]
        constraints = [models.UniqueConstraint(fields=["edition", "code"], name="uniq_category_per_edition")]
        verbose_name = _("hazard category")
        verbose_name_plural = _("hazard categories")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class WasteCodeQuerySet(models.QuerySet["WasteCode"]):
    def current(self) -> WasteCodeQuerySet:
        return self.filter(edition__is_current=True)


class WasteCode(models.Model):
    """One entry of the 名录: code NNN-NNN-NN (industry, serial, category) with its hazard characteristics."""

    edition = models.ForeignKey(Edition, on_delete=models.CASCADE, related_name="waste_codes")
    category = models.ForeignKey(HazardCategory, on_delete=models.CASCADE, related_name="waste_codes")
    seq = models.PositiveIntegerField()
    industry_code = models.CharField(_("industry code"), max_length=3)
    industry_source = models.CharField(_("industry"), max_length=100)
    code = models.CharField(_("waste code"), max_length=10, validators=[validate_waste_code], db_index=True)
    name = models.TextField(_("waste name"))
    hazard_characteristics = models.CharField(_("hazard characteristics"), max_length=20)

    objects = WasteCodeQuerySet.as_manager()

    class Meta:
        ordering = ["edition", "seq"]
        constraints = [models.UniqueConstraint(fields=["edition", "code"], name="uniq_code_per_edition")]
        verbose_name = _("waste code")
        verbose_name_plural = _("waste codes")

    def __str__(self) -> str:
        return f"{self.code} {self.short_name}"

    @property
    def short_name(self) -> str:
        return self.name if len(self.name) <= 24 else self.name[:23] + "…"

    @property
    def hazard_set(self) -> set[str]:
        return set(re.split(r"[,/，、]", self.hazard_characteristics)) & HAZARD_TOKENS


class ExemptionStage(models.TextChoices):
    ALL = "all", _("Whole process")
    COLLECTION = "collection", _("Collection")
    TRANSPORT = "transport", _("Transport")
    STORAGE = "storage", _("Storage")
    UTILISATION = "utilisation", _("Utilisation")
    DISPOSAL = "disposal", _("Disposal")


class Exemption(models.Model):
    """An entry of the 危险废物豁免管理清单: switches requirements off for the named stages only."""

    edition = models.ForeignKey(Edition, on_delete=models.CASCADE, related_name="exemptions")
    seq = models.PositiveIntegerField(_("entry"))
    waste_name = models.TextField(_("waste name"))
    category_text = models.CharField(_("category / code"), max_length=200, blank=True)
    waste_codes = models.ManyToManyField(WasteCode, related_name="exemptions", blank=True)
    stages = models.JSONField(_("exempt stages"), default=list)
    condition = models.TextField(_("condition"), blank=True)
    exempt_content = models.TextField(_("what is exempt"), blank=True)

    class Meta:
        ordering = ["edition", "seq"]
        constraints = [models.UniqueConstraint(fields=["edition", "seq"], name="uniq_exemption_per_edition")]
        verbose_name = _("exemption")
        verbose_name_plural = _("exemptions")

    def __str__(self) -> str:
        return f"#{self.seq} {self.waste_name[:30]}"

    def exempts(self, stage: str) -> bool:
        return ExemptionStage.ALL in self.stages or stage in self.stages
