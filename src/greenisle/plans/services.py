"""Management class and plans (HJ 1259-2022 §4.2, §5): classify a site, prepare its plan from the
registry and last year's ledger, file it (producer or its collector), review it (the bureau), amend it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.accounts.permissions import acting_for, membership_of
from greenisle.audit.services import event_record, transition_apply
from greenisle.catalog.models import WasteCode
from greenisle.core.counters import counter_next
from greenisle.core.errors import Conflict, NotFound, ServiceError
from greenisle.organizations.models import Organization
from greenisle.plans import core
from greenisle.plans.classification import require_regulator, site_classify, site_or_404
from greenisle.plans.models import (
    IN_FORCE,
    ManagementPlan,
    PlanSerial,
    PlanStatus,
    PlanWaste,
    TransferType,
)
from greenisle.plans.prefill import basic_from_registry, wastes_from_history
from greenisle.plans.transitions import PLAN_TRANSITIONS

FILER_ROLES = {"admin", "clerk"}
COLLECTOR_FILER_ROLES = {"admin", "clerk", "dispatcher"}
EDITABLE = (PlanStatus.DRAFT, PlanStatus.RETURNED)


def filer_role(membership: Any, site: Any) -> str:
    """'producer' for the site's own admin or clerk; 'collector' for its collector's staff."""
    return acting_for(
        membership,
        site.organization_id,
        own_roles=FILER_ROLES,
        collector_roles=COLLECTOR_FILER_ROLES,
        what="备案",
    )


def plan_in_force(site: Any, year: int) -> ManagementPlan | None:
    return ManagementPlan.objects.filter(site=site, year=year, status__in=IN_FORCE).first()


@transaction.atomic
def plan_prepare(*, actor: Any, site_id: Any, year: int) -> ManagementPlan:
    """The site's plan for ``year`` to work on: the draft or returned revision if there is one, else a
    new draft pre-filled from the registry and last year's ledger (§5.4, §5.5)."""
    site = site_or_404(site_id)
    membership = membership_of(actor)
    filer_role(membership, site)
    today = timezone.localdate()
    if not today.year - 1 <= year <= today.year + 1:
        raise ServiceError(
            "只能编制上年、本年或下年的计划 / plans for last, this or next year only", field="year"
        )
    latest = ManagementPlan.objects.filter(site=site, year=year).order_by("-revision").first()
    if latest is not None and latest.status in EDITABLE:
        return latest
    if latest is not None:
        raise Conflict(
            f"{year} 年计划已备案，如需调整请变更 / the {year} plan is filed: amend it instead", field="year"
        )
    classification = site_classify(site_id=site.pk, year=year)
    plan = ManagementPlan.objects.create(
        site=site, year=year, management_class=classification.effective_class, basic=basic_from_registry(site)
    )
    for row in wastes_from_history(site, year):
        _waste_row_save(plan, row, index=None)
    event_record(
        action="plans.plan.prepared",
        obj=plan,
        actor=actor,
        organization=membership.organization,
        subject_organization=site.organization,
        division_code=site.division_id,
        payload={"year": year, "class": plan.management_class, "wastes": plan.wastes.count()},
    )
    return plan


def _decimal(value: Any, field: str, *, allow_none: bool = False) -> Decimal | None:
    if value in (None, "") and allow_none:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ServiceError(f"{field} 须为数字 / must be a number", field=field) from None
    if not number.is_finite() or number < 0 or number > Decimal("1000000"):
        raise ServiceError(f"{field} 须在 0–1000000 之间 / out of range", field=field)
    return number.quantize(Decimal("0.001"))


def _waste_row_save(plan: ManagementPlan, row: dict[str, Any], index: int | None) -> PlanWaste:
    where = f"wastes[{index}]" if index is not None else "wastes"
    code = WasteCode.objects.current().filter(code=str(row.get("waste_code") or "").strip()).first()
    if code is None:
        raise ServiceError(
            "废物代码不在现行名录中 / waste code not in the catalogue", field=f"{where}.waste_code"
        )
    transfer_type = row.get("transfer_type") or TransferType.IN_PROVINCE
    if transfer_type not in TransferType.values:
        raise ServiceError(f"转移类型须为 {TransferType.values}", field=f"{where}.transfer_type")
    from greenisle.manifests.receipt import TREATMENT_METHODS

    method = str(row.get("method") or "").strip().upper()
    if method and method not in TREATMENT_METHODS:
        raise ServiceError(f"未知利用处置方式 {method} / unknown method", field=f"{where}.method")
    texts = {}
    for name, limit in (
        ("internal_name", 100),
        ("hazardous_constituents", 200),
        ("form", 20),
        ("facility_code", 40),
        ("storage_facility_code", 40),
        ("storage_type", 60),
        ("packaging", 100),
    ):
        value = str(row.get(name) or "").strip()
        if len(value) > limit:
            raise ServiceError(f"{name} 不超过 {limit} 字 / at most {limit}", field=f"{where}.{name}")
        texts[name] = value
    waste, _created = PlanWaste.objects.update_or_create(
        plan=plan,
        waste_code=code,
        defaults={
            **texts,
            "annual_t": _decimal(row.get("annual_t", 0), f"{where}.annual_t"),
            "year_end_stock_t": _decimal(
                row.get("year_end_stock_t"), f"{where}.year_end_stock_t", allow_none=True
            ),
            "transfer_t": _decimal(row.get("transfer_t"), f"{where}.transfer_t", allow_none=True),
            "transfer_type": transfer_type,
            "method": method,
        },
    )
    receiver_ids = [str(r) for r in row.get("receivers") or []]
    receivers = list(Organization.objects.filter(pk__in=receiver_ids, kind__in=["collector", "facility"]))
    if len(receivers) != len(set(receiver_ids)):
        raise ServiceError(
            "接收单位须为收集或利用处置单位 / receivers are collectors or facilities",
            field=f"{where}.receivers",
        )
    waste.receivers.set(receivers)
    return waste


