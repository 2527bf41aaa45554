"""Management class and plans (HJ 1259-2022 §4.2, §5): classify a site, prepare its plan from the
registry and last year's ledger, file it (producer or its collector), review it (the bureau), amend it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from greenisle.accounts.permissions import membership_of
from greenisle.audit.services import event_record, transition_apply
from greenisle.catalog.models import WasteCode
from greenisle.core.counters import counter_next
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.ledger import core as ledger_core
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.organizations.models import Organization, ServiceContract, Site
from greenisle.plans import core
from greenisle.plans.models import (
    IN_FORCE,
    ManagementClass,
    ManagementPlan,
    PlanSerial,
    PlanStatus,
    PlanWaste,
    SiteClassification,
    TransferType,
)
from greenisle.plans.transitions import PLAN_TRANSITIONS

FILER_ROLES = {"admin", "clerk"}
COLLECTOR_FILER_ROLES = {"admin", "clerk", "dispatcher"}
REGULATOR_ROLES = {"admin", "inspector"}
EDITABLE = (PlanStatus.DRAFT, PlanStatus.RETURNED)

# GB/T 4754-2017 codes of the industries small producers are in (A.1 行业代码); others are typed in.
INDUSTRY_CODES: dict[str, str] = {
    "汽车修理": "8111",
    "汽车修理与维护": "8111",
    "机动车维修": "8111",
    "家具制造": "C21",
    "木质家具制造": "2110",
    "金属家具制造": "2130",
    "机械加工": "C34",
    "通用设备制造": "C34",
    "专用设备制造": "C35",
    "实验室": "M73",
    "研究和试验发展": "M73",
    "印刷": "2319",
    "医疗机构": "Q84",
}


def _site(site_id: Any) -> Site:
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


@transaction.atomic
def site_classify(*, site_id: Any, year: int | None = None) -> SiteClassification:
    """§4.2.1 and §4.2.3: compute the site's class for ``year`` from its ledger and its facts. A class
    set by the bureau (§4.2.2) stays in force; the computed one is kept beside it."""
    site = _site(site_id)
    year = year or timezone.localdate().year
    classification, _created = SiteClassification.objects.select_for_update().get_or_create(site=site)
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
    changed = (classification.computed_class, classification.annual_t) != (result.management_class, amount)
    classification.computed_class = result.management_class
    classification.annual_t = amount
    classification.basis = f"{result.reason}; {basis}"[:200]
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
                "class": result.management_class,
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
    site = _site(site_id)
    _require_regulator(membership, site)
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


def _require_regulator(membership: Any, site: Any) -> None:
    from greenisle.organizations.identifiers import division_prefix

    org = membership.organization
    if org.kind != "regulator" or membership.role not in REGULATOR_ROLES:
        raise PermissionDenied("只有生态环境部门可以审核 / only the bureau reviews")
    if not site.division_id.startswith(division_prefix(org.division_id)):
        raise PermissionDenied("该场所不在您的辖区 / the site is outside your division")


def filer_role(membership: Any, site: Any) -> str:
    """'producer' for the site's own admin or clerk; 'collector' for its collector's staff."""
    org = membership.organization
    if org.pk == site.organization_id:
        if membership.role not in FILER_ROLES:
            raise PermissionDenied(f"角色 {membership.role} 不能备案 / role {membership.role} may not file")
        return "producer"
    if (
        org.kind == "collector"
        and membership.role in COLLECTOR_FILER_ROLES
        and ServiceContract.objects.active().filter(collector=org, producer_id=site.organization_id).exists()
    ):
        return "collector"
    raise PermissionDenied("只能为本单位或服务客户备案 / only your own or a client's plan")


def plan_in_force(site: Any, year: int) -> ManagementPlan | None:
    return ManagementPlan.objects.filter(site=site, year=year, status__in=IN_FORCE).first()


def basic_from_registry(site: Any) -> dict[str, str]:
    """Table A.1 from what the platform knows; the rest the producer types in."""
    org = site.organization
    industry = (org.industry or "").strip()
    return {
        "name": org.name,
        "registered_address": org.address or site.address,
        "site_address": site.address,
        "division": f"{site.division_id} {site.division.name}",
        "industry": industry,
        "industry_code": INDUSTRY_CODES.get(industry, ""),
        "longitude": str(site.longitude),
        "latitude": str(site.latitude),
        "uscc": org.uscc,
        "legal_representative": "",
        "phone": org.contact_phone,
        "technical_lead": org.contact_name,
        "technical_lead_phone": org.contact_phone,
        "eia_reference": "",
        "permit_reference": "",
    }


def wastes_from_history(site: Any, year: int) -> list[dict[str, Any]]:
    """A.3/A.7 rows from last year's ledger: what was generated and handed over, to whom and how.
    Codes the site's bins hold but the ledger never saw get a row with nothing expected yet."""
    from greenisle.manifests.models import Container

    start = timezone.make_aware(dt.datetime(year - 1, 1, 1))
    end = timezone.make_aware(dt.datetime(year, 1, 1))
    records = LedgerRecord.objects.filter(
        site=site, organization_id=site.organization_id, occurred_at__gte=start, occurred_at__lt=end
    )
    generated = {
        r["waste_code__code"]: r["kg"]
        for r in records.filter(record_type=RecordType.PRODUCTION)
        .values("waste_code__code")
        .annotate(kg=Sum("weight_kg"))
    }
    transferred: dict[str, Decimal] = defaultdict(Decimal)
    receivers: dict[str, set[Any]] = defaultdict(set)
    methods: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records.filter(record_type__in=list(ledger_core.OUTSOURCED_TYPES)).values(
        "waste_code__code", "weight_kg", "counterparty_id", "method"
    ):
        transferred[r["waste_code__code"]] += r["weight_kg"]
        if r["counterparty_id"]:
            receivers[r["waste_code__code"]].add(r["counterparty_id"])
        if r["method"]:
            methods[r["waste_code__code"]][r["method"]] += 1
    contract = ServiceContract.objects.active().filter(producer_id=site.organization_id).first()
    codes = set(generated) | set(transferred)
    codes |= set(WasteCode.objects.filter(bins__site=site).values_list("code", flat=True))
    rows = []
    for code in sorted(codes):
        form = (
            Container.objects.filter(site=site, waste_code__code=code)
            .order_by("-created_at")
            .values_list("form", flat=True)
            .first()
            or ""
        )
        rows.append(
            {
                "waste_code": code,
                "annual_t": ledger_core.tonnes(generated.get(code, Decimal(0))),
                "transfer_t": ledger_core.tonnes(transferred.get(code, Decimal(0))),
                "form": form,
                "method": methods[code].most_common(1)[0][0] if methods[code] else ("C1" if contract else ""),
                "receivers": sorted(str(r) for r in receivers[code])
                or ([str(contract.collector_id)] if contract else []),
            }
        )
    return rows


@transaction.atomic
def plan_prepare(*, actor: Any, site_id: Any, year: int) -> ManagementPlan:
    """The site's plan for ``year`` to work on: the draft or returned revision if there is one, else a
    new draft pre-filled from the registry and last year's ledger (§5.4, §5.5)."""
    site = _site(site_id)
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
        base = previous.filing_number.split("-")[0]
        number = f"{base}-{plan.revision}" if base else ""
    else:
        number = ""
    if not number:
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
    _require_regulator(membership, plan.site)
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
