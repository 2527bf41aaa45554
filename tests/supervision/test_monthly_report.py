"""The monthly supervision report against hand-worked figures: the statistics world
(``supervision/statistics_world.py``) for volumes, findings placed in April 2025 for the follow-up
counts, and the PDF and Excel documents carrying the same numbers."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.test import Client
from openpyxl import load_workbook

from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.supervision.charts import grouped_bars, nice_ceiling
from greenisle.supervision.choices import FindingStatus
from greenisle.supervision.models import Finding
from greenisle.supervision.monthly_report import month_bounds, monthly_report
from greenisle.supervision.monthly_report_documents import monthly_report_pdf, monthly_report_xlsx
from greenisle.supervision.services import finding_raise
from supervision.statistics_world import StatsWorld, build, local

D = Decimal


@pytest.fixture
def sw(db: None) -> StatsWorld:
    return build()


def _finding(sw: StatsWorld, *, obj, raised: str, deadline: dt.date, rule="ledger.mass_balance", **after):
    finding = finding_raise(
        rule=rule, organization=sw.p1, division_code="320602", obj=obj, message="gap", today=deadline
    )
    assert finding is not None
    Finding.objects.filter(pk=finding.pk).update(created_at=local(raised), deadline=deadline, **after)
    return finding


@pytest.fixture
def findings(sw: StatsWorld) -> dict[str, Finding]:
    """In 崇川 (320602), around April 2025:
    F1 raised 03-20, closed 04-10       → closed in April, not open at the end of April
    F2 raised 04-05, still open, deadline 04-20 → opened in April, open and overdue at the end
    F3 raised 04-28, closed 05-03       → opened in April, open (not overdue: deadline 05-12) at the end
    F4 raised 04-15, dismissed 04-16    → opened in April, dismissed in April
    F5 raised 05-02                     → nothing to do with April
    """
    return {
        "F1": _finding(
            sw,
            obj=sw.s1,
            raised="2025-03-20 09:00",
            deadline=dt.date(2025, 4, 3),
            status=FindingStatus.CLOSED,
            closed_at=local("2025-04-10 10:00"),
        ),
        "F2": _finding(sw, obj=sw.s2, raised="2025-04-05 09:00", deadline=dt.date(2025, 4, 20)),
        "F3": _finding(
            sw,
            obj=sw.s3,
            raised="2025-04-28 23:30",
            deadline=dt.date(2025, 5, 12),
            rule="manifest.receipt_overdue",
            status=FindingStatus.CLOSED,
            closed_at=local("2025-05-03 08:00"),
        ),
        "F4": _finding(
            sw,
            obj=sw.s4,
            raised="2025-04-15 12:00",
            deadline=dt.date(2025, 4, 29),
            status=FindingStatus.DISMISSED,
            dismissed_at=local("2025-04-16 12:00"),
            dismissed_reason="dup",
        ),
        "F5": _finding(sw, obj=sw.p2, raised="2025-05-02 09:00", deadline=dt.date(2025, 5, 16)),
    }


def test_month_bounds_default_to_last_month_and_refuse_bad_or_future_months():
    today = dt.date(2026, 3, 15)
    assert month_bounds(None, today=today) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert month_bounds("2024-02", today=today) == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert month_bounds("2026-03", today=today) == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert month_bounds(None, today=dt.date(2026, 1, 5)) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    for bad in ("2026-13", "26-01", "2026/01", "2026-00"):
        with pytest.raises(ServiceError) as caught:
            month_bounds(bad, today=today)
        assert caught.value.field == "month"
    with pytest.raises(ServiceError) as caught:
        month_bounds("2026-04", today=today)
    assert caught.value.field == "month"


def test_volumes_of_the_month_and_the_year_so_far(sw, regulator_city):
    report = monthly_report(regulator_city, month="2025-04")
    # April collected: M2 40 (accepted) + M3 30 (HW12; its HW08 rejected) + M4 200 = 270 kg; nothing
    # shipped on in April (M7 is in May).
    assert report.month.tonnage.total.collected_kg == D("270.00")
    assert report.month.tonnage.total.transferred_kg == D("0.00")
    # January to April: M6 5 + M1 119.5 + 270 = 394.5.
    assert report.year_to_date.total.collected_kg == D("394.50")
    assert (report.division_code, report.label) == ("320600", "2025-04")
    # Served in April: P1 (M2), P2 (M3) and P3 (M4) of the four enrolled.
    assert (report.month.enterprises.total.served, report.month.enterprises.total.enrolled) == (3, 4)


def test_a_district_bureau_gets_its_district_and_nothing_outside(sw, regulator):
    report = monthly_report(regulator, month="2025-04")
    # 崇川 only: M2 40 + M3 30 = 70 (M4 is 通州's).
    assert report.month.tonnage.total.collected_kg == D("70.00")
    assert report.division_code == "320602"
    with pytest.raises(PermissionDenied) as caught:
        monthly_report(regulator, month="2025-04", division="320612")
    assert caught.value.field == "division"


def test_findings_opened_closed_and_open_at_month_end(sw, regulator_city, findings):
    f = monthly_report(regulator_city, month="2025-04").findings
    assert f.opened == 3  # F2, F3, F4
    assert f.opened_by_grade == {"A": 0, "B": 3, "C": 0}
    assert (f.closed, f.dismissed) == (1, 1)  # F1 closed, F4 dismissed
    assert f.open_at_end == 2  # F2 and F3 (closed only in May)
    assert f.overdue_at_end == 1  # F2, deadline 04-20 passed; F3's is 05-12
    assert {(r.code, r.opened, r.closed) for r in f.by_rule} == {
        ("ledger.mass_balance", 2, 1),
        ("manifest.receipt_overdue", 1, 0),
    }
    may = monthly_report(regulator_city, month="2025-05").findings
    assert (may.opened, may.closed, may.open_at_end) == (1, 1, 2)  # F5; F3 closed; F2 and F5 open


def test_the_other_district_sees_none_of_these_findings(sw, regulator_other, findings):
    f = monthly_report(regulator_other, month="2025-04").findings
    assert (f.opened, f.closed, f.open_at_end) == (0, 0, 0)


def test_pdf_and_excel_carry_the_same_figures(sw, regulator_city, findings):
    report = monthly_report(regulator_city, month="2025-04")
    pdf = monthly_report_pdf(report)
    assert pdf.startswith(b"%PDF")
    document = pdfium.PdfDocument(pdf)
    text = "".join(document[n].get_textpage().get_text_range() for n in range(len(document)))
    assert "危险废物收集监管月报（2025年04月）" in text
    assert "0.270" in text  # collected this month, t
    assert "0.395" in text or "0.394" in text  # 394.5 kg this year
    book = load_workbook(io.BytesIO(monthly_report_xlsx(report)))
    summary = {row[0]: row[1] for row in book["概况 Summary"].iter_rows(values_only=True)}
    assert summary["本月收集（吨）/ Collected this month (t)"] == pytest.approx(0.27)
    assert summary["年累计收集（吨）/ Collected this year (t)"] == pytest.approx(0.3945)
    assert summary["本月新增问题 / Findings opened"] == 3
    assert summary["其中逾期 / of which overdue"] == 1
    assert book["按区县 By district"]._charts, "the district sheet has its bar chart"


def test_pages_for_the_bureau_and_refusals(sw, regulator_city, alice, findings, settings):
    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    client.force_login(regulator_city)
    page = client.get("/regulator/reports/monthly/?month=2025-04")
    assert page.status_code == 200
    assert 'id="findings-opened">3<' in page.content.decode()
    pdf = client.get("/regulator/reports/monthly.pdf?month=2025-04")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "monthly-report-320600-2025-04.pdf" in pdf["Content-Disposition"]
    xlsx = client.get("/regulator/reports/monthly.xlsx?month=2025-04")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    bad = client.get("/regulator/reports/monthly/?month=2025-13")
    assert bad.status_code == 400 and "[month]" in bad.content.decode()
    assert client.get("/regulator/reports/monthly.pdf?month=April").status_code == 400
    producer = Client()
    producer.force_login(alice)
    assert producer.get("/regulator/reports/monthly/?month=2025-04").status_code == 403
    assert producer.get("/regulator/reports/monthly.xlsx?month=2025-04").status_code == 403


def test_bar_geometry():
    assert [nice_ceiling(v) for v in (0, 0.7, 1, 1.2, 2.1, 3, 7, 10, 240)] == [
        1,
        1,
        1,
        2,
        2.5,
        5,
        10,
        10,
        250,
    ]
    bars, top = grouped_bars([[10, 20], [5, 0]], x=0, y=0, width=100, height=50, gap=0.2)
    assert top == 20
    # Two groups of 50 mm; 10 % of a slot either side; two bars of 20 mm each per group.
    first = [b for b in bars if b.group == 0]
    assert [(b.x, b.w, b.h, b.y) for b in first] == [(5.0, 20.0, 25.0, 25.0), (25.0, 20.0, 12.5, 37.5)]
    assert [b for b in bars if b.group == 1 and b.series == 1][0].h == 0
    with pytest.raises(ValueError):
        grouped_bars([[1, 2], [1]], x=0, y=0, width=10, height=10)
