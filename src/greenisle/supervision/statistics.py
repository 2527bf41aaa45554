"""The regulator's statistics (统计分析): tonnes collected and transferred, the coverage of divisions ×
waste categories (区域、种类全覆盖), enterprises enrolled and served, manifests by state and receipt
deadline, bins by fill, and monthly trends. Everything in the regulator's division.

Each selector takes the person and the checked :class:`Filters` (``statistics_filters``) and answers
with plain dataclasses. The counting is done by the database: every table is one or two GROUP BY
queries, and Python only lays out the grouped rows (a few hundred at most), never the manifests,
lines or bins themselves. Weights and producers served are counted on each received manifest's
totals per category, kept with what they are grouped by (``manifests.ReceiptTotal``, ADR 15) and
written in the receipt's own transaction: nothing is cached, so the figures are as fresh as the
database.

What is counted:

- *collected* (收集量): collection manifests (small producer → collector, 办法 Art. 16) whose receipt
  the collector confirmed (办法 Art. 18) in the period; *transferred* (转移量): onward manifests
  (collector → facility, 办法 Art. 31) received in the period. A line counts the weight the receiver
  accepted (a rejected container counts nothing), else the weight received, else the declared one.
  The place is the sending site's division: the producer's workshop for collection, the collector's
  warehouse for onward transfer.
- *enrolled* (纳入监管): producers registered on the platform in the division; *under contract*: those
  with a service contract in force at some time in the period; *served* (已服务): those with a
  collection manifest received in the period.
- *coverage gap* (覆盖缺口): a producer whose plan in force (办法 Art. 14; HJ 1259-2022 Table A.3)
  lists a waste of the category, with no collection of that category at that site in the period.
- *receipt deadline* (办法 Art. 18): manifests delivered in the period, received by the due date (5
  working days after delivery, fixed at delivery) or later, or not yet received.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from greenisle.catalog.models import HazardCategory, WasteCode
from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.devices.models import Bin
from greenisle.manifests.choices import ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest, ManifestLine, ReceiptTotal
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.identifiers import division_prefix
from greenisle.organizations.models import Division, Organization, ServiceContract
from greenisle.organizations.visibility import scope_for
from greenisle.plans.models import IN_FORCE, PlanWaste
from greenisle.supervision import statistics_core as core

RECEIVED = (ManifestStatus.RECEIVED, ManifestStatus.TREATED)
# --- filters ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The checked filters: a period (local dates, both included), and optionally one division inside
    the regulator's, one collector and one HW category."""

    date_from: dt.date
    date_to: dt.date
    scope_prefix: str
    scope_code: str
    division: str | None = None
    division_name: str = ""
    collector_id: uuid.UUID | None = None
    collector_name: str = ""
    category: str | None = None
    category_name: str = ""

    @property
    def prefix(self) -> str:
        """The division-code prefix everything is counted in."""
        return division_prefix(self.division) if self.division else self.scope_prefix

    @property
    def start(self) -> dt.datetime:
        tz = timezone.get_default_timezone()
        return dt.datetime.combine(self.date_from, dt.time.min, tzinfo=tz)

    @property
    def end(self) -> dt.datetime:
        """Exclusive: local midnight after ``date_to``."""
        tz = timezone.get_default_timezone()
        return dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=tz)

    @property
    def years(self) -> list[int]:
        return list(range(self.date_from.year, self.date_to.year + 1))

    def as_query(self) -> dict[str, str]:
        """The filters as the form and the JSON endpoints take them."""
        query = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}
        if self.division:
            query["division"] = self.division
        if self.collector_id:
            query["collector"] = str(self.collector_id)
        if self.category:
            query["category"] = self.category
        return query


