"""Helpers shared by the obligations pages (plans, declarations, filing completeness)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.organizations.choices import OrganizationKind
from greenisle.plans.models import IN_FORCE, ManagementClass, ManagementPlan
from greenisle.plans.services import EDITABLE

# --- who is asking ----------------------------------------------------------------------------------


def membership_or_404(request: HttpRequest) -> Any:
    membership = getattr(request.user, "current_membership", None)
    if membership is None:
        raise Http404
    return membership


def uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def allowed(check: Any) -> bool:
    try:
        check()
    except PermissionDenied:
        return False
    return True


def show_error(request: HttpRequest, exc: ServiceError) -> None:
    field = f" [{exc.field}]" if exc.field else ""
    messages.error(request, f"{exc.message}{field}")


def class_label(value: str) -> str:
    return str(dict(ManagementClass.choices).get(value, "—")) if value else "—"


def plan_status(plans: Sequence[ManagementPlan]) -> dict[str, Any]:
    """One site's plans of one year (any order): the revision in force, the one being worked on, and
    the state the pages show: approved, filed, returned, draft or none."""
    ordered = sorted(plans, key=lambda p: p.revision, reverse=True)
    in_force = next((p for p in ordered if p.status in IN_FORCE), None)
    working = next((p for p in ordered if p.status in EDITABLE), None)
    if in_force is not None:
        state = in_force.status
    elif working is not None:
        state = working.status
    else:
        state = "none"
    return {
        "in_force": in_force,
        "working": working,
        "state": state,
        "latest": ordered[0] if ordered else None,
    }


def obligations_url(site_id: Any, membership: Any) -> str:
    url = reverse("web:obligations")
    if membership.organization.kind == OrganizationKind.COLLECTOR and site_id:
        url += "?" + urlencode({"site": str(site_id)})
    return url
