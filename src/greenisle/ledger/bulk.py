"""A collector filing for all its small clients at once (HJ 1259-2022 §7.1.3): this year's management
plans, or the declarations of one period. Runs as a background task with its progress in
:class:`~greenisle.ledger.models.BulkFiling`; each client is filed in its own transaction, so one
client's incomplete plan does not stop the others and is reported with its reason.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from greenisle.accounts.models import Membership
from greenisle.accounts.permissions import require
from greenisle.audit.services import event_record
from greenisle.core.errors import NotFound, ServiceError
from greenisle.ledger import core
from greenisle.ledger.declarations import (
    declaration_prepare,
    declaration_submit,
    site_class,
    sites_declaring,
)
from greenisle.ledger.models import BulkFiling, BulkFilingStatus, DeclarationStatus

WHAT = ("plans", "declarations")
FILING_ROLES = {"admin", "clerk", "dispatcher"}


def period_from_label(label: str) -> core.Period:
    """``2025`` (a year), ``2026-Q3`` (a quarter) or ``2026-10`` (a month)."""
    label = (label or "").strip().upper()
    kind = core.YEAR if label.isdigit() else core.QUARTER if "-Q" in label else core.MONTH
    try:
        return core.parse_period(kind, label)
    except ValueError as exc:
        raise ServiceError(
            f"申报期 {label!r} 无效（如 2025、2026-Q3、2026-10）/ {exc}", field="period"
        ) from None


@transaction.atomic
def bulk_filing_start(*, actor: Any, what: str, period_label: str = "") -> BulkFiling:
    membership = require(actor, kind="collector", roles=FILING_ROLES)
    if what not in WHAT:
        raise ServiceError(f"须为 {WHAT} / what must be one of {WHAT}", field="what")
    today = timezone.localdate()
    if what == "declarations":
        period = period_from_label(period_label)
        if period.end > today:
            raise ServiceError(f"{period.label} 尚未结束 / the period has not ended", field="period")
        label = period.label
    else:
        label = str(today.year)
    bulk = BulkFiling.objects.create(
        collector=membership.organization,
        requested_by=actor,
        what=what,
        period=label,
        total=sites_declaring(membership.organization).count(),
    )
    event_record(
        action="ledger.bulk_filing.started",
        obj=bulk,
        actor=actor,
        organization=membership.organization,
        subject_organization=membership.organization,
        division_code=membership.organization.division_id,
        payload={"what": what, "period": label, "clients": bulk.total},
    )
    bulk_id = str(bulk.pk)

    def enqueue() -> None:
        from greenisle.ledger.tasks import bulk_filing_task

        bulk_filing_task.enqueue(bulk_id)

    transaction.on_commit(enqueue)
    return bulk


def _file_plan(actor: Any, site: Any, year: int) -> bool:
    from greenisle.plans.services import plan_file, plan_in_force, plan_prepare

    if plan_in_force(site, year) is not None:
        return False
    plan = plan_prepare(actor=actor, site_id=site.pk, year=year)
    plan_file(actor=actor, plan_id=plan.pk)
    return True


def _file_declaration(actor: Any, site: Any, period: core.Period) -> bool:
    if period.kind not in core.DECLARATION_KINDS[site_class(site, period.start.year)]:
        return False  # e.g. a registration unit files no quarterly declaration
    declaration = declaration_prepare(site=site, period=period)
    if declaration.status == DeclarationStatus.SUBMITTED:
        return False
    declaration_submit(actor=actor, declaration_id=declaration.pk)
    return True


def bulk_filing_run(*, bulk_id: Any) -> BulkFiling:
    bulk = BulkFiling.objects.select_related("collector", "requested_by").filter(pk=bulk_id).first()
    if bulk is None:
        raise NotFound("批量任务不存在 / no such bulk filing", field="bulk_id")
    if bulk.status != BulkFilingStatus.QUEUED:
        return bulk
    actor = bulk.requested_by
    membership = (
        Membership.objects.select_related("organization")
        .filter(user=actor, organization=bulk.collector)
        .first()
    )
    actor.set_current_membership(membership)
    BulkFiling.objects.filter(pk=bulk.pk).update(status=BulkFilingStatus.RUNNING, updated_at=timezone.now())
    period = period_from_label(bulk.period) if bulk.what == "declarations" else None
    sites = list(sites_declaring(bulk.collector).order_by("organization__name", "name"))
    BulkFiling.objects.filter(pk=bulk.pk).update(total=len(sites))
    failures: list[dict[str, str]] = []
    for site in sites:
        try:
            with transaction.atomic():
                if period is None:
                    filed = _file_plan(actor, site, int(bulk.period))
                else:
                    filed = _file_declaration(actor, site, period)
        except ServiceError as exc:
            failures.append(
                {
                    "site": f"{site.organization.name} · {site.name}",
                    "error": exc.message,
                    "field": exc.field or "",
                }
            )
            BulkFiling.objects.filter(pk=bulk.pk).update(failures=failures, updated_at=timezone.now())
            continue
        counter = "done" if filed else "skipped"
        BulkFiling.objects.filter(pk=bulk.pk).update(**{counter: F(counter) + 1}, updated_at=timezone.now())
    BulkFiling.objects.filter(pk=bulk.pk).update(
        status=BulkFilingStatus.DONE, finished_at=timezone.now(), failures=failures, updated_at=timezone.now()
    )
    bulk.refresh_from_db()
    with transaction.atomic():
        event_record(
            action="ledger.bulk_filing.finished",
            obj=bulk,
            actor=actor,
            organization=bulk.collector,
            subject_organization=bulk.collector,
            division_code=bulk.collector.division_id,
            payload={"done": bulk.done, "skipped": bulk.skipped, "failed": len(failures)},
        )
    return bulk
