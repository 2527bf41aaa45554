"""Hazardous waste in store: what a unit holds (from its own ledger), how long it may hold it, which
storage zone takes it, and the sweep that reminds units before a limit and raises findings after.

Limits on storage:

- 固废法 (2020) Art. 81: a unit collecting or storing hazardous waste stores it at most one year
  (``STORAGE_MAX_DAYS``, 365 days counted from the day the container came into stock). The
  platform applies it to every unit that holds stock, producers included.
- 《危险废物经营许可证管理办法》 (国务院令第408号), on the 收集经营许可证: a holder of a collection
  licence hands what it collected to a utilisation/disposal facility within 90 working days
  (``COLLECTION_HANDOVER_WORKING_DAYS``), counted on the official calendar (core.workdays).
- Local pilot caps per collector (``StoragePolicy``: days in store and tonnes in store). These are
  configuration; null means no cap.

Incompatible wastes are stored apart (GB 18597-2023; 固废法 Art. 81): a site with storage zones
puts each received container in the zone whose compatible groups hold the waste's hazard category.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from greenisle.audit.services import event_record
from greenisle.core.errors import ServiceError
from greenisle.core.workdays import add_working_days
from greenisle.ledger.models import LedgerRecord, RecordType, StoragePolicy, StorageZone
from greenisle.notifications.services import notify
from greenisle.organizations.choices import LicenceType
from greenisle.organizations.models import Licence, Organization
from greenisle.supervision.models import Severity
from greenisle.supervision.services import finding_raise

# Limit kinds.
ONE_YEAR = "one_year"
COLLECTION_HANDOVER = "collection_90_working_days"
LOCAL_DAYS = "local_days"
LOCAL_TONNES = "local_tonnes"

# States of a limit.
OK = "ok"
APPROACHING = "approaching"
PASSED = "passed"

# Finding rule and severity per limit kind.
RULES: dict[str, tuple[str, str]] = {
    ONE_YEAR: ("storage.over_one_year", str(Severity.A)),
    COLLECTION_HANDOVER: ("storage.collection_handover_overdue", str(Severity.B)),
    LOCAL_DAYS: ("storage.local_days", str(Severity.C)),
    LOCAL_TONNES: ("storage.local_tonnes", str(Severity.C)),
}

KG_PER_TONNE = Decimal(1000)
# Weights have two decimals; on SQLite sums of decimals are floating point, so "more than nothing"
# is "more than half a hundredth", not "> 0" (a fully reversed container may sum to 1e-15).
STOCK_EPSILON = Decimal("0.005")


@dataclass(frozen=True)
class StockItem:
    """One container a unit holds, per its ledger."""

    container_code: str
    waste_code: str
    weight_kg: Decimal
    since: dt.datetime  # the earliest record that put it in this unit's stock
    age_days: int
    site_id: Any
    facility_code: str  # the storage point/zone of its latest storage-in
    counterparty: str  # whom it came from (the sender of its latest external storage-in)
    received: bool  # came from another unit (an external storage-in), i.e. collected waste
    record_id: Any  # the record that started the clock (the storage-in for a receiver)

    @property
    def since_date(self) -> dt.date:
        day: dt.date = timezone.localtime(self.since).date()
        return day


@dataclass(frozen=True)
class LimitStatus:
    """One limit for one container (or, for ``local_tonnes``, the unit as a whole)."""

    kind: str
    state: str
    due_on: dt.date | None
    remind_from: dt.date | None
    item: StockItem | None = None
    held_kg: Decimal | None = None  # local_tonnes: what the unit holds
    cap_kg: Decimal | None = None  # local_tonnes: the cap
    limit: int | None = None  # days or working days of the limit

    @property
    def container_code(self) -> str:
        return self.item.container_code if self.item else ""


def _signed_weight() -> ExpressionWrapper:
    return ExpressionWrapper(
        F("stock_effect") * F("weight_kg"), output_field=DecimalField(max_digits=14, decimal_places=2)
    )


def _stock_query(organization: Any, site: Any = None) -> QuerySet[LedgerRecord]:
    records = LedgerRecord.objects.filter(organization=organization)
    if site is not None:
        records = records.filter(site=site)
    return records


def inventory(organization: Any, *, site: Any = None, today: dt.date | None = None) -> list[StockItem]:
    """The containers ``organization`` holds, from its ledger: one aggregate query, then one over the held
    containers' records (per 500 containers).

    Stock of a container and waste code = Σ stock_effect × weight over its records (a reversing
    entry carries the opposite weight, so corrections need no special case); only a positive stock
    is held. The clock starts at the earliest record that added it (production or an external
    storage-in; a reversed original still counts, so reversing and re-entering cannot reset it)."""
    today = today or timezone.localdate()
    adds = Q(stock_effect=1, weight_kg__gt=0)
    held = list(
        _stock_query(organization, site)
        .values("container_code", "waste_code", "waste_code__code")
        .annotate(
            stock=Sum(_signed_weight()),
            since=Min("occurred_at", filter=adds),
            received=Max(
                Case(
                    When(Q(adds, record_type=RecordType.STORAGE_IN), then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
            ),
        )
        .filter(stock__gt=STOCK_EPSILON, since__isnull=False)
        .order_by("since", "container_code")
    )
    # Where each held container is and where it came from: its first adding record, its latest
    # storage-in (the zone) and the sender of its latest external storage-in. A second query over the
    # held containers' records only (correlated subqueries per container were minutes on SQLite).
    first: dict[tuple[str, Any], dict[str, Any]] = {}
    latest_in: dict[tuple[str, Any], dict[str, Any]] = {}
    latest_external: dict[tuple[str, Any], dict[str, Any]] = {}
    codes = sorted({row["container_code"] for row in held})
    for start in range(0, len(codes), 500):
        records = (
            _stock_query(organization, site)
            .filter(container_code__in=codes[start : start + 500])
            .values(
                "pk",
                "container_code",
                "waste_code",
                "record_type",
                "stock_effect",
                "weight_kg",
                "site_id",
                "facility_code",
                "counterparty__name",
            )
            .order_by("occurred_at", "created_at")
        )
        for record in records:
            key = (record["container_code"], record["waste_code"])
            if record["weight_kg"] <= 0:
                continue
            if record["stock_effect"] == 1:
                first.setdefault(key, record)
            if record["record_type"] == RecordType.STORAGE_IN:
                latest_in[key] = record
                if record["stock_effect"] == 1:
                    latest_external[key] = record
    items: list[StockItem] = []
    for row in held:
        since: dt.datetime = row["since"]
        key = (row["container_code"], row["waste_code"])
        origin, stored, sent = first.get(key, {}), latest_in.get(key, {}), latest_external.get(key, {})
        items.append(
            StockItem(
                container_code=row["container_code"],
                waste_code=row["waste_code__code"],
                weight_kg=Decimal(row["stock"]).quantize(Decimal("0.01")),
                since=since,
                age_days=(today - timezone.localtime(since).date()).days,
                site_id=stored.get("site_id") or origin.get("site_id"),
                facility_code=stored.get("facility_code") or "",
                counterparty=sent.get("counterparty__name") or "",
                received=bool(row["received"]),
                record_id=origin.get("pk"),
            )
        )
    return items


def _state(today: dt.date, due: dt.date, remind_from: dt.date) -> str:
    # A limit is kept on its due date and passed the day after.
    if today > due:
        return PASSED
    if today >= remind_from:
        return APPROACHING
    return OK


def holds_collection_licence(organization: Any, today: dt.date) -> bool:
    """Whether the unit has held a 收集经营许可证 by ``today``. Waste collected under a licence that
    has since expired still has to reach a facility, so expiry does not lift the limit."""
    return bool(
        Licence.objects.filter(
            organization=organization, licence_type=LicenceType.COLLECTION, valid_from__lte=today
        ).exists()
    )


def storage_limits(organization: Any, today: dt.date) -> list[LimitStatus]:
    """Every storage limit of the unit on ``today``: per container the one-year limit, the 90-working-day
    hand-over of a collection licence holder and the local days cap; for the unit its local tonnage
    cap. A state is ``ok``, ``approaching`` (within the reminder days, or ≥ the reminder share of the
    tonnage cap) or ``passed``."""
    config = settings.GREENISLE
    items = inventory(organization, today=today)
    policy = StoragePolicy.objects.filter(organization=organization).first()
    remind = dt.timedelta(
        days=policy.reminder_days if policy is not None else int(config["STORAGE_REMINDER_DAYS"])
    )
    max_days = int(config["STORAGE_MAX_DAYS"])
    handover_days = int(config["COLLECTION_HANDOVER_WORKING_DAYS"])
    collection = bool(items) and holds_collection_licence(organization, today)
    statuses: list[LimitStatus] = []
    for item in items:
        start = item.since_date
        # 固废法 Art. 81: stored at most one year.
        due = start + dt.timedelta(days=max_days)
        statuses.append(
            LimitStatus(ONE_YEAR, _state(today, due, due - remind), due, due - remind, item, limit=max_days)
        )
        # 收集经营许可证: collected waste reaches a utilisation/disposal facility within 90 working days.
        if collection and item.received:
            due = add_working_days(start, handover_days)
            statuses.append(
                LimitStatus(
                    COLLECTION_HANDOVER,
                    _state(today, due, due - remind),
                    due,
                    due - remind,
                    item,
                    limit=handover_days,
                )
            )
        if policy is not None and policy.max_days is not None:
            due = start + dt.timedelta(days=policy.max_days)
            statuses.append(
                LimitStatus(
                    LOCAL_DAYS,
                    _state(today, due, due - remind),
                    due,
                    due - remind,
                    item,
                    limit=policy.max_days,
                )
            )
    if policy is not None and policy.max_tonnes is not None:
        held = sum((item.weight_kg for item in items), Decimal("0"))
        cap = Decimal(policy.max_tonnes) * KG_PER_TONNE
        share = Decimal(str(config.get("STORAGE_TONNES_REMINDER_PCT", 90))) / 100
        if held > cap:
            state = PASSED
        elif held > 0 and held >= cap * share:
            state = APPROACHING
        else:
            state = OK
        statuses.append(LimitStatus(LOCAL_TONNES, state, None, None, held_kg=held, cap_kg=cap))
    return statuses


# --- zones (GB 18597-2023) --------------------------------------------------------------------------


def zone_for(site: Any, waste_code: Any, *, field: str | None = None) -> StorageZone | None:
    """The storage zone of ``site`` for ``waste_code``: the one whose compatible groups (the site's
    organisation's ``WasteClassGroup``) hold the code's hazard category. None when the site has no
    zones (no zoning configured). A site with zones but none for the category refuses the waste:
    incompatible wastes are never stored together (GB 18597-2023; 固废法 Art. 81)."""
    zones = StorageZone.objects.filter(site=site)
    if not zones.exists():
        return None
    category = waste_code.category.code
    zone: StorageZone | None = (
        zones.filter(groups__collector_id=site.organization_id, groups__categories__code=category)
        .order_by("code")
        .first()
    )
    if zone is None:
        raise ServiceError(
            f"{site.name} 没有可贮存 {waste_code.code}（{category}）的分区，不相容的废物须分区贮存 / no storage "
            f"zone at {site.name} takes {waste_code.code} ({category}): incompatible wastes are stored apart "
            "(GB 18597-2023)",
            field=field or "waste_code",
            code="no_storage_zone",
        )
    return zone


# --- the sweep ----------------------------------------------------------------------------------------


def units_holding_stock() -> QuerySet[Organization]:
    """Organisations whose ledger shows any container in stock."""
    held = (
        LedgerRecord.objects.values("organization_id", "container_code", "waste_code")
        .annotate(stock=Sum(_signed_weight()))
        .filter(stock__gt=STOCK_EPSILON)
        .values("organization_id")
    )
    return Organization.objects.filter(pk__in=held).select_related("division").order_by("name", "pk")


def _container_text(item: StockItem) -> tuple[str, str]:
    zh = f"容器 {item.container_code}（{item.waste_code}，{item.weight_kg} kg，{item.since_date} 入库）"
    en = f"container {item.container_code} ({item.waste_code}, {item.weight_kg} kg, in since {item.since_date})"
    return zh, en


def _limit_text(status: LimitStatus) -> tuple[str, str]:
    if status.kind == ONE_YEAR:
        return (
            f"贮存不得超过一年（固废法第八十一条），期限 {status.due_on}",
            f"storage is limited to one year (固废法 Art. 81), due {status.due_on}",
        )
    if status.kind == COLLECTION_HANDOVER:
        return (
            f"收集的危险废物须在{status.limit}个工作日内转移至利用处置单位，期限 {status.due_on}",
            f"collected waste reaches a facility within {status.limit} working days, due {status.due_on}",
        )
    if status.kind == LOCAL_DAYS:
        return (
            f"本地贮存期限 {status.limit} 天，期限 {status.due_on}",
            f"the local cap is {status.limit} days in store, due {status.due_on}",
        )
    held = (status.held_kg or Decimal(0)) / KG_PER_TONNE
    cap = (status.cap_kg or Decimal(0)) / KG_PER_TONNE
    return (
        f"贮存量 {held:.3f} t，本地上限 {cap:.3f} t",
        f"{held:.3f} t in store against a local cap of {cap:.3f} t",
    )


def _message(status: LimitStatus) -> str:
    rule_zh, rule_en = _limit_text(status)
    if status.item is None:
        verb_zh = "已超过" if status.state == PASSED else "接近"
        verb_en = "over" if status.state == PASSED else "near"
        return f"贮存量{verb_zh}本地上限：{rule_zh} / storage {verb_en} the local cap: {rule_en}"[:500]
    zh, en = _container_text(status.item)
    if status.state == PASSED:
        return f"{zh}已超期：{rule_zh} / {en} is overdue: {rule_en}"[:500]
    return f"{zh}即将到期：{rule_zh} / {en} is nearly due: {rule_en}"[:500]


def _evidence(status: LimitStatus, today: dt.date) -> dict[str, Any]:
    evidence: dict[str, Any] = {"limit": status.kind, "checked_on": today.isoformat()}
    if status.due_on is not None:
        evidence["due_on"] = status.due_on.isoformat()
    if status.limit is not None:
        evidence["limit_value"] = status.limit
    if status.item is not None:
        item = status.item
        evidence.update(
            container_code=item.container_code,
            waste_code=item.waste_code,
            weight_kg=str(item.weight_kg),
            since=item.since.isoformat(),
            age_days=item.age_days,
            facility_code=item.facility_code,
            counterparty=item.counterparty,
        )
    else:
        evidence.update(held_kg=str(status.held_kg), cap_kg=str(status.cap_kg))
    return evidence


def _act(organization: Any, status: LimitStatus, obj: Any, today: dt.date) -> tuple[int, int]:
    """Remind or raise for one limit. Returns (reminded, raised). Runs in the caller's transaction."""
    if status.state == APPROACHING:
        if status.item is not None:
            key = (
                f"storage.{status.kind}:{status.item.container_code}:{status.item.waste_code}:{status.due_on}"
            )
        else:
            # The unit as a whole: at most one reminder a day while it stays near its cap.
            key = f"storage.{status.kind}:{status.cap_kg}:{today}"
        created = notify(
            organization=organization,
            kind=f"storage.{status.kind}_due",
            message=_message(status),
            obj=obj,
            key=key[:200],
        )
        if created:
            event_record(
                action="ledger.storage.reminded",
                obj=obj,
                subject_organization=organization,
                division_code=organization.division_id,
                payload=_evidence(status, today),
            )
        return int(created), 0
    if status.state == PASSED:
        rule, severity = RULES[status.kind]
        raised = finding_raise(
            rule=rule,
            severity=severity,
            organization=organization,
            division_code=organization.division_id,
            obj=obj,
            message=_message(status),
            evidence=_evidence(status, today),
        )
        return 0, int(raised is not None)
    return 0, 0


def storage_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """For every unit holding stock: remind it of limits coming up and raise a finding on each limit
    passed (once: an open finding on the same rule and object is not raised again). Each container
    is handled in its own transaction, so one failure does not hold back the others."""
    today = timezone.localtime(now or timezone.now()).date()
    counts = {"units": 0, "containers": 0, "reminded": 0, "findings": 0}
    for organization in units_holding_stock().iterator():
        counts["units"] += 1
        per_container: dict[tuple[str, str], list[LimitStatus]] = defaultdict(list)
        unit_wide: list[LimitStatus] = []
        for status in storage_limits(organization, today):
            if status.item is None:
                unit_wide.append(status)
            else:
                per_container[(status.item.container_code, status.item.waste_code)].append(status)
        for statuses in per_container.values():
            counts["containers"] += 1
            due = [s for s in statuses if s.state != OK]
            if not due:
                continue
            assert due[0].item is not None
            with transaction.atomic():
                # The record that started the clock: the storage-in of a receiver, the production of a producer.
                record = LedgerRecord.objects.get(pk=due[0].item.record_id)
                for status in due:
                    reminded, raised = _act(organization, status, record, today)
                    counts["reminded"] += reminded
                    counts["findings"] += raised
        for status in unit_wide:
            if status.state == OK:
                continue
            with transaction.atomic():
                policy = StoragePolicy.objects.get(organization=organization)
                reminded, raised = _act(organization, status, policy, today)
                counts["reminded"] += reminded
                counts["findings"] += raised
    return counts
