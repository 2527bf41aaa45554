"""Reads of bins for pages, the API and dashboards."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.utils import timezone

from greenisle.devices.models import Bin
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import ServiceContract, Site


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


def client_sites_for(collector: Any) -> QuerySet[Site]:
    """Sites where the collector may put a bin: those of producers with a service contract in force."""
    producers = ServiceContract.objects.active().filter(collector=collector).values("producer_id")
    return (
        Site.objects.filter(organization_id__in=producers, organization__kind=OrganizationKind.PRODUCER)
        .select_related("organization", "division")
        .order_by("organization__name", "name")
    )


class Connection:
    """How a bin is reporting, as the collector's staff see it."""

    DISABLED = "disabled"
    NEVER = "never"  # registered, never heard from: perhaps not installed yet
    ONLINE = "online"
    OFFLINE = "offline"


def bin_connection(obj: Bin, now: dt.datetime | None = None) -> str:
    """Offline once ``telemetry_maintain`` marked it, or once N reporting intervals passed without a
    reading (so the page is right even between two maintenance runs)."""
    if not obj.enabled:
        return Connection.DISABLED
    try:
        state = obj.state
    except ObjectDoesNotExist:
        return Connection.NEVER
    if state.received_at is None:
        return Connection.NEVER
    if state.offline_since is not None:
        return Connection.OFFLINE
    missed = settings.GREENISLE["OFFLINE_MISSED_INTERVALS"]
    deadline = state.received_at + dt.timedelta(seconds=missed * obj.reporting_interval_s)
    return Connection.OFFLINE if deadline < (now or timezone.now()) else Connection.ONLINE
