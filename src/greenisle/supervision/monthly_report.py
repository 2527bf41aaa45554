"""The monthly supervision report of a bureau's division (月度监管报告): what was collected and shipped on
in the month and the year so far, coverage of districts and waste categories, enterprises served,
manifest receipts against their 5-working-day deadline (办法 Art. 18), bins by fill, the findings
opened, closed and still open with how many are overdue, assessment results, and overdue filings
(plans, 固废法 Art. 78; annual declarations). Every figure comes from the same selectors as the
statistics page (``supervision.statistics``), the findings pages and the obligations page, so the
report and the screens never disagree.

``monthly_report`` gathers the figures; ``monthly_report_documents`` draws them as PDF and Excel.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from greenisle.core.errors import ServiceError
from greenisle.organizations.models import Division
from greenisle.supervision import rules
from greenisle.supervision.choices import AWAITING_RECTIFICATION, TERMINAL_STATUSES, FindingStatus
from greenisle.supervision.models import Finding
from greenisle.supervision.obligations import Obligations, obligations_by_division
from greenisle.supervision.statistics import Report, Tonnage, statistics_report, tonnage
from greenisle.supervision.statistics_filters import statistics_filters

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
GRADES = ("A", "B", "C")


def month_bounds(value: object, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the month ``YYYY-MM`` (default: the last full month). A month not yet
    begun is refused, naming the field."""
    if value in (None, ""):
        first_of_this = today.replace(day=1)
        start = (first_of_this - dt.timedelta(days=1)).replace(day=1)
    else:
        found = MONTH.match(str(value).strip())
        if not found or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
            raise ServiceError("月份格式应为 YYYY-MM / month must be YYYY-MM", field="month")
        start = dt.date(int(found.group(1)), int(found.group(2)), 1)
        if start > today:
            raise ServiceError("该月份尚未开始 / that month has not begun", field="month")
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return start, end


@dataclass
class RuleCount:
    code: str
    title: str
    opened: int = 0
    closed: int = 0


@dataclass
class FindingsSummary:
    opened: int = 0
    opened_by_grade: dict[str, int] = field(default_factory=dict)
    closed: int = 0
    dismissed: int = 0
    open_at_end: int = 0
    overdue_at_end: int = 0
    by_rule: list[RuleCount] = field(default_factory=list)

    @property
    def closure_pct(self) -> float | None:
        """Findings closed in the month per finding opened in it (a backlog shows as over 100 %)."""
        return round(self.closed * 100 / self.opened, 1) if self.opened else None


@dataclass
class AssessmentSummary:
    year: int
    final_in_month: dict[str, int] = field(default_factory=dict)
    final_year_to_date: dict[str, int] = field(default_factory=dict)
    in_progress: int = 0

    @staticmethod
    def _labelled(counts: dict[str, int]) -> list[tuple[str, int]]:
        from greenisle.assessment.choices import AssessmentResult

        labels = dict(AssessmentResult.choices)
        return [(str(labels.get(key, key or "—")), n) for key, n in sorted(counts.items())]

    @property
    def month_labelled(self) -> list[tuple[str, int]]:
        return self._labelled(self.final_in_month)

    @property
    def year_labelled(self) -> list[tuple[str, int]]:
        return self._labelled(self.final_year_to_date)