def _plan_for_filer(actor: Any, plan_id: Any) -> tuple[ManagementPlan, Any, str]:
    plan = (
        ManagementPlan.objects.select_for_update(of=("self",))
        .select_related("site", "site__organization", "site__division")
        .filter(pk=plan_id)
        .first()
    )
    if plan is None:
        raise NotFound("管理计划不存在 / no such plan", field="plan_id")
    membership = membership_of(actor)
    role = filer_role(membership, plan.site)
    return plan, membership, role


@transaction.atomic
def plan_update(
    *,
    actor: Any,
    plan_id: Any,
    basic: dict[str, Any] | None = None,
    wastes: list[dict[str, Any]] | None = None,
    facilities: list[dict[str, Any]] | None = None,
    own_treatment: list[dict[str, Any]] | None = None,
    reduction: dict[str, Any] | None = None,
) -> ManagementPlan:
    """Edit a draft or returned plan; ``wastes`` replaces the rows when given."""
    plan, membership, _role = _plan_for_filer(actor, plan_id)
    if plan.status not in EDITABLE:
        raise Conflict("已备案的计划不能修改，请变更 / a filed plan is amended, not edited", field="status")
    fields = ["updated_at"]
    if basic is not None:
        unknown = set(basic) - set(core.BASIC_FIELDS)
        if unknown:
            raise ServiceError(
                f"未知字段 {sorted(unknown)} / unknown fields", field=f"basic.{sorted(unknown)[0]}"
            )
        for name, value in basic.items():
            if len(str(value or "")) > 300:
                raise ServiceError("不超过300字 / at most 300 characters", field=f"basic.{name}")
        plan.basic = {**plan.basic, **{k: str(v or "").strip() for k, v in basic.items()}}
        fields.append("basic")
    for name, value in (("facilities", facilities), ("own_treatment", own_treatment)):
        if value is not None:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ServiceError("须为列表 / must be a list of rows", field=name)
            setattr(plan, name, value)
            fields.append(name)
    if reduction is not None:
        if not isinstance(reduction, dict):
            raise ServiceError("须为对象 / must be an object", field="reduction")
        plan.reduction = reduction
        fields.append("reduction")
    plan.save(update_fields=fields)
    if wastes is not None:
        kept = []
        for i, row in enumerate(wastes):
            kept.append(_waste_row_save(plan, row, i).pk)
        plan.wastes.exclude(pk__in=kept).delete()
    event_record(
        action="plans.plan.edited",
        obj=plan,
        actor=actor,
        organization=membership.organization,
        subject_organization=plan.site.organization,
        division_code=plan.site.division_id,
        payload={
            "fields": [f for f in fields if f != "updated_at"] + (["wastes"] if wastes is not None else [])
        },
    )
    return plan


def plan_rows(plan: ManagementPlan) -> list[core.WasteRow]:
    return [
        core.WasteRow(
            waste_code=w.waste_code.code,
            annual_t=w.annual_t,
            form=w.form,
            hazardous_constituents=w.hazardous_constituents,
            storage_facility_code=w.storage_facility_code,
            storage_type=w.storage_type,
            packaging=w.packaging,
            year_end_stock_t=w.year_end_stock_t,
            transfer_t=w.transfer_t,
            method=w.method,
            receivers=tuple(str(r.pk) for r in w.receivers.all()),
        )
        for w in plan.wastes.select_related("waste_code").prefetch_related("receivers")
    ]


def plan_check(plan: ManagementPlan) -> list[core.Problem]:
    return core.plan_problems(
        plan.management_class,
        basic=plan.basic,
        wastes=plan_rows(plan),
        facilities=plan.facilities,
        own_treatment=plan.own_treatment,
        reduction=plan.reduction,
    )


class PlanIncomplete(ServiceError):
    def __init__(self, problems: list[core.Problem]) -> None:
        first = problems[0]
        super().__init__(
            f"计划不完整（{len(problems)} 处）/ the plan is incomplete ({len(problems)}): {first.message}",
            field=first.field,
            code="plan_incomplete",
        )
        self.problems = problems

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "problems": [p.as_dict() for p in self.problems]}


