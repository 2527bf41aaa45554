"""A site's management class (HJ 1259-2022 §4.2): computed from its ledger and its facts, or set by
the city's bureau."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.accounts.permissions import membership_of
from greenisle.audit.services import event_record
from greenisle.core.errors import NotFound, PermissionDenied, ServiceError
from greenisle.ledger import core as ledger_core
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.organizations.models import Site
from greenisle.plans import core
from greenisle.plans.models import (
    ManagementClass,
    SiteClassification,
)

REGULATOR_ROLES = {"admin", "inspector"}


def site_or_404(site_id: Any) -> Site:
    site = Site.objects.select_related("organization", "division").filter(pk=site_id).first()
    if site is None:
        raise NotFound("场所不存在 / no such site", field="site_id")
    return site


def yearly_generation_t(site: Any) -> dict[int, Decimal]:
    """Tonnes the ledger says the site generated each calendar year (Beijing time)."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    rows = LedgerRecord.objects.filter(
        site=site, organization_id=site.organization_id, record_type=RecordType.PRODUCTION
    ).values_list("occurred_at", "weight_kg")
    for at, kg in rows:
        totals[timezone.localtime(at).year] += kg
    return {year: ledger_core.tonnes(kg) for year, kg in totals.items()}


def holds_business_licence(organization: Any, day: dt.date) -> bool:
    from greenisle.ledger.events import business_licence

    return business_licence(organization, day) is not None


def _compute(site: Any, classification: SiteClassification, year: int) -> tuple[str, Decimal, str]:
    """§4.2.1 and §4.2.3 for ``year``: (class, annual tonnes, basis)."""
    amount, basis = core.annual_amount(
        yearly_generation_t(site),
        year=year,
        operating_since=classification.operating_since,
        assessed_t=classification.assessed_t,
    )
    result = core.management_class(
        annual_t=amount,
        own_facility=classification.own_facility,
        licence_holder=holds_business_licence(site.organization, dt.date(year, 1, 1)),
    )
    return result.management_class, amount, f"{result.reason}; {basis}"[:200]


def site_class_now(site: Any, year: int) -> SiteClassification:
    """The site's classification as the ledger makes it today, without writing it (for pages)."""
    classification = SiteClassification.objects.filter(site=site).first() or SiteClassification(site=site)
    computed, amount, basis = _compute(site, classification, year)
    classification.computed_class, classification.annual_t, classification.basis = computed, amount, basis
    return classification


@transaction.atomic
def site_classify(*, site_id: Any, year: int | None = None) -> SiteClassification:
    """§4.2.1 and §4.2.3: compute the site's class for ``year`` from its ledger and its facts and keep
    it. A class set by the bureau (§4.2.2) stays in force; the computed one is kept beside it."""
    site = site_or_404(site_id)
    year = year or timezone.localdate().year
    classification, _created = SiteClassification.objects.select_for_update().get_or_create(site=site)
    computed, amount, basis = _compute(site, classification, year)
    changed = (classification.computed_class, classification.annual_t) != (computed, amount)
    classification.computed_class, classification.annual_t, classification.basis = computed, amount, basis
    classification.save()
    if changed:
        event_record(
            action="plans.classification.computed",
            obj=classification,
            actor=None,
            organization=None,
            subject_organization=site.organization,
            division_code=site.division_id,
            payload={
                "class": computed,
                "annual_t": str(amount),
                "basis": classification.basis,
            },
        )
    return classification


@transaction.atomic
def site_class_override(
    *, actor: Any, site_id: Any, management_class: str, reason: str
) -> SiteClassification:
    """§4.2.2: the city's bureau may set a site's class. An empty class removes the override."""
    membership = membership_of(actor)
    site = site_or_404(site_id)
    require_regulator(membership, site)
    if management_class and management_class not in ManagementClass.values:
        raise ServiceError(f"管理类别须为 {ManagementClass.values} / unknown class", field="management_class")
    reason = (reason or "").strip()
    if management_class and not reason:
        raise ServiceError("须说明原因 / a reason is required", field="reason")
    classification, _created = SiteClassification.objects.select_for_update().get_or_create(site=site)
    classification.override_class = management_class
    classification.override_reason = reason[:300]
    classification.overridden_by = actor
    classification.overridden_at = timezone.now()
    classification.save()
    event_record(
        action="plans.classification.overridden",
        obj=classification,
        actor=actor,
        organization=membership.organization,
        subject_organization=site.organization,
        division_code=site.division_id,
        payload={"class": management_class, "reason": reason},
    )
    return classification


def require_regulator(membership: Any, site: Any) -> None:
    from greenisle.organizations.identifiers import division_prefix

    org = membership.organization
    if org.kind != "regulator" or membership.role not in REGULATOR_ROLES:
        raise PermissionDenied("只有生态环境部门可以审核 / only the bureau reviews")
    if not site.division_id.startswith(division_prefix(org.division_id)):
        raise PermissionDenied("该场所不在您的辖区 / the site is outside your division")
