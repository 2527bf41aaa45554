"""The regulator's command-centre map page (监管指挥中心地图): district boundaries, bins by fill, trucks,
warehouses, facilities and open findings of the jurisdiction on one Leaflet map, refreshed live.

The page is the frame; the layers come from the map API (``supervision.api_map``) with the same filters,
so the page and any other client see the same data. Filters that are malformed or outside the
jurisdiction are refused with the field named (400/403) and the map falls back to the whole jurisdiction.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from greenisle.core.errors import ServiceError
from greenisle.supervision import map_layers
from greenisle.web.views import role_required

# How often the live layers (bins, trucks, findings) are read again, in seconds; ?refresh= overrides.
REFRESH_SECONDS = 15
REFRESH_BOUNDS = (2, 600)


def _refresh(raw: str) -> int:
    try:
        seconds = int(raw)
    except ValueError:
        return REFRESH_SECONDS
    return min(max(seconds, REFRESH_BOUNDS[0]), REFRESH_BOUNDS[1])


def _labels() -> dict[str, str]:
    """What the map's script writes into popups and the side list, in the active language."""
    return {
        "open": _("Open its page"),
        "audit": _("Audit trail"),
        "object_audit": _("Audit trail of the object"),
        "fill": _("Fill"),
        "threshold": _("Threshold"),
        "producer": _("Producer"),
        "collector": _("Collector"),
        "reported": _("Last reading"),
        "offline": _("Offline"),
        "speed": _("Speed"),
        "trip": _("Today's trip"),
        "quiet": _("No fix for over 30 minutes"),
        "warehouse": _("Warehouse"),
        "depot": _("Depot"),
        "facility": _("Facility"),
        "organisation_audit": _("Audit trail of the organisation"),
        "severity": _("Grade"),
        "deadline": _("Deadline"),
        "overdue": _("overdue"),
        "no_place": _("no site on record: not on the map"),
        "no_findings": _("No open findings."),
        "updated": _("updated"),
        "failed": _("Refresh failed"),
        "filter_district": _("Show only this district"),
    }


@role_required("regulator")
def supervision_map(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    status = 200
    error = ""
    raw = {key: request.GET.get(key, "").strip() for key in ("division", "collector", "category")}
    try:
        filters = map_layers.map_filters_parse(user, **raw)
    except ServiceError as exc:
        status = exc.status
        error = f"{exc.message} [{exc.field}]" if exc.field else exc.message
        raw = {"division": "", "collector": "", "category": ""}
        filters = map_layers.map_filters_parse(user)
    query = urlencode({k: v for k, v in raw.items() if v})
    suffix = f"?{query}" if query else ""
    findings = map_layers.map_findings(user, filters)["features"]
    return render(
        request,
        "web/supervision_map.html",
        {
            "filters": raw,
            "error": error,
            "divisions": map_layers.map_divisions(user),
            "collectors": map_layers.map_collectors(user),
            "categories": map_layers.map_categories(),
            "legend": map_layers.map_legend(),
            "findings": [f["properties"] | {"placed": f["geometry"] is not None} for f in findings],
            "refresh": _refresh(request.GET.get("refresh", "")),
            "default_refresh": REFRESH_SECONDS,
            "sources": {
                "districts": f"/api/v1/map/districts{suffix}",
                "bins": f"/api/v1/map/bins{suffix}",
                "trucks": f"/api/v1/map/trucks{suffix}",
                "sites": f"/api/v1/map/sites{suffix}",
                "findings": f"/api/v1/map/findings{suffix}",
            },
            "labels": _labels(),
        },
        status=status,
    )