def statistics_filters(
    user: Any,
    *,
    date_from: object = None,
    date_to: object = None,
    division: object = None,
    collector: object = None,
    category: object = None,
) -> Filters:
    """Check the filters against the person's jurisdiction. Statistics are the bureau's: anyone else
    gets PermissionDenied (403); a division outside the bureau's is PermissionDenied naming
    ``division``; malformed or unknown values are ServiceError (400) naming the field."""
    scope = scope_for(user)
    if scope is None or scope.kind != OrganizationKind.REGULATOR:
        raise PermissionDenied("统计分析仅供生态环境部门查看 / statistics are for the environment bureau")
    raw = core.parse_filters(
        today=timezone.localdate(),
        date_from=date_from,
        date_to=date_to,
        division=division,
        collector=collector,
        category=category,
    )
    found: dict[str, Any] = {}
    if raw.division:
        row = Division.objects.filter(code=raw.division).first()
        if row is None:
            raise ServiceError("没有这个行政区划 / no such division", field="division")
        if not division_prefix(row.code).startswith(scope.division_prefix):
            raise PermissionDenied(
                f"{row.name}（{row.code}）不在本局辖区内 / division {row.code} is outside your jurisdiction",
                field="division",
            )
        found.update(division=row.code, division_name=row.name)
    if raw.collector:
        org = Organization.objects.filter(pk=raw.collector, kind=OrganizationKind.COLLECTOR).first()
        if org is None:
            raise ServiceError("没有这个收集单位 / no such collector", field="collector")
        found.update(collector_id=org.pk, collector_name=org.name)
    if raw.category:
        cat = (
            HazardCategory.objects.filter(code=raw.category)
            .order_by("-edition__is_current", "-edition__in_force_from")
            .first()
        )
        if cat is None:
            raise ServiceError("名录中没有这个类别 / no such category in the catalogue", field="category")
        found.update(category=cat.code, category_name=cat.name)
    return Filters(
        date_from=raw.date_from,
        date_to=raw.date_to,
        scope_prefix=scope.division_prefix,
        scope_code=scope.division_code,
        **found,
    )


# --- shared pieces ----------------------------------------------------------------------------------


def _tz() -> Any:
    return timezone.get_default_timezone()


def _codes_in(f: Filters) -> list[int]:
    return list(WasteCode.objects.filter(category__code=f.category).values_list("id", flat=True))


def _month_keys(f: Filters) -> list[str]:
    return [core.month_key(m) for m in core.months_between(f.date_from, f.date_to)]


def _month_index(f: Filters) -> dict[int, int]:
    """yyyymm (the receipt totals' ``month``) → index in ``_month_keys(f)``."""
    return {
        m.year * 100 + m.month: index for index, m in enumerate(core.months_between(f.date_from, f.date_to))
    }


def _month_of(field: str, f: Filters) -> Case:
    """The index in ``_month_keys(f)`` of the local month of a timestamp already inside the period, as
    comparisons with the months' local starts: the same answer as truncating in Asia/Shanghai time
    without converting the time zone on every row, and an integer key the database groups in a hash
    table (a text key made PostgreSQL sort the rows on disk)."""
    months = core.months_between(f.date_from, f.date_to)
    tz = _tz()
    whens = [
        When(
            **{f"{field}__lt": dt.datetime.combine(following, dt.time.min, tzinfo=tz)},
            then=Value(index),
        )
        for index, following in enumerate(months[1:])
    ]
    return Case(*whens, default=Value(len(months) - 1), output_field=IntegerField())


def _manifests(user: Any, f: Filters) -> QuerySet[Manifest]:
    """Manifests the bureau sees (its division prefix), narrowed by division and collector. The
    collector is the receiver of a collection manifest and the sender of an onward one."""
    qs = Manifest.objects.visible_to(user).filter(producer_site__division__code__startswith=f.prefix)
    if f.collector_id:
        qs = qs.filter(
            Q(kind=ManifestKind.COLLECTION, receiver_id=f.collector_id)
            | Q(kind=ManifestKind.ONWARD, producer_id=f.collector_id)
        )
    return qs


def _totals(user: Any, f: Filters) -> QuerySet[ReceiptTotal]:
    """What the manifests received in the period count per category (a rejected container goes back
    to its producer, 办法 Art. 18: it was neither collected nor transferred, and does not make its
    producer "served"), in the category when one is chosen: rows of one table, no join.

    The division prefix is the bureau's visibility rule for manifests (ManifestQuerySet.division_path),
    narrowed by the division filter, which ``statistics_filters`` has checked to lie inside it; ``user``
    is kept in the signature so every selector reads the same way."""
    qs = ReceiptTotal.objects.filter(
        received_on__gte=f.date_from, received_on__lte=f.date_to, division__code__startswith=f.prefix
    )
    if f.collector_id:
        qs = qs.filter(collector_id=f.collector_id)
    if f.category:
        qs = qs.filter(category=f.category)
    return qs