@dataclass
class MonthlyReport:
    division_code: str
    division_name: str
    month_start: dt.date
    month_end: dt.date
    generated_at: dt.datetime
    month: Report
    # January to the month's end: volumes only (the rest of the report is the month's).
    year_to_date: Tonnage
    findings: FindingsSummary
    assessments: AssessmentSummary
    obligations: Obligations

    @property
    def label(self) -> str:
        return f"{self.month_start:%Y-%m}"


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def findings_summary(user: Any, prefix: str, start: dt.date, end: dt.date) -> FindingsSummary:
    """Findings in the division raised, closed and dismissed within [start, end], and those still open
    at the end of ``end`` with how many were past their deadline then. Three aggregate queries."""
    since, until = _aware(start), _aware(end + dt.timedelta(days=1))
    findings = Finding.objects.visible_to(user).filter(division_code__startswith=prefix)
    summary = FindingsSummary()
    opened = findings.filter(created_at__gte=since, created_at__lt=until)
    grades = dict(opened.values("severity").annotate(n=Count("id")).order_by().values_list("severity", "n"))
    summary.opened_by_grade = {grade: grades.get(grade, 0) for grade in GRADES}
    summary.opened = sum(summary.opened_by_grade.values())
    closed_in = Q(status=FindingStatus.CLOSED, closed_at__gte=since, closed_at__lt=until)
    dismissed_in = Q(status=FindingStatus.DISMISSED, dismissed_at__gte=since, dismissed_at__lt=until)
    # Still open at the end of the month: raised by then and not closed or dismissed by then.
    open_then = (
        Q(created_at__lt=until)
        & ~Q(status__in=TERMINAL_STATUSES, closed_at__lt=until)
        & ~Q(status=FindingStatus.DISMISSED, dismissed_at__lt=until)
    )
    totals = findings.aggregate(
        closed=Count("id", filter=closed_in),
        dismissed=Count("id", filter=dismissed_in),
        open_at_end=Count("id", filter=open_then),
        overdue_at_end=Count("id", filter=open_then & Q(deadline__lt=end, status__in=AWAITING_RECTIFICATION)),
    )
    summary.closed = totals["closed"]
    summary.dismissed = totals["dismissed"]
    summary.open_at_end = totals["open_at_end"]
    summary.overdue_at_end = totals["overdue_at_end"]
    per_rule = (
        findings.filter(Q(created_at__gte=since, created_at__lt=until) | closed_in)
        .values("rule")
        .annotate(
            opened=Count("id", filter=Q(created_at__gte=since, created_at__lt=until)),
            closed=Count("id", filter=closed_in),
        )
        .order_by("rule")
    )
    for row in per_rule:
        try:
            title = rules.rule_info(row["rule"]).title
        except rules.UnknownRule:
            title = row["rule"]
        summary.by_rule.append(RuleCount(row["rule"], title, row["opened"], row["closed"]))
    summary.by_rule.sort(key=lambda r: (-r.opened, r.code))
    return summary


def assessments_summary(user: Any, prefix: str, start: dt.date, end: dt.date) -> AssessmentSummary:
    """Assessments of enterprises in the division made final in the month and in the year so far, by
    result (达标 / 基本达标 / 不达标), and those still under way."""
    from greenisle.assessment.models import Assessment

    since, until = _aware(start), _aware(end + dt.timedelta(days=1))
    year_start = _aware(start.replace(month=1, day=1))
    visible = Assessment.objects.visible_to(user).filter(division_code__startswith=prefix)
    summary = AssessmentSummary(year=start.year)
    final = visible.filter(finalised_at__isnull=False, finalised_at__lt=until)
    summary.final_in_month = dict(
        Counter(final.filter(finalised_at__gte=since).values_list("result", flat=True))
    )
    summary.final_year_to_date = dict(
        Counter(final.filter(finalised_at__gte=year_start).values_list("result", flat=True))
    )
    summary.in_progress = (
        visible.filter(created_at__lt=until)
        .filter(Q(finalised_at__isnull=True) | Q(finalised_at__gte=until))
        .count()
    )
    return summary


def monthly_report(user: Any, *, month: object = None, division: object = None) -> MonthlyReport:
    """The report of ``month`` (``YYYY-MM``, default last month) for ``division`` (default the bureau's
    whole jurisdiction). Who may read it and which divisions are theirs is decided by
    ``statistics_filters`` (403 outside the jurisdiction, 400 naming a bad field)."""
    today = timezone.localdate()
    start, end = month_bounds(month, today=today)
    month_filters = statistics_filters(user, date_from=start, date_to=end, division=division)
    ytd_filters = statistics_filters(
        user, date_from=start.replace(month=1, day=1), date_to=end, division=division
    )
    prefix = month_filters.prefix
    code = month_filters.division or month_filters.scope_code
    name = month_filters.division_name or (
        Division.objects.filter(code=code).values_list("name", flat=True).first() or code
    )
    # Filing completeness as it stood at the end of the month (or today, for the month under way).
    as_of = min(end, today)
    return MonthlyReport(
        division_code=code,
        division_name=name,
        month_start=start,
        month_end=end,
        generated_at=timezone.now(),
        month=statistics_report(user, month_filters),
        year_to_date=tonnage(user, ytd_filters),
        findings=findings_summary(user, prefix, start, end),
        assessments=assessments_summary(user, prefix, start, end),
        obligations=obligations_by_division(user, as_of, prefix=prefix),
    )
