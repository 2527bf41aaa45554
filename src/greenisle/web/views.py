"""Pages. Each view reads through selectors (which apply .visible_to) and writes through one service."""

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from greenisle.accounts.choices import Role
from greenisle.accounts.middleware import SESSION_KEY
from greenisle.audit.models import Event
from greenisle.core.errors import ServiceError
from greenisle.devices.selectors import bin_list_visible_to
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.selectors import (
    driver_list_for,
    request_get_visible_to,
    request_list_visible_to,
    trip_get_visible_to,
    trip_list_visible_to,
    trips_for_driver,
    vehicle_list_visible_to,
)
from greenisle.dispatch.services import trip_assign
from greenisle.ledger.selectors import ledger_list_visible_to
from greenisle.manifests.choices import ManifestStatus, SignatureMethod
from greenisle.manifests.selectors import manifest_list_visible_to, object_timeline
from greenisle.manifests.services import (
    manifest_add_container,
    manifest_depart,
    manifest_sign,
)
from greenisle.supervision.models import Finding
from greenisle.supervision.selectors import division_overview
from greenisle.telemetry.models import Alert
from greenisle.web.forms import AssignForm, ContainerForm, SignatureCodeForm

PAGE_SIZE = 50


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _kind(request: HttpRequest) -> tuple[str | None, str | None]:
    m = request.user.current_membership  # type: ignore[union-attr]
    return (m.organization.kind, m.role) if m else (None, None)


def _service_call(request: HttpRequest, call: Callable[[], Any], success: str) -> bool:
    """Run one service; show its refusal (naming the field) as a message instead of a server error."""
    try:
        call()
    except ServiceError as exc:
        field = f" [{exc.field}]" if exc.field else ""
        messages.error(request, f"{exc.message}{field}")
        return False
    messages.success(request, success)
    return True


def role_required(kind: str, roles: set[str] | None = None) -> Callable[..., Any]:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            org_kind, role = _kind(request)
            if org_kind != kind or (roles is not None and role not in roles):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@require_POST
@login_required
def switch_membership(request: HttpRequest) -> HttpResponse:
    membership = request.user.memberships.filter(pk=request.POST.get("membership_id")).first()  # type: ignore[union-attr]
    if membership is None:
        messages.error(request, _("You do not hold that role."))
    else:
        request.session[SESSION_KEY] = membership.pk
    return redirect("web:home")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    kind, role = _kind(request)
    if kind == "collector" and role == Role.DRIVER:
        return redirect("web:driver")
    targets = {
        "producer": "web:producer",
        "collector": "web:command_centre",
        "carrier": "web:driver",
        "regulator": "web:regulator",
        "facility": "web:facility",
    }
    if kind in targets:
        return redirect(targets[kind])
    return render(request, "web/no_membership.html")


@role_required("producer")
def producer_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    to_sign = manifest_list_visible_to(user, status=ManifestStatus.DRAFT).prefetch_related(
        "lines__waste_code"
    )
    return render(
        request,
        "web/producer.html",
        {
            "bins": bin_list_visible_to(user)[:50],
            "requests": request_list_visible_to(user).exclude(status=RequestStatus.CLOSED)[:20],
            "to_sign": to_sign,
            "manifests": manifest_list_visible_to(user)[:20],
        },
    )


