"""The regulator's statistics as JSON (the charts of /regulator/statistics/ read these): every endpoint
takes the same filters and answers for the bureau's own division only. Weights in kilograms and
tonnes; a period defaults to this year up to today."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from greenisle.api.auth import person_auth
from greenisle.api.schemas import ErrorOut
from greenisle.supervision import statistics
from greenisle.supervision.statistics_bins import bin_stats
from greenisle.supervision.statistics_filters import Filters, statistics_filters
from greenisle.supervision.statistics_manifests import manifest_stats

router = Router(tags=["statistics"], auth=person_auth)
ERRORS = {400: ErrorOut, 403: ErrorOut}


class StatisticsQuery(Schema):
    date_from: str | None = Field(None, description="YYYY-MM-DD, local date; default 1 January this year")
    date_to: str | None = Field(None, description="YYYY-MM-DD, included; default today")
    division: str | None = Field(
        None, description="a division code inside yours (320602, or 320600 the city)"
    )
    collector: str | None = Field(None, description="a collector's organisation id")
    category: str | None = Field(None, description="a 名录 category, HW01–HW50")


class FiltersOut(Schema):
    date_from: str
    date_to: str
    division: str | None
    division_name: str
    collector: str | None
    collector_name: str
    category: str | None
    category_name: str


def _filters(request: HttpRequest, query: StatisticsQuery) -> Filters:
    return statistics_filters(request.user, **query.dict())


def filters_out(f: Filters) -> dict[str, Any]:
    return {
        "date_from": f.date_from.isoformat(),
        "date_to": f.date_to.isoformat(),
        "division": f.division,
        "division_name": f.division_name,
        "collector": str(f.collector_id) if f.collector_id else None,
        "collector_name": f.collector_name,
        "category": f.category,
        "category_name": f.category_name,
    }


# --- tonnage ----------------------------------------------------------------------------------------


class AmountOut(Schema):
    collected_kg: float
    transferred_kg: float
    collected_t: float
    transferred_t: float


class CategoryAmountOut(AmountOut):
    code: str = Field(description="HW category")
    name: str


class DistrictCategoryOut(AmountOut):
    category: str


class DistrictAmountOut(AmountOut):
    code: str = Field(description="division code")
    name: str
    by_category: list[DistrictCategoryOut]

    @staticmethod
    def resolve_by_category(obj: Any) -> list[dict[str, Any]]:
        return [{**_amount(a), "category": c} for c, a in sorted(obj.by_category.items())]


class MonthAmountOut(AmountOut):
    month: str = Field(description="YYYY-MM")


class TonnageOut(Schema):
    filters: FiltersOut
    categories: list[CategoryAmountOut]
    districts: list[DistrictAmountOut]
    months: list[MonthAmountOut]
    total: AmountOut


def _amount(a: statistics.Amount) -> dict[str, Any]:
    return {
        "collected_kg": a.collected_kg,
        "transferred_kg": a.transferred_kg,
        "collected_t": a.collected_t,
        "transferred_t": a.transferred_t,
    }


@router.get("/statistics/tonnage", response={200: TonnageOut, **ERRORS})
def statistics_tonnage(request: HttpRequest, query: Query[StatisticsQuery]) -> Any:
    """Tonnes collected (collection manifests received) and transferred (onward manifests received) by
    HW category, by district (with district × category) and by month."""
    f = _filters(request, query)
    result = statistics.tonnage(request.user, f)
    return {
        "filters": filters_out(f),
        "categories": result.categories,
        "districts": result.districts,
        "months": result.months,
        "total": result.total,
    }


# --- coverage ---------------------------------------------------------------------------------------


class PlaceOut(Schema):
    code: str
    name: str


class CoverageCellOut(Schema):
    district: str
    category: str
    served_kg: float
    served_t: float
    served_producers: int
    planned_producers: int = Field(description="producers whose plan in force lists the category")
    uncovered_producers: int = Field(description="of those, not collected from in the period")
    gap: bool


class CoverageOut(Schema):
    filters: FiltersOut
    districts: list[PlaceOut]
    categories: list[PlaceOut]
    cells: list[CoverageCellOut]
    gaps: int


@router.get("/statistics/coverage", response={200: CoverageOut, **ERRORS})
def statistics_coverage(request: HttpRequest, query: Query[StatisticsQuery]) -> Any:
    """区域、种类全覆盖: divisions × HW categories, the weight and producers served, and the cells where a
    producer's plan in force lists the category but nothing was collected (gaps)."""
    f = _filters(request, query)
    result = statistics.coverage(request.user, f)
    return {
        "filters": filters_out(f),
        "districts": result.districts,
        "categories": result.categories,
        "cells": result.cells,
        "gaps": result.gaps,
    }


