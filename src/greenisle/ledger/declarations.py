"""Declarations (申报, HJ 1259-2022 §7) prepared from the ledger, reviewed, confirmed and submitted by
the producer or, on its behalf, by its collector (§7.1.3).

A draft follows the ledger: every time it is prepared its figures are computed again. Confirming
and submitting freeze it: the content is stored as it was shown, the receipt number issued, and
from then on a manual ledger entry dated in the period is refused (corrections are dated today).

Content (``Declaration.content``)::

    {"unit": {name, uscc, site, address, division, industry, management_class},
     "period": {kind, label, label_zh, start, end, due_on},
     "rows": [DeclarationRow.as_dict() …],     # Appendix C, one per waste code
     "totals": {generated_t, received_t, own_t, outsourced_t, opening_t, closing_t},
     "records": n}                              # ledger records the figures come from
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from greenisle.accounts.permissions import acting_for, membership_of
from greenisle.audit.services import transition_apply
from greenisle.core.counters import counter_next
from greenisle.core.errors import NotFound, PermissionDenied, ServiceError
from greenisle.ledger import core
from greenisle.ledger.models import Declaration, DeclarationSerial, DeclarationStatus, LedgerRecord
from greenisle.ledger.transitions import DECLARATION_TRANSITIONS
from greenisle.organizations.models import ServiceContract, Site

PRODUCER_ROLES = {"admin", "clerk"}
ON_BEHALF_ROLES = {"admin", "clerk", "dispatcher"}


def site_class(site: Any, year: int) -> str:
    """The site's management class: the bureau's or the computed one, else its plan's, else registration."""
    from greenisle.plans.models import IN_FORCE, ManagementPlan, SiteClassification

    classification = SiteClassification.objects.filter(site=site).first()
    if classification is not None and (classification.override_class or classification.computed_class):
        return classification.effective_class
    plan = ManagementPlan.objects.filter(site=site, year=year, status__in=IN_FORCE).first()
    if plan is not None:
        return plan.management_class
    return "registration"


def _catalogue(site: Any, codes: set[str], year: int) -> dict[str, core.WasteInfo]:
    from greenisle.catalog.models import WasteCode
    from greenisle.plans.models import PlanWaste

    planned = {
        w.waste_code.code: w
        for w in PlanWaste.objects.filter(plan__site=site, plan__year=year)
        .select_related("waste_code")
        .order_by("plan__revision")
    }
    info: dict[str, core.WasteInfo] = {}
    for code in WasteCode.objects.filter(code__in=codes).select_related("category").order_by("edition_id"):
        row = planned.get(code.code)
        info[code.code] = core.WasteInfo(
            name=code.short_name,
            category=code.category.code,
            characteristics=code.hazard_characteristics,
            hazardous_constituents=row.hazardous_constituents if row else "",
            form=row.form if row else "",
            internal_name=row.internal_name if row else "",
        )
    return info


def declaration_figures(site: Any, period: core.Period) -> tuple[list[core.DeclarationRow], int]:
    """Appendix C rows for ``site`` over ``period`` from its ledger, and the number of records used."""
    end = timezone.make_aware(dt.datetime.combine(period.end, dt.time.min))
    records = LedgerRecord.objects.filter(
        site=site, organization_id=site.organization_id, occurred_at__lt=end
    ).values_list(
        "record_type",
        "waste_code__code",
        "weight_kg",
        "stock_effect",
        "occurred_at",
        "method",
        "province",
        "destination",
        "licence_number",
    )
    entries = [
        core.Entry(
            record_type=rt,
            waste_code=code,
            weight_kg=kg,
            effect=effect,
            day=timezone.localtime(at).date(),
            method=method,
            province=province,
            receiver=receiver,
            licence_number=licence,
        )
        for rt, code, kg, effect, at, method, province, receiver, licence in records
    ]
    catalogue = _catalogue(site, {e.waste_code for e in entries}, period.start.year)
    return core.declaration_rows(entries, period, catalogue), len(entries)


def declaration_content(site: Any, period: core.Period, management_class: str) -> dict[str, Any]:
    rows, count = declaration_figures(site, period)
    org = site.organization
    zero = Decimal("0.000")
    return {
        "unit": {
            "name": org.name,
            "uscc": org.uscc,
            "site": site.name,
            "address": site.address,
            "division": site.division_id,
            "industry": org.industry,
            "management_class": management_class,
        },
        "period": {
            "kind": period.kind,
            "label": period.label,
            "label_zh": period.label_zh,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "due_on": period.due_on.isoformat(),
        },
        "rows": [r.as_dict() for r in rows],
        "totals": {
            "generated_t": str(sum((r.generated_t for r in rows), zero)),
            "received_t": str(sum((r.received_t for r in rows), zero)),
            "own_t": str(sum((r.own_t for r in rows), zero)),
            "outsourced_t": str(sum((r.outsourced_t for r in rows), zero)),
            "opening_t": str(sum((r.opening_t for r in rows), zero)),
            "closing_t": str(sum((r.closing_t for r in rows), zero)),
        },
        "records": count,
    }


