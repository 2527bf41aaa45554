"""The monthly supervision report as a PDF (A4 portrait, charts drawn as bars) and as an Excel workbook
(one sheet per table, native bar charts). Figures come from ``monthly_report.MonthlyReport``."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill

from greenisle.assessment.checklists import RESULT_TITLES as RESULT_LABELS
from greenisle.ledger.pdf_layout import MARGIN, box, footer_line, local, new_pdf, page_numbers
from greenisle.manifests.documents import FAMILY
from greenisle.supervision.charts import grouped_bars
from greenisle.supervision.monthly_report import MonthlyReport

SERIES_COLOURS = ((31, 122, 77), (199, 124, 2), (70, 110, 180))
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _t(kg: Decimal) -> str:
    return f"{kg / 1000:,.3f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _result_counts(counts: dict[str, int]) -> str:
    if not counts:
        return "—"
    return "，".join(f"{RESULT_LABELS.get(k, k or '—')} {v}" for k, v in sorted(counts.items()))


# --- PDF ---------------------------------------------------------------------------------------------


class _Doc:
    def __init__(self, report: MonthlyReport) -> None:
        self.report = report
        self.pdf: FPDF = new_pdf("P")
        self.width = self.pdf.w - 2 * MARGIN

    def room(self, needed: float) -> None:
        if self.pdf.h - 14 - self.pdf.get_y() < needed:
            self.pdf.add_page()
            self.pdf.set_xy(MARGIN, MARGIN)

    def heading(self, text: str) -> None:
        self.room(20)
        self.pdf.ln(2)
        self.pdf.set_font(FAMILY, size=11)
        self.pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(FAMILY, size=8)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> None:
        scale = self.width / sum(widths)
        cols = [w * scale for w in widths]
        xs = [MARGIN + sum(cols[:n]) for n in range(len(cols))]
        h = 6.0

        def draw(texts: Sequence[str], fill: bool) -> None:
            self.room(h + 2)
            y = self.pdf.get_y()
            self.pdf.set_font(FAMILY, size=7.5)
            self.pdf.set_fill_color(221, 235, 247)
            for x, w, text in zip(xs, cols, texts, strict=True):
                box(self.pdf, x, y, w, h, text, fill=fill)
            self.pdf.set_xy(MARGIN, y + h)

        draw(headers, True)
        for row in rows:
            draw(row, False)
        self.pdf.ln(1)

    def bars(self, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> None:
        """A grouped bar chart with its title, axis maximum, value labels, legend and group labels."""
        if not labels:
            return
        height = 42.0
        self.room(height + 22)
        pdf = self.pdf
        pdf.set_font(FAMILY, size=8.5)
        pdf.cell(0, 5, title, new_x="LMARGIN", new_y="NEXT")
        top_y = pdf.get_y() + 3
        left = MARGIN + 12
        width = self.width - 14
        bars, top = grouped_bars([s for _name, s in series], x=left, y=top_y, width=width, height=height)
        digits = 3 if top <= 1 else 2 if top <= 10 else 1 if top <= 100 else 0
        pdf.set_draw_color(120, 120, 120)
        pdf.line(left, top_y + height, left + width, top_y + height)
        pdf.line(left, top_y, left, top_y + height)
        pdf.set_font(FAMILY, size=6)
        pdf.set_xy(MARGIN, top_y - 2)
        pdf.cell(11, 3, f"{top:g}", align="R")
        pdf.set_xy(MARGIN, top_y + height - 2)
        pdf.cell(11, 3, "0", align="R")
        for bar in bars:
            colour = SERIES_COLOURS[bar.series % len(SERIES_COLOURS)]
            pdf.set_fill_color(*colour)
            if bar.h > 0:
                pdf.rect(bar.x, bar.y, bar.w, bar.h, style="F")
            if bar.value > 0 and bar.w >= 4:
                pdf.set_xy(bar.x - 2, bar.y - 3)
                pdf.cell(bar.w + 4, 3, f"{bar.value:,.{digits}f}", align="C")
        slot = width / len(labels)
        for n, label in enumerate(labels):
            pdf.set_xy(left + n * slot, top_y + height + 0.5)
            pdf.cell(slot, 3.5, label[: max(2, int(slot / 1.6))], align="C")
        pdf.set_xy(left, top_y + height + 5)
        for n, (name, _values) in enumerate(series):
            pdf.set_fill_color(*SERIES_COLOURS[n % len(SERIES_COLOURS)])
            x = pdf.get_x()
            pdf.rect(x, pdf.get_y() + 0.8, 3, 2.4, style="F")
            pdf.set_x(x + 4)
            pdf.cell(pdf.get_string_width(name) + 6, 4, name)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_xy(MARGIN, top_y + height + 11)


def monthly_report_pdf(report: MonthlyReport) -> bytes:
    doc = _Doc(report)
    pdf = doc.pdf
    month, ytd = report.month, report.year_to_date
    pdf.set_font(FAMILY, size=15)
    pdf.cell(
        0,
        9,
        f"{report.division_name}危险废物收集监管月报（{report.month_start:%Y年%m月}）",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font(FAMILY, size=9)
    pdf.cell(
        0,
        5,
        f"Monthly supervision report · {report.division_code} · {report.month_start} – {report.month_end}"
        f" · 生成 / generated {local(report.generated_at)}",
        new_x="LMARGIN",
        new_y="NEXT",
    )

    doc.heading("一、收集与转移量 / Volumes")
    doc.table(
        ["", "本月收集 (t) / collected", "本月转移 (t) / transferred", "年累计收集 (t)", "年累计转移 (t)"],
        [
            [
                "合计 / Total",
                _t(month.tonnage.total.collected_kg),
                _t(month.tonnage.total.transferred_kg),
                _t(ytd.total.collected_kg),
                _t(ytd.total.transferred_kg),
            ]
        ],
        [30, 25, 25, 25, 25],
    )
    categories = month.tonnage.categories
    doc.table(
        ["类别 / Category", "名称 / Name", "收集 (t)", "转移 (t)"],
        [[c.code, c.name, _t(c.collected_kg), _t(c.transferred_kg)] for c in categories]
        or [["—", "本月无收集 / nothing collected", "0.000", "0.000"]],
        [18, 52, 15, 15],
    )
    doc.bars(
        "按区县收集与转移量（吨）/ Tonnes by district",
        [d.name for d in month.tonnage.districts],
        [
            ("收集 / collected", [float(d.collected_kg) / 1000 for d in month.tonnage.districts]),
            ("转移 / transferred", [float(d.transferred_kg) / 1000 for d in month.tonnage.districts]),
        ],
    )
    doc.bars(
        "年内逐月收集与转移量（吨）/ Tonnes by month this year",
        [p.month[-2:] for p in ytd.months],
        [
            ("收集 / collected", [float(p.collected_kg) / 1000 for p in ytd.months]),
            ("转移 / transferred", [float(p.transferred_kg) / 1000 for p in ytd.months]),
        ],
    )

    doc.heading("二、覆盖情况 / Coverage")
    firms = month.enterprises
    doc.table(
        ["区县 / Division", "入驻企业 / enrolled", "签约 / contracted", "本月服务 / served", "服务率 / rate"],
        [[r.name, str(r.enrolled), str(r.contracted), str(r.served), _pct(r.served_pct)] for r in firms.rows]
        + [
            [
                "合计 / Total",
                str(firms.total.enrolled),
                str(firms.total.contracted),
                str(firms.total.served),
                _pct(firms.total.served_pct),
            ]
        ],
        [34, 22, 22, 22, 20],
    )
    cover = month.coverage
    doc.table(
        ["区县 / Division", "类别数 / categories served", "覆盖缺口 / gaps (producers not collected)"],
        [
            [
                place.name,
                str(sum(1 for c in cells if c.served_producers)),
                str(sum(c.uncovered_producers for c in cells)),
            ]
            for place, cells in cover.matrix
        ],
        [40, 30, 50],
    )

    doc.heading("三、联单与接收时限 / Manifests and the 5-working-day receipt deadline (办法第十八条)")
    comp = month.manifests.compliance_total
    doc.table(
        [
            "按时接收 / on time",
            "逾期接收 / late",
            "逾期未接收 / open past deadline",
            "期限内待接收 / pending",
            "按时率",
        ],
        [
            [
                str(comp.on_time),
                str(comp.late),
                str(comp.open_overdue),
                str(comp.open_pending),
                _pct(comp.on_time_pct),
            ]
        ],
        [20, 20, 25, 25, 15],
    )
    bins = month.bins
    doc.bars(
        "云仓满溢分布（当前）/ Bins by fill band (now)",
        [label for _key, label in bins.bands],
        [("云仓数 / bins", [float(bins.total.bands.get(key, 0)) for key, _label in bins.bands])],
    )

    doc.heading("四、监管问题 / Findings")
    f = report.findings
    doc.table(
        [
            "本月新增 / opened",
            "A",
            "B",
            "C",
            "本月销号 / closed",
            "撤销 / dismissed",
            "月末未销号 / open",
            "其中逾期 / overdue",
        ],
        [
            [
                str(f.opened),
                str(f.opened_by_grade.get("A", 0)),
                str(f.opened_by_grade.get("B", 0)),
                str(f.opened_by_grade.get("C", 0)),
                str(f.closed),
                str(f.dismissed),
                str(f.open_at_end),
                str(f.overdue_at_end),
            ]
        ],
        [16, 8, 8, 8, 16, 14, 16, 14],
    )
    if f.by_rule:
        doc.table(
            ["规则 / Rule", "新增 / opened", "销号 / closed"],
            [[r.title, str(r.opened), str(r.closed)] for r in f.by_rule],
            [80, 12, 12],
        )

    doc.heading("五、规范化环境管理评估 / Assessments")
    a = report.assessments
    doc.table(
        ["本月完成 / final this month", f"{a.year}年累计 / this year", "进行中 / under way"],
        [[_result_counts(a.final_in_month), _result_counts(a.final_year_to_date), str(a.in_progress)]],
        [40, 40, 20],
    )

    doc.heading("六、逾期义务 / Overdue obligations (固废法第七十八条)")
    ob = report.obligations
    total = ob.total
    doc.table(
        [
            "区县 / Division",
            "产废单位 / sites",
            f"{ob.year}年计划备案",
            "计划逾期 / overdue",
            f"{ob.year - 1}年度申报",
            "申报逾期 / overdue",
        ],
        [
            [
                r.name,
                str(r.sites),
                str(r.in_force),
                str(r.plans_overdue),
                str(r.submitted),
                str(r.declarations_overdue),
            ]
            for r in ob.rows
        ]
        + [
            [
                "合计 / Total",
                str(total.sites),
                str(total.in_force),
                str(total.plans_overdue),
                str(total.submitted),
                str(total.declarations_overdue),
            ]
        ],
        [30, 16, 18, 16, 18, 16],
    )
    footer_line(pdf)
    page_numbers(pdf)
    return bytes(pdf.output())


# --- Excel -------------------------------------------------------------------------------------------


def _sheet(wb: Workbook, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
    ws = wb.create_sheet(title)
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = BOLD
        cell.fill = HEADER_FILL
    for row in rows:
        ws.append([float(v) if isinstance(v, Decimal) else v for v in row])
    for n in range(1, len(headers) + 1):
        ws.column_dimensions[ws.cell(row=1, column=n).column_letter].width = 18
    ws.freeze_panes = "A2"
    return ws


def _bar_chart(ws: Any, title: str, columns: range, rows: int, anchor: str) -> None:
    if rows < 1:
        return
    chart = BarChart()
    chart.title = title
    chart.y_axis.title = "t"
    data = Reference(ws, min_col=columns.start, max_col=columns.stop - 1, min_row=1, max_row=rows + 1)
    cats = Reference(ws, min_col=1, min_row=2, max_row=rows + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(cats)
    chart.width, chart.height = 18, 8
    ws.add_chart(chart, anchor)


def monthly_report_xlsx(report: MonthlyReport) -> bytes:
    month, ytd, f, ob = report.month, report.year_to_date, report.findings, report.obligations
    wb = Workbook()
    info = wb.active
    info.title = "概况 Summary"
    for label, value in [
        ("区划 / Division", f"{report.division_name} {report.division_code}"),
        ("月份 / Month", report.label),
        ("本月收集（吨）/ Collected this month (t)", float(month.tonnage.total.collected_kg) / 1000),
        ("本月转移（吨）/ Transferred this month (t)", float(month.tonnage.total.transferred_kg) / 1000),
        ("年累计收集（吨）/ Collected this year (t)", float(ytd.total.collected_kg) / 1000),
        ("年累计转移（吨）/ Transferred this year (t)", float(ytd.total.transferred_kg) / 1000),
        ("本月服务企业 / Producers served", month.enterprises.total.served),
        ("入驻企业 / Producers enrolled", month.enterprises.total.enrolled),
        ("本月新增问题 / Findings opened", f.opened),
        ("本月销号 / Findings closed", f.closed),
        ("月末未销号 / Open at month end", f.open_at_end),
        ("其中逾期 / of which overdue", f.overdue_at_end),
        ("计划逾期 / Plans overdue", ob.total.plans_overdue),
        ("申报逾期 / Declarations overdue", ob.total.declarations_overdue),
        ("生成时间 / Generated at", local(report.generated_at)),
    ]:
        info.append([label, value])
    info.column_dimensions["A"].width = 42
    info.column_dimensions["B"].width = 24

    districts = _sheet(
        wb,
        "按区县 By district",
        ["区县 / Division", "收集（吨）/ Collected (t)", "转移（吨）/ Transferred (t)"],
        [[d.name, d.collected_kg / 1000, d.transferred_kg / 1000] for d in month.tonnage.districts],
    )
    _bar_chart(districts, "按区县 / By district", range(2, 4), len(month.tonnage.districts), "E2")
    _sheet(
        wb,
        "按类别 By category",
        ["类别 / Category", "名称 / Name", "收集（吨）/ Collected (t)", "转移（吨）/ Transferred (t)"],
        [[c.code, c.name, c.collected_kg / 1000, c.transferred_kg / 1000] for c in month.tonnage.categories],
    )
    months = _sheet(
        wb,
        "逐月 By month",
        ["月份 / Month", "收集（吨）/ Collected (t)", "转移（吨）/ Transferred (t)"],
        [[p.month, p.collected_kg / 1000, p.transferred_kg / 1000] for p in ytd.months],
    )
    _bar_chart(months, "逐月 / By month", range(2, 4), len(ytd.months), "E2")
    _sheet(
        wb,
        "企业覆盖 Enterprises",
        ["区县 / Division", "入驻 / Enrolled", "签约 / Contracted", "服务 / Served"],
        [[r.name, r.enrolled, r.contracted, r.served] for r in month.enterprises.rows],
    )
    _sheet(
        wb,
        "监管问题 Findings",
        ["规则 / Rule", "代码 / Code", "新增 / Opened", "销号 / Closed"],
        [[r.title, r.code, r.opened, r.closed] for r in f.by_rule],
    )
    _sheet(
        wb,
        "逾期义务 Obligations",
        [
            "区县 / Division",
            "产废单位 / Sites",
            "计划备案 / Plans in force",
            "计划逾期 / Plans overdue",
            "年度申报 / Declarations submitted",
            "申报逾期 / Declarations overdue",
        ],
        [
            [r.name, r.sites, r.in_force, r.plans_overdue, r.submitted, r.declarations_overdue]
            for r in ob.rows
        ],
    )
    a = report.assessments
    _sheet(
        wb,
        "评估 Assessments",
        ["结果 / Result", "本月 / This month", "年累计 / This year"],
        [
            [RESULT_LABELS.get(k, k), a.final_in_month.get(k, 0), a.final_year_to_date.get(k, 0)]
            for k in sorted(set(a.final_in_month) | set(a.final_year_to_date))
        ],
    )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
