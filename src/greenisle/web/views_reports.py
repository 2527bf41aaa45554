"""The bureau's monthly supervision report (月度监管报告): a page with the month's figures and the same
report as PDF (with charts) and Excel. Only a regulator's staff may read it (403 otherwise); a month
or division that is malformed or outside the jurisdiction is refused naming the field."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as HttpForbidden
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.organizations.choices import OrganizationKind
from greenisle.supervision import statistics_filters
from greenisle.supervision.monthly_report import MonthlyReport, monthly_report
from greenisle.supervision.monthly_report_documents import monthly_report_pdf, monthly_report_xlsx
from greenisle.web.views import _kind

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _report(request: HttpRequest) -> MonthlyReport:
    kind, _role = _kind(request)
    if kind != OrganizationKind.REGULATOR:
        raise HttpForbidden
    return monthly_report(
        request.user,
        month=request.GET.get("month", "").strip(),
        division=request.GET.get("division", "").strip(),
    )


@require_GET
@login_required
def monthly_report_page(request: HttpRequest) -> HttpResponse:
    given = {name: request.GET.get(name, "").strip() for name in ("month", "division")}
    try:
        report = _report(request)
    except ServiceError as exc:
        if isinstance(exc, PermissionDenied) and not exc.field:
            raise HttpForbidden from exc
        context = {"given": given, "error": exc, "choices": _choices(request)}
        return render(request, "web/monthly_report.html", context, status=exc.status)
    query = urlencode(
        {"month": report.label, **({"division": given["division"]} if given["division"] else {})}
    )
    return render(
        request,
        "web/monthly_report.html",
        {
            "given": {**given, "month": report.label},
            "report": report,
            "query": query,
            "choices": _choices(request),
        },
    )


def _choices(request: HttpRequest) -> statistics_filters.FilterChoices:
    return statistics_filters.filter_choices(
        request.user, statistics_filters.statistics_filters(request.user)
    )


def _download(request: HttpRequest, suffix: str) -> HttpResponse:
    try:
        report = _report(request)
    except ServiceError as exc:
        if isinstance(exc, PermissionDenied) and not exc.field:
            raise HttpForbidden from exc
        return HttpResponse(
            f"{exc.field}: {exc}", status=exc.status, content_type="text/plain; charset=utf-8"
        )
    name = f"monthly-report-{report.division_code}-{report.label}.{suffix}"
    if suffix == "pdf":
        response = HttpResponse(monthly_report_pdf(report), content_type="application/pdf")
    else:
        response = HttpResponse(monthly_report_xlsx(report), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Last-Modified"] = timezone.now().strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


@require_GET
@login_required
def monthly_report_pdf_view(request: HttpRequest) -> HttpResponse:
    return _download(request, "pdf")


@require_GET
@login_required
def monthly_report_xlsx_view(request: HttpRequest) -> HttpResponse:
    return _download(request, "xlsx")
