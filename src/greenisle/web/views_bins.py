"""Bin pages. Everyone who may see a bin gets the list and the bin's page; the staff of the collector that
runs it also see how it reports (transport, last seen, online or offline, readings accepted, duplicate and
rejected). The collector's administrator provisions: a new bin, changes, enable or disable, new
credentials, and an import from CSV or Excel. Secrets are shown once, on the page that answers the post,
which no cache keeps."""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from greenisle.accounts.choices import Role
from greenisle.core.errors import ServiceError
from greenisle.devices.importing import ImportReport, bins_import, client_sites_csv, template_csv
from greenisle.devices.selectors import (
    bin_connection,
    bin_get_visible_to,
    bin_list_visible_to,
    client_sites_for,
)
from greenisle.devices.services import (
    bin_create,
    bin_rotate_credentials,
    bin_set_enabled,
    bin_update,
    can_provision,
)
from greenisle.devices.tables import COLUMNS, MAX_BYTES, MAX_ROWS
from greenisle.devices.validation import BinInvalid
from greenisle.dispatch.selectors import request_list_visible_to
from greenisle.manifests.selectors import object_timeline
from greenisle.web.forms import BinForm, BinImportForm, RotateCredentialsForm
from greenisle.web.views import PAGE_SIZE, _kind, _page, role_required

ADMIN = {Role.ADMIN}
STAFF = {Role.ADMIN, Role.DISPATCHER}
RESULT_ROWS_SHOWN = 1000


def _operator_of(request: HttpRequest, obj: Any) -> bool:
    membership = request.user.current_membership  # type: ignore[union-attr]
    return membership is not None and membership.organization_id == obj.collector_id


def _csv_data_url(text: str) -> str:
    """A CSV as a link target (with a BOM so that Excel reads UTF-8): nothing is kept on the server."""
    payload = base64.b64encode(("\ufeff" + text).encode("utf-8")).decode("ascii")
    return f"data:text/csv;charset=utf-8;base64,{payload}"


def _credentials_csv(obj: Any, credentials: dict[str, str]) -> str:
    report = ImportReport(dry_run=False, filename="", rows=[], ignored_columns=[])
    report.credentials = [{"serial": obj.serial, **credentials}]
    return report.credentials_csv()


def _show_credentials(
    request: HttpRequest, obj: Any, credentials: dict[str, str], heading: str
) -> HttpResponse:
    return render(
        request,
        "web/bin_credentials.html",
        {
            "bin": obj,
            "credentials": credentials,
            "heading": heading,
            "csv_url": _csv_data_url(_credentials_csv(obj, credentials)),
        },
    )


def _form_errors(form: BinForm, exc: ServiceError) -> None:
    """Put the service's refusals next to the fields they name."""
    errors = exc.errors if isinstance(exc, BinInvalid) else [(exc.field or "", exc.message)]
    for field, message in errors:
        form.add_error(field if field in form.fields else None, message)


def _own_bin(request: HttpRequest, bin_id: Any) -> Any:
    obj = bin_get_visible_to(request.user, bin_id)
    if obj is None or not _operator_of(request, obj):
        raise Http404
    return obj


# --- for everyone who may see bins ------------------------------------------------------------------


@login_required
def bins(request: HttpRequest) -> HttpResponse:
    qs = bin_list_visible_to(request.user)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(
            Q(serial__icontains=q) | Q(name__icontains=q) | Q(site__organization__name__icontains=q)
        )
    kind, _role = _kind(request)
    page = _page(request, qs)
    if kind == "collector":
        for b in page.object_list:
            b.connection = bin_connection(b)
    return render(
        request,
        "web/bins.html",
        {
            "page": page,
            "q": q,
            "operator_view": kind == "collector",
            "can_provision": can_provision(request.user),
            "page_size": PAGE_SIZE,
        },
    )


@login_required
def bin_detail(request: HttpRequest, bin_id: Any) -> HttpResponse:
    obj = bin_get_visible_to(request.user, bin_id)
    if obj is None:
        raise Http404
    operator = _operator_of(request, obj)
    return render(
        request,
        "web/bin_detail.html",
        {
            "bin": obj,
            "readings": obj.readings.order_by("-observed_at")[:20],
            "requests": request_list_visible_to(request.user).filter(bin=obj)[:20],
            "operator_view": operator,
            "connection": bin_connection(obj),
            "state": getattr(obj, "state", None),
            "alerts": obj.alerts.select_related("device")[:20],
            "can_provision": operator and can_provision(request.user),
            "rotate_form": RotateCredentialsForm(),
            "timeline": object_timeline(request.user, object_type="devices.bin", object_id=obj.pk),
        },
    )