def _has_category(f: Filters) -> Exists:
    """The manifest carries a line of the chosen category."""
    return Exists(ManifestLine.objects.filter(manifest_id=OuterRef("pk"), waste_code_id__in=_codes_in(f)))


@dataclass(frozen=True)
class Place:
    code: str
    name: str


def _districts(f: Filters, seen: set[str] | None = None) -> list[Place]:
    """The county-level divisions the figures are shown for: those inside the prefix, plus any other
    division the data name (an organisation registered at city level)."""
    qs = Division.objects.filter(code__startswith=f.prefix)
    rows = dict(qs.values_list("code", "name"))
    county = {c for c in rows if not c.endswith("00") or c == f.prefix}
    wanted = county | {c for c in (seen or set()) if c in rows}
    return [Place(code, rows[code]) for code in sorted(wanted)]


def _category_names(codes: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    rows = (
        HazardCategory.objects.filter(code__in=codes)
        .order_by("code", "-edition__is_current", "-edition__in_force_from")
        .values_list("code", "name")
    )
    for code, name in rows:
        names.setdefault(code, name)
    return names


# --- tonnes -----------------------------------------------------------------------------------------


@dataclass
class Amount:
    """Kilograms collected and transferred (tonnes derived)."""

    collected_kg: Decimal = Decimal("0.00")
    transferred_kg: Decimal = Decimal("0.00")

    @property
    def collected_t(self) -> Decimal:
        return core.tonnes(self.collected_kg)

    @property
    def transferred_t(self) -> Decimal:
        return core.tonnes(self.transferred_kg)

    def add(self, kind: str, kg: Decimal) -> None:
        if kind == ManifestKind.ONWARD:
            self.transferred_kg += kg
        else:
            self.collected_kg += kg


@dataclass
class CategoryAmount(Amount):
    code: str = ""
    name: str = ""


@dataclass
class DistrictAmount(Amount):
    code: str = ""
    name: str = ""
    # Collected and transferred per category in this district (the stacked chart).
    by_category: dict[str, Amount] = field(default_factory=dict)


@dataclass
class MonthAmount(Amount):
    month: str = ""


@dataclass
class Tonnage:
    categories: list[CategoryAmount]
    districts: list[DistrictAmount]
    months: list[MonthAmount]
    total: Amount


def tonnage(user: Any, f: Filters) -> Tonnage:
    """Collected and transferred weight by category, by district (and district × category) and by
    month: one GROUP BY over the period's receipt totals."""
    rows = (
        _totals(user, f)
        .values("category", "kind", "month", district=F("division_id"))
        .annotate(kg=Sum("kg"))
        .order_by()
    )
    month_index = _month_index(f)
    categories: dict[str, CategoryAmount] = {}
    districts: dict[str, DistrictAmount] = {}
    months = [MonthAmount(month=key) for key in _month_keys(f)]
    total = Amount()
    for row in rows:
        kind, weight, category = row["kind"], core.kg(row["kg"]), row["category"]
        categories.setdefault(category, CategoryAmount(code=category)).add(kind, weight)
        district = districts.setdefault(row["district"], DistrictAmount(code=row["district"]))
        district.add(kind, weight)
        district.by_category.setdefault(category, Amount()).add(kind, weight)
        months[month_index[row["month"]]].add(kind, weight)
        total.add(kind, weight)
    names = _category_names(set(categories))
    for cat in categories.values():
        cat.name = names.get(cat.code, "")
    places = _districts(f, set(districts))
    district_rows = []
    for place in places:
        row_ = districts.get(place.code) or DistrictAmount(code=place.code)
        row_.name = place.name
        district_rows.append(row_)
    return Tonnage(
        categories=[categories[c] for c in sorted(categories)],
        districts=district_rows,
        months=months,
        total=total,
    )


# --- coverage ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageCell:
    district: str
    category: str
    served_kg: Decimal
    served_producers: int
    planned_producers: int
    uncovered_producers: int

    @property
    def served_t(self) -> Decimal:
        return core.tonnes(self.served_kg)

    @property
    def gap(self) -> bool:
        return self.uncovered_producers > 0


@dataclass(frozen=True)
class Coverage:
    districts: list[Place]
    categories: list[Place]
    cells: list[CoverageCell]

    def cell(self, district: str, category: str) -> CoverageCell:
        for c in self.cells:
            if c.district == district and c.category == category:
                return c
        return CoverageCell(district, category, Decimal("0.00"), 0, 0, 0)

    @property
    def matrix(self) -> list[tuple[Place, list[CoverageCell]]]:
        return [(d, [self.cell(d.code, c.code) for c in self.categories]) for d in self.districts]

    @property
    def gaps(self) -> int:
        return sum(1 for c in self.cells if c.gap)


def coverage(user: Any, f: Filters) -> Coverage:
    """区域、种类全覆盖: per district and HW category, the weight collected and the producers served in
    the period, against the producers whose plan in force lists the category (办法 Art. 14; HJ 1259
    Table A.3). Three GROUP BY queries; the gap test is a NOT EXISTS in the WHERE clause, which the
    database runs as one anti-join rather than a probe per planned row."""
    collection = _totals(user, f).filter(kind=ManifestKind.COLLECTION)
    served = (
        collection.values("category", district=F("division_id"))
        .annotate(kg=Sum("kg"), producers=Count("producer_id", distinct=True))
        .order_by()
    )
    # The plans the bureau sees (PlanQuerySet.division_path), narrowed like the manifests.
    planned_rows = PlanWaste.objects.filter(
        plan__status__in=IN_FORCE,
        plan__year__in=f.years,
        plan__site__organization__kind=OrganizationKind.PRODUCER,
        plan__site__division__code__startswith=f.prefix,
    )
    if f.category:
        planned_rows = planned_rows.filter(waste_code_id__in=_codes_in(f))
    if f.collector_id:
        # The plan names the collector as the receiver of this waste (HJ 1259 Table A.7).
        planned_rows = planned_rows.filter(receivers=f.collector_id)
    collected_here = collection.filter(
        site_id=OuterRef("plan__site_id"), category=OuterRef("waste_code__category__code")
    )

    def per_cell(rows: QuerySet[PlanWaste]) -> Any:
        return (
            rows.values(district=F("plan__site__division_id"), category=F("waste_code__category__code"))
            .annotate(producers=Count("plan__site__organization_id", distinct=True))
            .order_by()
        )

    planned = per_cell(planned_rows)
    uncovered = per_cell(planned_rows.filter(~Exists(collected_here)))
    cells: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for row in served:
        cells[(row["district"], row["category"])].update(kg=core.kg(row["kg"]), served=row["producers"])
    for row in planned:
        cells[(row["district"], row["category"])]["planned"] = row["producers"]
    for row in uncovered:
        cells[(row["district"], row["category"])]["uncovered"] = row["producers"]
    category_codes = {c for _d, c in cells}
    if f.category:
        category_codes.add(f.category)
    names = _category_names(category_codes)
    return Coverage(
        districts=_districts(f, {d for d, _c in cells}),
        categories=[Place(c, names.get(c, "")) for c in sorted(category_codes)],
        cells=[
            CoverageCell(
                district=d,
                category=c,
                served_kg=v.get("kg", Decimal("0.00")),
                served_producers=v.get("served", 0),
                planned_producers=v.get("planned", 0),
                uncovered_producers=v.get("uncovered", 0),
            )
            for (d, c), v in sorted(cells.items())
        ],
    )


# --- enterprises ------------------------------------------------------------------------------------


@dataclass
class EnterpriseRow:
    code: str
    name: str
    enrolled: int = 0
    contracted: int = 0
    served: int = 0

    @property
    def served_pct(self) -> float | None:
        return core.rate_pct(self.served, self.enrolled)


@dataclass(frozen=True)
class Enterprises:
    rows: list[EnterpriseRow]
    total: EnterpriseRow


def enterprises(user: Any, f: Filters) -> Enterprises:
    """Per district: producers enrolled, under contract in the period and served in the period (the
    collector and category filters narrow *under contract* and *served*, not the enrolled base)."""
    contracts = ServiceContract.objects.filter(producer_id=OuterRef("pk"), valid_from__lte=f.date_to).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=f.date_from)
    )
    if f.collector_id:
        contracts = contracts.filter(collector_id=f.collector_id)
    served = _totals(user, f).filter(kind=ManifestKind.COLLECTION, producer_id=OuterRef("pk"))
    producers = Organization.objects.visible_to(user).filter(
        kind=OrganizationKind.PRODUCER, division__code__startswith=f.prefix
    )

    def per_division(qs: QuerySet[Organization]) -> dict[str, int]:
        return dict(
            qs.values("division_id").annotate(n=Count("id")).order_by().values_list("division_id", "n")
        )

    # Three GROUP BY queries; each EXISTS sits in a WHERE clause, where it is one semi-join.
    counts = {
        "enrolled": per_division(producers),
        "contracted": per_division(producers.filter(Exists(contracts))),
        "served": per_division(producers.filter(Exists(served))),
    }
    out = []
    total = EnterpriseRow(code=f.division or f.scope_code, name="")
    for place in _districts(f, set().union(*counts.values())):
        row = EnterpriseRow(place.code, place.name, **{k: v.get(place.code, 0) for k, v in counts.items()})
        total.enrolled += row.enrolled
        total.contracted += row.contracted
        total.served += row.served
        out.append(row)
    return Enterprises(rows=out, total=total)


