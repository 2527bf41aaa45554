"""The command-centre map's layers in the API, as GeoJSON: districts, bins, trucks, warehouses and
facilities, findings. Regulators only, scoped to their jurisdiction; filters by division, collector and
hazard category (a filter outside the jurisdiction: 403; malformed or unknown: 400; both name the field)."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, JsonResponse
from ninja import Field, Query, Router, Schema

from greenisle.api.auth import person_auth
from greenisle.api.schemas import ErrorOut
from greenisle.supervision import map_layers

router = Router(tags=["map"], auth=person_auth)
ERRORS: dict[int, Any] = {400: ErrorOut, 403: ErrorOut}


class FeatureOut(Schema):
    type: Literal["Feature"]
    id: str | None = None
    geometry: dict[str, Any] | None = Field(description="GeoJSON geometry (WGS 84 lon/lat); null: no place")
    properties: dict[str, Any]


class FeatureCollectionOut(Schema):
    type: Literal["FeatureCollection"]
    features: list[FeatureOut]
    generated_at: str | None = Field(None, description="when the layer was read (live layers)")


class DivisionIn(Schema):
    division: str = Field(
        "", description="a division code inside your jurisdiction (320602 a district, 320600 the city)"
    )


class MapFiltersIn(DivisionIn):
    collector: str = Field("", description="a collector's id")
    category: str = Field(
        "", description="a hazard category, HW01–HW50 (narrows bins and warehouses/facilities)"
    )


def _filters(request: HttpRequest, given: DivisionIn) -> map_layers.MapFilters:
    return map_layers.map_filters_parse(
        request.user,
        division=given.division,
        collector=getattr(given, "collector", ""),
        category=getattr(given, "category", ""),
    )


def _geojson(collection: dict[str, Any]) -> JsonResponse:
    # Returned as it is: the layers are built for the map, and a 10,000-bin layer need not be re-validated.
    return JsonResponse(collection, json_dumps_params={"ensure_ascii": False, "separators": (",", ":")})


@router.get(
    "/map/districts",
    response={200: FeatureCollectionOut, 503: ErrorOut, **ERRORS},
    summary="District boundaries (GeoJSON, today's names and codes)",
)
def districts(request: HttpRequest, given: Query[DivisionIn]) -> Any:
    filters = _filters(request, given)
    return _geojson(map_layers.map_districts(request.user, filters))


@router.get(
    "/map/bins", response={200: FeatureCollectionOut, **ERRORS}, summary="Smart bins by fill (GeoJSON)"
)
def bins(request: HttpRequest, given: Query[MapFiltersIn]) -> Any:
    filters = _filters(request, given)
    return _geojson(map_layers.map_bins(request.user, filters))


@router.get(
    "/map/trucks",
    response={200: FeatureCollectionOut, **ERRORS},
    summary="Trucks' newest positions (GeoJSON)",
)
def trucks(request: HttpRequest, given: Query[MapFiltersIn]) -> Any:
    filters = _filters(request, given)
    return _geojson(map_layers.map_trucks(request.user, filters))


@router.get(
    "/map/sites",
    response={200: FeatureCollectionOut, **ERRORS},
    summary="Collectors' warehouses and facilities (GeoJSON)",
)
def sites(request: HttpRequest, given: Query[MapFiltersIn]) -> Any:
    filters = _filters(request, given)
    return _geojson(map_layers.map_sites(request.user, filters))


@router.get(
    "/map/findings", response={200: FeatureCollectionOut, **ERRORS}, summary="Open findings (GeoJSON)"
)
def findings(request: HttpRequest, given: Query[MapFiltersIn]) -> Any:
    filters = _filters(request, given)
    return _geojson(map_layers.map_findings(request.user, filters))
