"""The bureau's statistics page (统计分析) and its Excel export. The page shows the tables from the
statistics selectors; its charts (ECharts) read the same figures from /api/v1/statistics/… with the
filters of the form. Only a regulator's staff may look: anyone else gets 403."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.organizations.choices import OrganizationKind
from greenisle.supervision import statistics, statistics_filters
from greenisle.supervision.statistics_export import statistics_xlsx
from greenisle.web.views import _kind

FILTER_FIELDS = ("date_from", "date_to", "division", "collector", "category")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _regulator_only(request: HttpRequest) -> None:
    kind, _role = _kind(request)
    if kind != OrganizationKind.REGULATOR:
        raise HttpForbidden


def _given(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "").strip() for name in FILTER_FIELDS}


def _chart_labels() -> dict[str, str]:
    return {
        "collected": _("Collected (t)"),
        "transferred": _("Transferred (t)"),
        "tonnes": _("Tonnes"),
        "on_time_pct": _("Received on time (%)"),
        "on_time": _("On time"),
        "late": _("Late"),
        "open_overdue": _("Open past deadline"),
        "open_pending": _("Open within deadline"),
        "bins": _("Bins"),
        "over_threshold": _("Over threshold"),
        "no_reading": _("No reading"),
        "gap": _("Coverage gap"),
        "served_producers": _("Producers served"),
        "uncovered_producers": _("Producers not collected"),
        "manifests": _("Manifests"),
        "collection": _("Collection round"),
        "onward": _("Onward transfer"),
    }


@require_GET
@login_required
def statistics_page(request: HttpRequest) -> HttpResponse:
    _regulator_only(request)
    given = _given(request)
    try:
        f = statistics_filters.statistics_filters(request.user, **given)
    except ServiceError as exc:
        if isinstance(exc, PermissionDenied) and not exc.field:
            raise HttpForbidden from exc
        # The form stays as typed, with the refusal naming the field; nothing is counted.
        f = statistics_filters.statistics_filters(request.user)
        context = {
            "given": given,
            "error": exc,
            "choices": statistics_filters.filter_choices(request.user, f),
        }
        return render(request, "web/statistics.html", context, status=exc.status)
    report = statistics.statistics_report(request.user, f)
    query = urlencode(f.as_query())
    return render(
        request,
        "web/statistics.html",
        {
            "given": {**given, **f.as_query()},
            "report": report,
            "choices": statistics_filters.filter_choices(request.user, f),
            "query": query,
            "xlsx_url": f"{reverse('web:statistics_xlsx')}?{query}",
            "api_base": "/api/v1/statistics/",
            "chart_labels": _chart_labels(),
        },
    )


@require_GET
@login_required
def statistics_xlsx_view(request: HttpRequest) -> HttpResponse:
    _regulator_only(request)
    try:
        f = statistics_filters.statistics_filters(request.user, **_given(request))
    except ServiceError as exc:
        if isinstance(exc, PermissionDenied) and not exc.field:
            raise HttpForbidden from exc
        field = f" [{exc.field}]" if exc.field else ""
        return HttpResponse(
            f"{exc.message}{field}", status=exc.status, content_type="text/plain; charset=utf-8"
        )
    body = statistics_xlsx(statistics.statistics_report(request.user, f))
    response = HttpResponse(body, content_type=XLSX)
    name = f"statistics-{f.division or f.scope_code}-{f.date_from:%Y%m%d}-{f.date_to:%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