# --- manifests: state and receipt deadline ----------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    status: str
    label: str
    collection: int
    onward: int

    @property
    def total(self) -> int:
        return self.collection + self.onward


@dataclass
class Compliance:
    code: str
    name: str
    on_time: int = 0
    late: int = 0
    open_overdue: int = 0
    open_pending: int = 0

    @property
    def decided(self) -> int:
        """Manifests whose deadline has been met or missed (the pending ones are not yet either)."""
        return self.on_time + self.late + self.open_overdue

    @property
    def on_time_pct(self) -> float | None:
        return core.rate_pct(self.on_time, self.decided)


@dataclass(frozen=True)
class ManifestStats:
    states: list[StateCount]
    compliance: list[Compliance]
    compliance_total: Compliance


def _deadline_counts(qs: QuerySet[Manifest], today: dt.date, *group: Any) -> Any:
    """Count the manifests of ``qs`` (delivered, with a due date) by how their receipt met 办法 Art. 18."""
    received_on = TruncDate("received_at", tzinfo=_tz())
    return (
        qs.annotate(received_on=received_on)
        .values(*group)
        .annotate(
            on_time=Count("id", filter=Q(received_at__isnull=False, received_on__lte=F("receipt_due_on"))),
            late=Count("id", filter=Q(received_at__isnull=False, received_on__gt=F("receipt_due_on"))),
            open_overdue=Count(
                "id",
                filter=Q(received_at__isnull=True, status=ManifestStatus.DELIVERED, receipt_due_on__lt=today),
            ),
            open_pending=Count(
                "id",
                filter=Q(
                    received_at__isnull=True, status=ManifestStatus.DELIVERED, receipt_due_on__gte=today
                ),
            ),
        )
        .order_by()
    )


