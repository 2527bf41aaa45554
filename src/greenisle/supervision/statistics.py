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

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
)

from greenisle.manifests.choices import ManifestKind
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Organization, ServiceContract
from greenisle.plans.models import IN_FORCE, PlanWaste
from greenisle.supervision import statistics_core as core
from greenisle.supervision.statistics_bins import BinStats, bin_stats
from greenisle.supervision.statistics_filters import (
    Filters,
    Place,
    category_names,
    codes_in,
    districts_of,
    month_index_of,
    month_keys,
    receipt_totals,
)
from greenisle.supervision.statistics_manifests import ManifestStats, deadline_rows, manifest_stats, summed

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
        receipt_totals(user, f)
        .values("category", "kind", "month", district=F("division_id"))
        .annotate(kg=Sum("kg"))
        .order_by()
    )
    month_index = month_index_of(f)
    categories: dict[str, CategoryAmount] = {}
    districts: dict[str, DistrictAmount] = {}
    months = [MonthAmount(month=key) for key in month_keys(f)]
    total = Amount()
    for row in rows:
        kind, weight, category = row["kind"], core.kg(row["kg"]), row["category"]
        categories.setdefault(category, CategoryAmount(code=category)).add(kind, weight)
        district = districts.setdefault(row["district"], DistrictAmount(code=row["district"]))
        district.add(kind, weight)
        district.by_category.setdefault(category, Amount()).add(kind, weight)
        months[month_index[row["month"]]].add(kind, weight)
        total.add(kind, weight)
    names = category_names(set(categories))
    for cat in categories.values():
        cat.name = names.get(cat.code, "")
    places = districts_of(f, set(districts))
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
    collection = receipt_totals(user, f).filter(kind=ManifestKind.COLLECTION)
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
        planned_rows = planned_rows.filter(waste_code_id__in=codes_in(f))
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
    names = category_names(category_codes)
    return Coverage(
        districts=districts_of(f, {d for d, _c in cells}),
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
    served = receipt_totals(user, f).filter(kind=ManifestKind.COLLECTION, producer_id=OuterRef("pk"))
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
    for place in districts_of(f, set().union(*counts.values())):
        row = EnterpriseRow(place.code, place.name, **{k: v.get(place.code, 0) for k, v in counts.items()})
        total.enrolled += row.enrolled
        total.contracted += row.contracted
        total.served += row.served
        out.append(row)
    return Enterprises(rows=out, total=total)


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
    points = [TrendPoint(month=key) for key in month_keys(f)]

    def point(index: int) -> TrendPoint:
        return points[index]

    month_index = month_index_of(f)
    if months is None:
        weights = receipt_totals(user, f).values("kind", "month").annotate(kg=Sum("kg")).order_by()
        for r in weights:
            point(month_index[r["month"]]).add(r["kind"], core.kg(r["kg"]))
    else:
        for p, amount in zip(points, months, strict=True):
            p.collected_kg, p.transferred_kg = amount.collected_kg, amount.transferred_kg
    # The collection manifests with something counted, and their producers: distinct counts over the
    # collection rows alone.
    served = (
        receipt_totals(user, f)
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
    by_month = summed(deadline_rows(user, f) if deadlines is None else deadlines, "month")
    for index, r in by_month.items():
        p = point(index)
        p.on_time, p.late, p.open_overdue = r["on_time"], r["late"], r["open_overdue"]
    return points


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
