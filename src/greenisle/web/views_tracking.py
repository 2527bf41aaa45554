"""The command centre's live fleet map: where the collector's trucks are now, and their open alerts."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from greenisle.tracking.selectors import vehicle_positions_geojson
from greenisle.web.views import role_required


@role_required("collector")
def fleet_geojson(request: HttpRequest) -> JsonResponse:
    """The newest position of each truck of the member's collector, with its open alerts (GeoJSON; the
    open alerts of the whole fleet also as the member ``alerts``). Members of other organisations: 404."""
    user: Any = request.user
    return JsonResponse(vehicle_positions_geojson(user.current_membership.organization))