# --- enterprises ------------------------------------------------------------------------------------


class EnterpriseRowOut(Schema):
    code: str
    name: str
    enrolled: int = Field(description="producers registered on the platform")
    contracted: int = Field(description="with a service contract in force in the period")
    served: int = Field(description="with a collection manifest received in the period")
    served_pct: float | None


class EnterprisesOut(Schema):
    filters: FiltersOut
    rows: list[EnterpriseRowOut]
    total: EnterpriseRowOut


@router.get("/statistics/enterprises", response={200: EnterprisesOut, **ERRORS})
def statistics_enterprises(request: HttpRequest, query: Query[StatisticsQuery]) -> Any:
    """Producers enrolled, under contract and served, per district."""
    f = _filters(request, query)
    result = statistics.enterprises(request.user, f)
    return {"filters": filters_out(f), "rows": result.rows, "total": result.total}


# --- manifests --------------------------------------------------------------------------------------


class StateCountOut(Schema):
    status: str
    label: str
    collection: int
    onward: int
    total: int


class ComplianceOut(Schema):
    code: str
    name: str
    on_time: int
    late: int
    open_overdue: int
    open_pending: int
    on_time_pct: float | None


class ManifestStatsOut(Schema):
    filters: FiltersOut
    states: list[StateCountOut]
    compliance: list[ComplianceOut]
    compliance_total: ComplianceOut


@router.get("/statistics/manifests", response={200: ManifestStatsOut, **ERRORS})
def statistics_manifests(request: HttpRequest, query: Query[StatisticsQuery]) -> Any:
    """Manifests made in the period by state, and those delivered in the period by receipt deadline
    (办法 Art. 18: 5 working days): on time, late, still open past the deadline, open within it."""
    f = _filters(request, query)
    result = manifest_stats(request.user, f)
    return {
        "filters": filters_out(f),
        "states": result.states,
        "compliance": result.compliance,
        "compliance_total": result.compliance_total,
    }


# --- bins -------------------------------------------------------------------------------------------


class BinRowOut(Schema):
    code: str
    name: str
    bands: dict[str, int]
    over_threshold: int
    total: int


class BinStatsOut(Schema):
    filters: FiltersOut
    bands: list[PlaceOut] = Field(description="fill bands in order; 'none': no reading yet")
    rows: list[BinRowOut]
    total: BinRowOut


@router.get("/statistics/bins", response={200: BinStatsOut, **ERRORS})
def statistics_bins(request: HttpRequest, query: Query[StatisticsQuery]) -> Any:
    """Enabled smart bins by fill band of their newest reading and at/over their threshold (now)."""
    f = _filters(request, query)
    result = bin_stats(request.user, f)
    return {
        "filters": filters_out(f),
        "bands": [{"code": k, "name": label} for k, label in result.bands],
        "rows": result.rows,
        "total": result.total,
    }


# --- trend ------------------------------------------------------------------------------------------


class TrendPointOut(AmountOut):
    month: str
    collection_manifests: int
    producers_served: int
    on_time: int
    late: int
    open_overdue: int
    on_time_pct: float | None


class TrendOut(Schema):
    filters: FiltersOut
    months: list[TrendPointOut]


@router.get("/statistics/trend", response={200: TrendOut, **ERRORS})
def statistics_trend(request: HttpRequest, query: Query[StatisticsQuery]) -> Any:
    """Month by month: tonnes collected and transferred, manifests received, producers served and the
    receipt deadline met."""
    f = _filters(request, query)
    return {"filters": filters_out(f), "months": statistics.trend(request.user, f)}