@transaction.atomic
def plan_file(*, actor: Any, plan_id: Any) -> ManagementPlan:
    """§5.2.2: file the plan; the platform issues the filing number and the receipt. A filed
    amendment supersedes the revision it amends (§5.2.3)."""
    plan, membership, role = _plan_for_filer(actor, plan_id)
    problems = plan_check(plan)
    if problems:
        raise PlanIncomplete(problems)
    site = plan.site
    now = timezone.now()
    if plan.amends_id is not None:
        previous = ManagementPlan.objects.select_for_update().get(pk=plan.amends_id)
        if previous.status in IN_FORCE:
            transition_apply(
                table=PLAN_TRANSITIONS,
                obj=previous,
                target=PlanStatus.SUPERSEDED,
                role="system",
                actor=actor,
                organization=membership.organization,
                subject_organization=site.organization,
                division_code=site.division_id,
                payload={"by_revision": plan.revision},
            )
        # §5.2.3: an amendment keeps the plan's filing number, with its revision after a dash.
        number = f"{previous.filing_number.split('-')[0]}-{plan.revision}"
    else:
        number = plan.filing_number or core.filing_number(
            site.division_id,
            plan.year,
            counter_next(PlanSerial, division_code=site.division_id, year=plan.year),
        )
    late = now.date() > core.plan_due_on(plan.year) and plan.revision == 0
    transition_apply(
        table=PLAN_TRANSITIONS,
        obj=plan,
        target=PlanStatus.FILED,
        role=role,
        actor=actor,
        organization=membership.organization,
        subject_organization=site.organization,
        division_code=site.division_id,
        payload={
            "filing_number": number,
            "class": plan.management_class,
            "revision": plan.revision,
            "on_behalf": role == "collector",
            **({"late": True} if late else {}),
        },
        extra_fields={
            "filing_number": number,
            "filed_at": now,
            "filed_by": actor,
            "filed_by_organization": membership.organization if role == "collector" else None,
        },
    )
    return plan


@transaction.atomic
def plan_review(*, actor: Any, plan_id: Any, decision: str, note: str = "") -> ManagementPlan:
    """The bureau approves a filed plan or returns it with the reasons."""
    plan = (
        ManagementPlan.objects.select_for_update(of=("self",))
        .select_related("site")
        .filter(pk=plan_id)
        .first()
    )
    if plan is None:
        raise NotFound("管理计划不存在 / no such plan", field="plan_id")
    membership = membership_of(actor)
    require_regulator(membership, plan.site)
    target = {"approve": PlanStatus.APPROVED, "return": PlanStatus.RETURNED}.get(decision)
    if target is None:
        raise ServiceError("结论须为 approve 或 return / decision is approve or return", field="decision")
    note = (note or "").strip()
    if len(note) > 500:
        raise ServiceError("不超过500字 / at most 500 characters", field="note")
    plan.review_note = note
    transition_apply(
        table=PLAN_TRANSITIONS,
        obj=plan,
        target=target,
        role="regulator",
        actor=actor,
        organization=membership.organization,
        subject_organization=plan.site.organization,
        division_code=plan.site.division_id,
        payload={"note": note},
        extra_fields={"review_note": note, "reviewed_at": timezone.now(), "reviewed_by": actor},
    )
    if target == PlanStatus.RETURNED:
        from greenisle.notifications.services import notify

        notify(
            organization=plan.site.organization,
            kind="plan.returned",
            message=f"{plan.year} 年管理计划被退回 / the {plan.year} management plan was returned: {note}",
            obj=plan,
            key=f"plan.returned:{plan.pk}:{plan.reviewed_at:%Y%m%d%H%M%S}",
        )
    return plan


@transaction.atomic
def plan_amend(*, actor: Any, plan_id: Any) -> ManagementPlan:
    """§5.2.3: start an amendment of the plan in force: a new draft revision with its content. The
    revision in force stays in force until the amendment is filed."""
    plan, membership, _role = _plan_for_filer(actor, plan_id)
    if plan.status not in IN_FORCE:
        raise Conflict("只能变更已备案的计划 / only a filed plan is amended", field="status")
    if ManagementPlan.objects.filter(amends=plan).exists():
        raise Conflict("已有一份变更 / an amendment is already open", field="plan_id")
    latest = ManagementPlan.objects.filter(site=plan.site, year=plan.year).order_by("-revision").first()
    assert latest is not None
    amendment = ManagementPlan.objects.create(
        site=plan.site,
        year=plan.year,
        revision=latest.revision + 1,
        amends=plan,
        management_class=plan.management_class,
        basic=plan.basic,
        facilities=plan.facilities,
        own_treatment=plan.own_treatment,
        reduction=plan.reduction,
    )
    for w in plan.wastes.all().prefetch_related("receivers"):
        receivers = list(w.receivers.all())
        w.pk = None
        w.plan = amendment
        w._state.adding = True
        w.save()
        w.receivers.set(receivers)
    event_record(
        action="plans.plan.amendment_started",
        obj=amendment,
        actor=actor,
        organization=membership.organization,
        subject_organization=plan.site.organization,
        division_code=plan.site.division_id,
        payload={"amends": str(plan.pk), "revision": amendment.revision},
    )
    return amendment