@role_required("collector", {Role.ADMIN, Role.DISPATCHER, Role.RECEIVER})
def command_centre(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    org = user.current_membership.organization
    open_requests = request_list_visible_to(user, status=RequestStatus.OPEN).filter(collector=org)
    form = AssignForm(
        requests=open_requests,
        vehicles=vehicle_list_visible_to(user).filter(collector=org),
        drivers=driver_list_for(org),
    )
    bins = bin_list_visible_to(user).filter(collector=org)
    incoming = manifest_list_visible_to(user, status=ManifestStatus.IN_TRANSIT).filter(receiver=org)
    live = {
        "bins": bins[:30],
        "bin_count": bins.count(),
        "over_count": bins.filter(state__fill_pct__gte=F("threshold_pct")).count(),
        "open_count": open_requests.count(),
        "incoming_count": incoming.count(),
        "alerts": Alert.objects.visible_to(user)
        .filter(device__collector=org, cleared_at__isnull=True)
        .select_related("device")[:20],
        "alert_count": Alert.objects.visible_to(user)
        .filter(device__collector=org, cleared_at__isnull=True)
        .count(),
    }
    if request.headers.get("HX-Request"):
        # htmx polls the live part (counters, bins by fill) so requests appear while you watch.
        return render(request, "web/_command_centre_live.html", live)
    return render(
        request,
        "web/command_centre.html",
        {
            **live,
            "open_requests": open_requests[:100],
            "assign_form": form,
            "trips": trip_list_visible_to(user).filter(collector=org)[:20],
            "incoming": incoming,
        },
    )


@require_POST
@role_required("collector", {Role.ADMIN, Role.DISPATCHER})
def assign(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    org = user.current_membership.organization
    form = AssignForm(
        request.POST,
        requests=request_list_visible_to(user, status=RequestStatus.OPEN).filter(collector=org),
        vehicles=vehicle_list_visible_to(user).filter(collector=org),
        drivers=driver_list_for(org),
    )
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(
                request, f"{form.fields[field].label if field in form.fields else field}: {' '.join(errors)}"
            )
        return redirect("web:command_centre")
    data = form.cleaned_data
    _service_call(
        request,
        lambda: trip_assign(
            actor=user,
            request_ids=data["request_ids"],
            vehicle_id=data["vehicle_id"],
            driver_id=data["driver_id"],
            service_date=data["service_date"],
        ),
        _("Requests assigned to the trip."),
    )
    return redirect("web:command_centre")


def _driver_stops(user: Any, day: Any) -> list[dict[str, Any]]:
    """Today's stops, grouped per producer on each trip (one manifest per producer, 办法 Art. 16)."""
    groups: list[dict[str, Any]] = []
    for trip in trips_for_driver(user, day):
        manifests = {
            m.producer_id: m
            for m in trip.manifests.exclude(status=ManifestStatus.CANCELLED).prefetch_related(
                "lines__waste_code"
            )
        }
        by_producer: dict[Any, dict[str, Any]] = {}
        for stop in trip.stops.all():
            req = stop.request
            group = by_producer.setdefault(
                req.producer_id,
                {
                    "trip": trip,
                    "producer": req.producer,
                    "site": req.site,
                    "stops": [],
                    "manifest": manifests.get(req.producer_id),
                },
            )
            codes = req.bin.waste_codes.all() if req.bin else []
            group["stops"].append(
                {
                    "stop": stop,
                    "request": req,
                    "form": ContainerForm(
                        initial={"request_id": req.pk}, waste_codes=codes, prefix=str(req.pk)
                    ),
                }
            )
        groups.extend(by_producer.values())
    return groups


@role_required("collector", {Role.ADMIN, Role.DISPATCHER, Role.DRIVER})
def driver_home(request: HttpRequest) -> HttpResponse:
    # Today by default; ?day=YYYY-MM-DD shows another day's route (tomorrow's, once published).
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    return render(
        request,
        "web/driver.html",
        {
            "day": day,
            "trips": list(trips_for_driver(request.user, day)),
            "groups": _driver_stops(request.user, day),
            "code_form": SignatureCodeForm(),
        },
    )


@require_POST
@role_required("collector", {Role.ADMIN, Role.DISPATCHER, Role.DRIVER})
def add_container(request: HttpRequest, request_id: Any) -> HttpResponse:
    req = request_get_visible_to(request.user, request_id)
    if req is None:
        raise Http404
    codes = req.bin.waste_codes.all() if req.bin else []
    form = ContainerForm(request.POST, waste_codes=codes, prefix=str(req.pk))
    if form.is_valid():
        data = form.cleaned_data
        _service_call(
            request,
            lambda: manifest_add_container(
                actor=request.user,
                request_id=req.pk,
                waste_code=data["waste_code"],
                weight_kg=data["weight_kg"],
                container_code=data["container_code"],
            ),
            _("Container recorded."),
        )
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
    return redirect("web:driver")


@require_POST
@login_required
def sign(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    method = request.POST.get("method", SignatureMethod.SESSION)
    code = request.POST.get("signature_code") or None
    _service_call(
        request,
        lambda: manifest_sign(
            actor=request.user, manifest_id=manifest_id, method=method, signature_code=code
        ),
        _("Manifest signed."),
    )
    return redirect(request.POST.get("next") or "web:home")


@require_POST
@role_required("collector", {Role.ADMIN, Role.DISPATCHER, Role.DRIVER})
def depart(request: HttpRequest, manifest_id: Any) -> HttpResponse:
    _service_call(
        request,
        lambda: manifest_depart(actor=request.user, manifest_id=manifest_id),
        _("Handed over: the manifest is in transit."),
    )
    return redirect("web:driver")


@role_required("regulator")
def regulator_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    rows = division_overview(user)
    return render(
        request,
        "web/regulator.html",
        {
            "rows": rows,
            "totals": {
                "producers": sum(r.producers for r in rows),
                "bins": sum(r.bins for r in rows),
                "over": sum(r.bins_over_threshold for r in rows),
                "open": sum(r.open_requests for r in rows),
                "transit": sum(r.manifests_in_transit for r in rows),
                "kg": sum(r.received_kg for r in rows),
            },
            "manifests": manifest_list_visible_to(user)[:15],
            "requests": request_list_visible_to(user).filter(
                status__in=[RequestStatus.OPEN, RequestStatus.ASSIGNED]
            )[:15],
            "events": Event.objects.visible_to(user).select_related("organization").order_by("-id")[:15],
            # Findings still being followed up (not closed or dismissed); the nav badge reuses the count.
            "open_findings": Finding.objects.visible_to(user).active().count(),
        },
    )


@role_required("regulator")
def overview_json(request: HttpRequest) -> JsonResponse:
    """The division overview as chart data (ECharts on the regulator's page)."""
    rows = division_overview(request.user)
    return JsonResponse(
        {
            "divisions": [r.name for r in rows],
            "series": {
                "bins": [r.bins for r in rows],
                "bins_over_threshold": [r.bins_over_threshold for r in rows],
                "open_requests": [r.open_requests for r in rows],
                "manifests_in_transit": [r.manifests_in_transit for r in rows],
            },
            "labels": {
                "bins": _("Bins"),
                "bins_over_threshold": _("Bins over threshold"),
                "open_requests": _("Open requests"),
                "manifests_in_transit": _("Manifests in transit"),
            },
        }
    )


@role_required("facility")
def facility_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/facility.html",
        {
            "manifests": manifest_list_visible_to(request.user)[:50],
            "ledger": ledger_list_visible_to(request.user)[:50],
        },
    )


@login_required
def requests_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    return render(
        request,
        "web/requests.html",
        {
            "page": _page(request, request_list_visible_to(request.user, status=status)),
            "status": status,
            "statuses": RequestStatus.choices,
        },
    )


@login_required
def request_detail(request: HttpRequest, request_id: Any) -> HttpResponse:
    obj = request_get_visible_to(request.user, request_id)
    if obj is None:
        raise Http404
    return render(
        request,
        "web/request_detail.html",
        {
            "req": obj,
            "timeline": object_timeline(request.user, object_type="dispatch.pickuprequest", object_id=obj.pk),
        },
    )


@login_required
def trip_detail(request: HttpRequest, trip_id: Any) -> HttpResponse:
    trip = trip_get_visible_to(request.user, trip_id)
    if trip is None:
        raise Http404
    return render(
        request,
        "web/trip_detail.html",
        {
            "trip": trip,
            "manifests": manifest_list_visible_to(request.user).filter(trip=trip),
        },
    )


@login_required
def manifests_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    return render(
        request,
        "web/manifests.html",
        {
            "page": _page(request, manifest_list_visible_to(request.user, status=status)),
            "status": status,
            "statuses": ManifestStatus.choices,
        },
    )


@login_required
def ledger(request: HttpRequest) -> HttpResponse:
    return render(request, "web/ledger.html", {"page": _page(request, ledger_list_visible_to(request.user))})


@login_required
def audit(request: HttpRequest) -> HttpResponse:
    qs = Event.objects.visible_to(request.user).select_related("organization").order_by("-id")
    object_id = request.GET.get("object_id")
    if object_id:
        qs = qs.filter(object_id=object_id)
    return render(request, "web/audit.html", {"page": _page(request, qs), "object_id": object_id})
