"""Reads of bins for pages, the API and dashboards."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from greenisle.devices.models import Bin


def bin_list_visible_to(user: Any) -> QuerySet[Bin]:
    """Bins the person may see, fullest first (the command-centre order)."""
    return (
        Bin.objects.visible_to(user)
        .select_related("site__organization", "site__division", "collector", "state")
        .prefetch_related("waste_codes")
        .order_by("-state__fill_pct", "serial")
    )


def bin_get_visible_to(user: Any, bin_id: Any) -> Bin | None:
    return bin_list_visible_to(user).filter(pk=bin_id).first()