def _delivered(user: Any, f: Filters) -> QuerySet[Manifest]:
    qs = (
        _manifests(user, f)
        .exclude(status=ManifestStatus.CANCELLED)
        .filter(delivered_at__gte=f.start, delivered_at__lt=f.end, receipt_due_on__isnull=False)
    )
    if f.category:
        qs = qs.filter(_has_category(f))
    return qs


DEADLINE_COUNTS = ("on_time", "late", "open_overdue", "open_pending")


def deadline_rows(user: Any, f: Filters) -> list[dict[str, Any]]:
    """The manifests delivered in the period by how their receipt met 办法 Art. 18, per district and
    month of delivery (index in ``_month_keys(f)``): what ``manifest_stats`` sums per district and
    ``trend`` per month. One query."""
    delivered = _delivered(user, f).annotate(month=_month_of("delivered_at", f))
    return list(_deadline_counts(delivered, timezone.localdate(), "producer_site__division_id", "month"))


def _summed(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, int]]:
    out: dict[Any, dict[str, int]] = {}
    for r in rows:
        sums = out.setdefault(r[key], dict.fromkeys(DEADLINE_COUNTS, 0))
        for name in DEADLINE_COUNTS:
            sums[name] += r[name]
    return out


def manifest_stats(user: Any, f: Filters, deadlines: list[dict[str, Any]] | None = None) -> ManifestStats:
    """Manifests made in the period by current state (collection and onward), and those delivered in
    the period by receipt deadline (办法 Art. 18: 5 working days from delivery) per district.
    ``deadlines``: ``deadline_rows(user, f)`` when the caller has them already."""
    made = _manifests(user, f).filter(created_at__gte=f.start, created_at__lt=f.end)
    if f.category:
        made = made.filter(_has_category(f))
    counts = {
        (r["status"], r["kind"]): r["n"]
        for r in made.values("status", "kind").annotate(n=Count("id")).order_by()
    }
    states = [
        StateCount(
            status=str(value),
            label=str(label),
            collection=counts.get((value, ManifestKind.COLLECTION), 0),
            onward=counts.get((value, ManifestKind.ONWARD), 0),
        )
        for value, label in ManifestStatus.choices
    ]
    rows = _summed(deadline_rows(user, f) if deadlines is None else deadlines, "producer_site__division_id")
    total = Compliance(code=f.division or f.scope_code, name="")
    compliance = []
    for place in _districts(f, set(rows)):
        r = rows.get(place.code, {})
        row = Compliance(
            place.code,
            place.name,
            r.get("on_time", 0),
            r.get("late", 0),
            r.get("open_overdue", 0),
            r.get("open_pending", 0),
        )
        for name in ("on_time", "late", "open_overdue", "open_pending"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        compliance.append(row)
    return ManifestStats(states=states, compliance=compliance, compliance_total=total)


# --- bins -------------------------------------------------------------------------------------------


@dataclass
class BinRow:
    code: str
    name: str
    bands: dict[str, int] = field(default_factory=dict)
    over_threshold: int = 0

    @property
    def total(self) -> int:
        return sum(self.bands.values())


@dataclass(frozen=True)
class BinStats:
    bands: list[tuple[str, str]]  # (key, label) in order, the last one bins without a reading
    rows: list[BinRow]
    total: BinRow


def _band_case() -> Case:
    whens = [
        When(
            Q(state__fill_pct__gte=band.low) & (Q(state__fill_pct__lt=band.high) if band.high else Q()),
            then=Value(band.key),
        )
        for band in core.FILL_BANDS
    ]
    # Below the first band's lower bound cannot be stored; count it in the first band all the same.
    whens.append(When(state__fill_pct__lt=core.FILL_BANDS[0].low, then=Value(core.FILL_BANDS[0].key)))
    return Case(*whens, default=Value(core.NO_READING), output_field=CharField())


def bin_stats(user: Any, f: Filters) -> BinStats:
    """Enabled bins by the fill of their newest reading, and those at or over their own threshold, per
    district. The bins' state now: the period does not apply."""
    qs = Bin.objects.visible_to(user).filter(enabled=True, site__division__code__startswith=f.prefix)
    if f.collector_id:
        qs = qs.filter(collector_id=f.collector_id)
    if f.category:
        qs = qs.filter(
            Exists(
                Bin.waste_codes.through.objects.filter(
                    bin_id=OuterRef("pk"), wastecode__category__code=f.category
                )
            )
        )
    grouped = (
        qs.annotate(band=_band_case())
        .values("site__division_id", "band")
        .annotate(
            n=Count("id"),
            over=Count("id", filter=Q(state__fill_pct__gte=F("threshold_pct"))),
        )
        .order_by()
    )
    keys = [b.key for b in core.FILL_BANDS] + [core.NO_READING]
    by_code: dict[str, BinRow] = {}
    for r in grouped:
        row = by_code.setdefault(r["site__division_id"], BinRow(r["site__division_id"], ""))
        row.bands[r["band"]] = row.bands.get(r["band"], 0) + r["n"]
        row.over_threshold += r["over"]
    total = BinRow(code=f.division or f.scope_code, name="", bands=dict.fromkeys(keys, 0))
    rows = []
    for place in _districts(f, set(by_code)):
        found = by_code.get(place.code)
        row = BinRow(
            place.code,
            place.name,
            {k: (found.bands.get(k, 0) if found else 0) for k in keys},
            found.over_threshold if found else 0,
        )
        for k in keys:
            total.bands[k] += row.bands[k]
        total.over_threshold += row.over_threshold
        rows.append(row)
    labels = [(b.key, b.label) for b in core.FILL_BANDS] + [(core.NO_READING, "—")]
    return BinStats(bands=labels, rows=rows, total=total)


# --- monthly trend ----------------------------------------------------------------------------------


@dataclass
class TrendPoint(Amount):
    month: str = ""
    collection_manifests: int = 0
    producers_served: int = 0
    on_time: int = 0
    late: int = 0
    open_overdue: int = 0

    @property
    def on_time_pct(self) -> float | None:
        return core.rate_pct(self.on_time, self.on_time + self.late + self.open_overdue)


def trend(
    user: Any,
    f: Filters,
    months: list[MonthAmount] | None = None,
    deadlines: list[dict[str, Any]] | None = None,
) -> list[TrendPoint]:
    """Month by month: tonnes collected and transferred, collection manifests received and producers
    served (by month of receipt), and the receipt deadline met or missed (by month of delivery).
    ``months`` (the weights by month of ``tonnage(user, f)``) and ``deadlines``
    (``deadline_rows(user, f)``): what the caller has already (the page and the workbook), sparing
    their queries."""
    points = [TrendPoint(month=key) for key in _month_keys(f)]

    def point(index: int) -> TrendPoint:
        return points[index]

    month_index = _month_index(f)
    if months is None:
        weights = _totals(user, f).values("kind", "month").annotate(kg=Sum("kg")).order_by()
        for r in weights:
            point(month_index[r["month"]]).add(r["kind"], core.kg(r["kg"]))
    else:
        for p, amount in zip(points, months, strict=True):
            p.collected_kg, p.transferred_kg = amount.collected_kg, amount.transferred_kg
    # The collection manifests with something counted, and their producers: distinct counts over the
    # collection rows alone.
    served = (
        _totals(user, f)
        .filter(kind=ManifestKind.COLLECTION)
        .values("month")
        .annotate(
            manifests=Count("manifest_id", distinct=True), producers=Count("producer_id", distinct=True)
        )
        .order_by()
    )
    for r in served:
        p = point(month_index[r["month"]])
        p.collection_manifests, p.producers_served = r["manifests"], r["producers"]
    by_month = _summed(deadline_rows(user, f) if deadlines is None else deadlines, "month")
    for index, r in by_month.items():
        p = point(index)
        p.on_time, p.late, p.open_overdue = r["on_time"], r["late"], r["open_overdue"]
    return points


# --- choices for the filter form --------------------------------------------------------------------


@dataclass(frozen=True)
class FilterChoices:
    divisions: list[Place]
    collectors: list[Place]
    categories: list[Place]


def filter_choices(user: Any, f: Filters) -> FilterChoices:
    """What the form offers: the divisions inside the bureau's, the collectors with a client or a bin
    there, and the catalogue's categories."""
    divisions = [
        Place(c, n)
        for c, n in Division.objects.filter(code__startswith=f.scope_prefix).values_list("code", "name")
    ]
    collectors = (
        Organization.objects.filter(kind=OrganizationKind.COLLECTOR)
        .filter(
            Q(
                Exists(
                    ServiceContract.objects.filter(
                        collector_id=OuterRef("pk"), producer__division__code__startswith=f.scope_prefix
                    )
                )
            )
            | Q(
                Exists(
                    Bin.objects.filter(
                        collector_id=OuterRef("pk"), site__division__code__startswith=f.scope_prefix
                    )
                )
            )
            | Q(division__code__startswith=f.scope_prefix)
        )
        .order_by("name")
        .values_list("pk", "name")
    )
    categories = (
        HazardCategory.objects.filter(edition__is_current=True).order_by("code").values_list("code", "name")
    )
    return FilterChoices(
        divisions=divisions,
        collectors=[Place(str(pk), name) for pk, name in collectors],
        categories=[Place(c, n) for c, n in categories],
    )


# --- everything at once (the page and the workbook) ------------------------------------------------


@dataclass(frozen=True)
class Report:
    filters: Filters
    tonnage: Tonnage
    coverage: Coverage
    enterprises: Enterprises
    manifests: ManifestStats
    bins: BinStats
    trend: list[TrendPoint]


def statistics_report(user: Any, f: Filters) -> Report:
    weights = tonnage(user, f)
    deadlines = deadline_rows(user, f)
    return Report(
        filters=f,
        tonnage=weights,
        coverage=coverage(user, f),
        enterprises=enterprises(user, f),
        manifests=manifest_stats(user, f, deadlines),
        bins=bin_stats(user, f),
        trend=trend(user, f, weights.months, deadlines),
    )