# --- for the collector's administrator --------------------------------------------------------------


@never_cache
@role_required("collector", ADMIN)
def bin_new(request: HttpRequest) -> HttpResponse:
    collector = request.user.current_membership.organization  # type: ignore[union-attr]
    form = BinForm(request.POST or None, sites=client_sites_for(collector))
    if request.method == "POST" and form.is_valid():
        try:
            obj, credentials = bin_create(actor=request.user, collector=collector, **form.service_values())
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            return _show_credentials(request, obj, credentials, _("Bin registered"))
    return render(request, "web/bin_form.html", {"form": form, "bin": None})


@never_cache
@role_required("collector", ADMIN)
def bin_edit(request: HttpRequest, bin_id: Any) -> HttpResponse:
    obj = _own_bin(request, bin_id)
    collector = request.user.current_membership.organization  # type: ignore[union-attr]
    form = BinForm(request.POST or None, sites=client_sites_for(collector), instance=obj)
    if request.method == "POST" and form.is_valid():
        try:
            obj, credentials = bin_update(actor=request.user, bin_id=obj.pk, **form.service_values())
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            if credentials:
                return _show_credentials(request, obj, credentials, _("Bin saved"))
            messages.success(request, _("Bin saved."))
            return redirect("web:bin", bin_id=obj.pk)
    return render(request, "web/bin_form.html", {"form": form, "bin": obj})


@require_POST
@role_required("collector", ADMIN)
def bin_enabled(request: HttpRequest, bin_id: Any) -> HttpResponse:
    obj = _own_bin(request, bin_id)
    enabled = request.POST.get("enabled") == "1"
    try:
        bin_set_enabled(actor=request.user, bin_id=obj.pk, enabled=enabled)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Bin enabled.") if enabled else _("Bin disabled: its reports are refused.")
        )
    return redirect("web:bin", bin_id=obj.pk)


@never_cache
@require_POST
@role_required("collector", ADMIN)
def bin_credentials(request: HttpRequest, bin_id: Any) -> HttpResponse:
    obj = _own_bin(request, bin_id)
    form = RotateCredentialsForm(request.POST)
    form.is_valid()
    try:
        obj, credentials = bin_rotate_credentials(
            actor=request.user,
            bin_id=obj.pk,
            http_key=bool(form.cleaned_data.get("http_key")),
            mqtt_password=bool(form.cleaned_data.get("mqtt_password")) and bool(obj.mqtt_username),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("web:bin", bin_id=obj.pk)
    return _show_credentials(request, obj, credentials, _("New credentials issued"))


@never_cache
@role_required("collector", ADMIN)
def bin_import(request: HttpRequest) -> HttpResponse:
    form = BinImportForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"form": form, "columns": COLUMNS, "max_mb": MAX_BYTES // (1024 * 1024)}
    context["max_rows"] = MAX_ROWS
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > MAX_BYTES:
                raise ServiceError("文件超过 5 MB / the file is larger than 5 MB", field="file")
            report = bins_import(
                actor=request.user,
                data=upload.read(MAX_BYTES + 1),
                filename=upload.name or "",
                dry_run=form.cleaned_data["dry_run"],
            )
        except ServiceError as exc:
            form.add_error("file" if exc.field == "file" else None, exc.message)
        else:
            rows = sorted(report.rows, key=lambda r: (r.ok, r.row))
            context.update(
                {
                    "report": report,
                    "counts": report.counts,
                    "rows": rows[:RESULT_ROWS_SHOWN],
                    "rows_hidden": max(0, len(rows) - RESULT_ROWS_SHOWN),
                    "results_url": _csv_data_url(report.results_csv()),
                    "credentials_url": _csv_data_url(report.credentials_csv())
                    if report.credentials
                    else None,
                }
            )
    return render(request, "web/bin_import.html", context)


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(("\ufeff" + text).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@role_required("collector", STAFF)
def bin_import_template(request: HttpRequest) -> HttpResponse:
    chinese = translation.get_language() != "en"
    return _csv_response(template_csv(chinese=chinese), "bins-template.csv")


@role_required("collector", STAFF)
def bin_import_sites(request: HttpRequest) -> HttpResponse:
    chinese = translation.get_language() != "en"
    return _csv_response(client_sites_csv(actor=request.user, chinese=chinese), "client-sites.csv")
