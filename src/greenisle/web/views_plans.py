"""The dispatcher's route plans: plan a day, review it on a map and in a table, adjust, publish."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import DISPATCH_ROLES
from greenisle.dispatch.choices import PlanStatus, RequestStatus
from greenisle.dispatch.route_plans import (
    route_plan_insert_urgent,
    route_plan_move_stop,
    route_plan_publish,
    route_plan_reoptimise,
    route_plan_request,
)
from greenisle.dispatch.selectors import (
    driver_list_for,
    request_list_visible_to,
    route_plan_geojson,
    route_plan_get_visible_to,
    route_plan_list_visible_to,
    route_plan_view,
    trip_geojson,
    trip_list_visible_to,
)
from greenisle.web.forms import MoveStopForm, PlanRequestForm
from greenisle.web.views import _service_call, role_required

dispatcher_only = role_required("collector", DISPATCH_ROLES)


def _form_errors(request: HttpRequest, form: Any) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else field
        messages.error(request, f"{label}: {' '.join(errors)} [{field}]")


@dispatcher_only
def plans(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if request.method == "POST":
        form = PlanRequestForm(request.POST)
        if not form.is_valid():
            _form_errors(request, form)
            return redirect("web:plans")
        created: dict[str, Any] = {}

        def call() -> None:
            created["plan"] = route_plan_request(
                actor=user,
                service_date=form.cleaned_data["service_date"],
                seconds=form.cleaned_data["seconds"],
            )

        if _service_call(request, call, _("Planning started.")):
            return redirect("web:plan", plan_id=created["plan"].pk)
        return redirect("web:plans")
    return render(
        request,
        "web/plans.html",
        {"plans": route_plan_list_visible_to(user)[:50], "form": PlanRequestForm()},
    )


def _plan_or_404(request: HttpRequest, plan_id: Any) -> Any:
    plan = route_plan_get_visible_to(request.user, plan_id)
    if plan is None:
        raise Http404
    return plan


@dispatcher_only
def plan_detail(request: HttpRequest, plan_id: Any) -> HttpResponse:
    user: Any = request.user
    plan = _plan_or_404(request, plan_id)
    if request.headers.get("HX-Request"):
        # Polled while the planner works; once it is done the page reloads with the plan.
        response = render(request, "web/_plan_progress.html", {"plan": plan})
        if plan.status not in (PlanStatus.QUEUED, PlanStatus.SOLVING):
            response["HX-Refresh"] = "true"
        return response
    org = user.current_membership.organization
    view = route_plan_view(plan)
    return render(
        request,
        "web/plan_detail.html",
        {
            "plan": plan,
            "view": view,
            "drivers": driver_list_for(org),
            "open_requests": request_list_visible_to(user, status=RequestStatus.OPEN).filter(collector=org)[
                :200
            ]
            if plan.status == PlanStatus.PUBLISHED
            else [],
            "working": plan.status in (PlanStatus.QUEUED, PlanStatus.SOLVING),
            "editable": plan.status == PlanStatus.READY,
        },
    )


@dispatcher_only
def plan_geojson(request: HttpRequest, plan_id: Any) -> JsonResponse:
    return JsonResponse(route_plan_geojson(_plan_or_404(request, plan_id)))


@require_POST
@dispatcher_only
def plan_move(request: HttpRequest, plan_id: Any) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    form = MoveStopForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        data = form.cleaned_data
        _service_call(
            request,
            lambda: route_plan_move_stop(
                actor=request.user,
                plan_id=plan.pk,
                stop=data["stop"],
                vehicle=data["vehicle"],
                position=data["position"] - 1,
            ),
            _("Stop moved."),
        )
    return redirect("web:plan", plan_id=plan.pk)


@require_POST
@dispatcher_only
def plan_reoptimise(request: HttpRequest, plan_id: Any) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    locked = request.POST.getlist("locked")
    _service_call(
        request,
        lambda: route_plan_reoptimise(actor=request.user, plan_id=plan.pk, locked=locked),
        _("Re-optimising the unlocked routes."),
    )
    return redirect("web:plan", plan_id=plan.pk)


@require_POST
@dispatcher_only
def plan_publish(request: HttpRequest, plan_id: Any) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    drivers = {
        key.removeprefix("driver-"): value
        for key, value in request.POST.items()
        if key.startswith("driver-") and value
    }
    _service_call(
        request,
        lambda: route_plan_publish(actor=request.user, plan_id=plan.pk, drivers=drivers),
        _("Plan published: the drivers have their routes."),
    )
    return redirect("web:plan", plan_id=plan.pk)


@require_POST
@dispatcher_only
def plan_urgent(request: HttpRequest, plan_id: Any) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    request_id = request.POST.get("request_id", "")
    if not request_id:
        messages.error(request, _("Choose a pickup request.") + " [request_id]")
    else:
        _service_call(
            request,
            lambda: route_plan_insert_urgent(actor=request.user, plan_id=plan.pk, request_id=request_id),
            _("Urgent request inserted."),
        )
    return redirect("web:plan", plan_id=plan.pk)


@role_required("collector", {*DISPATCH_ROLES, Role.DRIVER})
def trip_geojson_view(request: HttpRequest, trip_id: Any) -> JsonResponse:
    """A trip's map data: for its driver (their own trips only) and the collector's dispatchers."""
    user: Any = request.user
    trips = trip_list_visible_to(user)
    if user.current_membership.role == Role.DRIVER:
        trips = trips.filter(driver=user)
    trip = trips.filter(pk=trip_id).first()
    if trip is None:
        raise Http404
    return JsonResponse(trip_geojson(trip))