def declaration_prepare(*, site: Any, period: core.Period, now: dt.datetime | None = None) -> Declaration:
    """Create or refresh the draft declaration of ``site`` for ``period`` (a submitted one is returned
    as it is). Preparing writes no audit event: a draft is a view of the ledger, not a filing."""
    now = now or timezone.now()
    klass = site_class(site, period.start.year)
    existing = Declaration.objects.filter(site=site, kind=period.kind, period_start=period.start).first()
    if existing is not None and existing.status != DeclarationStatus.DRAFT:
        return existing
    content = declaration_content(site, period, klass)
    if existing is not None:
        Declaration.objects.filter(pk=existing.pk, status=DeclarationStatus.DRAFT).update(
            content=content, generated_at=now, management_class=klass, updated_at=now
        )
        existing.refresh_from_db()
        return existing
    try:
        with transaction.atomic():
            return Declaration.objects.create(
                organization_id=site.organization_id,
                site=site,
                kind=period.kind,
                period_start=period.start,
                period_end=period.end,
                label=period.label,
                due_on=period.due_on,
                management_class=klass,
                content=content,
                generated_at=now,
            )
    except IntegrityError:  # prepared concurrently
        return Declaration.objects.get(site=site, kind=period.kind, period_start=period.start)


def declarations_owed(site: Any, today: dt.date, *, since: dt.date | None = None) -> list[core.Period]:
    """The closed periods ``site`` declares for (§7.2), from ``since`` (default: the start of last year)."""
    klass = site_class(site, today.year)
    since = since or dt.date(today.year - 1, 1, 1)
    return core.periods_due(klass, today, since=since)


def declarer_role(actor: Any, site: Any) -> tuple[str, Any]:
    """'producer' for the producer's admin or clerk, 'collector' for its collector's staff when the
    collector holds a business licence (HJ 1259 §7.1.3: a licence holder may declare on its behalf)."""
    from greenisle.ledger.events import business_licence

    membership = membership_of(actor)
    role = acting_for(
        membership,
        site.organization_id,
        own_roles=PRODUCER_ROLES,
        collector_roles=ON_BEHALF_ROLES,
        what="申报",
    )
    if role == "collector" and business_licence(membership.organization, timezone.localdate()) is None:
        raise PermissionDenied(
            "代为申报须持有有效经营许可证 / declaring for a client needs a business licence in force (HJ 1259 §7.1.3)"
        )
    return role, membership


def _lock(declaration_id: Any) -> Declaration:
    declaration = (
        Declaration.objects.select_for_update(of=("self",))
        .select_related("site", "organization")
        .filter(pk=declaration_id)
        .first()
    )
    if declaration is None:
        raise NotFound("申报不存在 / no such declaration", field="declaration_id")
    return declaration


def _receipt_number(declaration: Declaration, today: dt.date) -> str:
    division = declaration.site.division_id
    serial = counter_next(DeclarationSerial, division_code=division, year=today.year)
    return f"SB{division}{today.year}{serial:06d}"


@transaction.atomic
def declaration_submit(*, actor: Any, declaration_id: Any, figures_seen: str = "") -> Declaration:
    """Confirm and submit a prepared declaration in one step (two transitions, two audit events). The
    figures are recomputed first; ``figures_seen`` (the totals the person reviewed, as returned by
    :func:`figures_fingerprint`) must match them, so nobody submits figures they did not see."""
    declaration = _lock(declaration_id)
    role, membership = declarer_role(actor, declaration.site)
    today = timezone.localdate()
    if declaration.period_end > today:
        raise ServiceError(
            f"{declaration.label} 尚未结束，不能申报 / the period has not ended", field="declaration_id"
        )
    if declaration.status == DeclarationStatus.DRAFT:
        period = core.period_of(declaration.kind, declaration.period_start)
        content = declaration_content(declaration.site, period, declaration.management_class)
        if figures_seen and figures_seen != fingerprint(content):
            raise ServiceError(
                "台账在您查看后已变化，请重新核对 / the ledger changed since you reviewed it; review again",
                field="figures_seen",
                code="figures_changed",
            )
        declaration.content = content
        declaration.save(update_fields=["content", "updated_at"])
        now = timezone.now()
        transition_apply(
            table=DECLARATION_TRANSITIONS,
            obj=declaration,
            target=DeclarationStatus.CONFIRMED,
            role=role,
            actor=actor,
            organization=membership.organization,
            subject_organization=declaration.organization,
            division_code=declaration.site.division_id,
            payload={"label": declaration.label, "totals": content["totals"]},
            extra_fields={"confirmed_at": now, "confirmed_by": actor},
        )
    now = timezone.now()
    number = _receipt_number(declaration, today)
    transition_apply(
        table=DECLARATION_TRANSITIONS,
        obj=declaration,
        target=DeclarationStatus.SUBMITTED,
        role=role,
        actor=actor,
        organization=membership.organization,
        subject_organization=declaration.organization,
        division_code=declaration.site.division_id,
        payload={
            "label": declaration.label,
            "receipt_number": number,
            "on_behalf": role == "collector",
            "fingerprint": fingerprint(declaration.content),
        },
        extra_fields={
            "submitted_at": now,
            "submitted_by": actor,
            "receipt_number": number,
            "filed_by_organization": membership.organization if role == "collector" else None,
        },
    )
    return declaration


def fingerprint(content: dict[str, Any]) -> str:
    """A short digest of a declaration's figures: what the reviewer saw."""
    body = json.dumps({"rows": content.get("rows"), "totals": content.get("totals")}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def declaration_for(actor: Any, declaration_id: Any) -> Declaration:
    declaration = (
        Declaration.objects.visible_to(actor)
        .select_related("site", "organization")
        .filter(pk=declaration_id)
        .first()
    )
    if declaration is None:
        raise NotFound("申报不存在 / no such declaration", field="declaration_id")
    return declaration


def sites_declaring(collector: Any) -> Any:
    """The sites of a collector's clients (for filing on their behalf)."""
    clients = ServiceContract.objects.active().filter(collector=collector).values("producer_id")
    return Site.objects.filter(Q(organization_id__in=clients)).select_related("organization", "division")
