"""The regulator's statistics as one Excel workbook: a sheet per table, headers in Chinese then English,
figures as numbers (weights in kg and t, rates as percentages), the filters on the first sheet. The
figures come from the same selectors as the page and the JSON endpoints."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from greenisle.supervision import statistics, statistics_bins, statistics_manifests

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)
KG_FORMAT = "#,##0.00"
T_FORMAT = "#,##0.000"
PCT_FORMAT = "0.0%"
TOTAL = "合计 / Total"


def _pct(value: float | None) -> float | None:
    return None if value is None else value / 100


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _sheet(
    wb: Workbook,
    title: str,
    headers: Sequence[tuple[str, str | None]],
    rows: Sequence[Sequence[Any]],
    total: Sequence[Any] | None = None,
) -> None:
    """``headers``: (中文 / English, number format or None) per column."""
    ws = wb.create_sheet(title)
    ws.append([h for h, _fmt in headers])
    for cell in ws[1]:
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        ws.append([_number(v) for v in row])
    if total is not None:
        ws.append([_number(v) for v in total])
        for cell in ws[ws.max_row]:
            cell.font = BOLD
    for index, (header, fmt) in enumerate(headers, start=1):
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = max(12, min(40, len(header) + 2))
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
    ws.freeze_panes = "A2"


def statistics_xlsx(report: statistics.Report) -> bytes:
    f = report.filters
    tonnage, cover, firms = report.tonnage, report.coverage, report.enterprises
    manifests, bins, months = report.manifests, report.bins, report.trend

    wb = Workbook()
    info = wb.active
    info.title = "筛选条件 Filters"
    for label, value in [
        ("统计期间起 / From", f.date_from),
        ("统计期间止 / To", f.date_to),
        ("辖区 / Jurisdiction", f.scope_code),
        ("区县 / Division", f"{f.division_name} {f.division}" if f.division else "全部 / all"),
        ("收集单位 / Collector", f.collector_name or "全部 / all"),
        ("危险废物类别 / Category", f"{f.category} {f.category_name}" if f.category else "全部 / all"),
        ("导出时间 / Exported at", timezone.localtime().replace(tzinfo=None, microsecond=0)),
    ]:
        info.append([label, value])
    info["A1"].font = BOLD
    info.column_dimensions["A"].width = 26
    info.column_dimensions["B"].width = 36
    for (cell,) in info.iter_rows(min_row=1, max_row=2, min_col=2, max_col=2):
        cell.number_format = "yyyy-mm-dd"
    info.cell(row=7, column=2).number_format = "yyyy-mm-dd hh:mm:ss"

    amount_headers: list[tuple[str, str | None]] = [
        ("收集量（千克）/ Collected (kg)", KG_FORMAT),
        ("收集量（吨）/ Collected (t)", T_FORMAT),
        ("转移量（千克）/ Transferred (kg)", KG_FORMAT),
        ("转移量（吨）/ Transferred (t)", T_FORMAT),
    ]

    def amounts(a: statistics.Amount) -> list[Any]:
        return [a.collected_kg, a.collected_t, a.transferred_kg, a.transferred_t]

    _sheet(
        wb,
        "按类别 By category",
        [("类别 / Category", None), ("名称 / Name", None), *amount_headers],
        [[c.code, c.name, *amounts(c)] for c in tonnage.categories],
        [TOTAL, "", *amounts(tonnage.total)],
    )
    _sheet(
        wb,
        "按区县 By district",
        [("区划代码 / Division code", None), ("区县 / Division", None), *amount_headers],
        [[d.code, d.name, *amounts(d)] for d in tonnage.districts],
        [TOTAL, "", *amounts(tonnage.total)],
    )
    _sheet(
        wb,
        "区县×类别 By district, category",
        [
            ("区划代码 / Division code", None),
            ("区县 / Division", None),
            ("类别 / Category", None),
            *amount_headers,
        ],
        [
            [d.code, d.name, c, *amounts(a)]
            for d in tonnage.districts
            for c, a in sorted(d.by_category.items())
        ],
    )
    _sheet(
        wb,
        "按月 By month",
        [
            ("月份 / Month", None),
            *amount_headers,
            ("接收联单数 / Collection manifests received", "0"),
            ("服务企业数 / Producers served", "0"),
            ("按时接收 / Received on time", "0"),
            ("逾期接收 / Received late", "0"),
            ("逾期未接收 / Open past deadline", "0"),
            ("按时率 / On-time rate", PCT_FORMAT),
        ],
        [
            [
                p.month,
                *amounts(p),
                p.collection_manifests,
                p.producers_served,
                p.on_time,
                p.late,
                p.open_overdue,
                _pct(p.on_time_pct),
            ]
            for p in months
        ],
    )
    names = {c.code: c.name for c in cover.categories}
    _sheet(
        wb,
        "覆盖矩阵 Coverage",
        [
            ("区划代码 / Division code", None),
            ("区县 / Division", None),
            ("类别 / Category", None),
            ("类别名称 / Category name", None),
            ("收集量（千克）/ Collected (kg)", KG_FORMAT),
            ("服务企业数 / Producers served", "0"),
            ("计划产生企业数 / Producers planning it", "0"),
            ("未收集企业数 / Producers not collected", "0"),
            ("覆盖缺口 / Gap", None),
        ],
        [
            [
                d.code,
                d.name,
                cell.category,
                names.get(cell.category, ""),
                cell.served_kg,
                cell.served_producers,
                cell.planned_producers,
                cell.uncovered_producers,
                "是 / yes" if cell.gap else "否 / no",
            ]
            for d, cells in cover.matrix
            for cell in cells
        ],
    )
    firm_headers: list[tuple[str, str | None]] = [
        ("区划代码 / Division code", None),
        ("区县 / Division", None),
        ("纳入监管企业 / Producers enrolled", "0"),
        ("签约企业 / Under contract", "0"),
        ("已服务企业 / Served", "0"),
        ("服务率 / Served rate", PCT_FORMAT),
    ]

    def firm(r: statistics.EnterpriseRow) -> list[Any]:
        return [r.enrolled, r.contracted, r.served, _pct(r.served_pct)]

    _sheet(
        wb,
        "企业 Enterprises",
        firm_headers,
        [[r.code, r.name, *firm(r)] for r in firms.rows],
        [TOTAL, "", *firm(firms.total)],
    )
    _sheet(
        wb,
        "联单状态 Manifests by state",
        [
            ("状态 / State", None),
            ("状态代码 / Code", None),
            ("收集联单 / Collection", "0"),
            ("转运联单 / Onward", "0"),
            ("合计 / Total", "0"),
        ],
        [[s.label, s.status, s.collection, s.onward, s.total] for s in manifests.states],
    )

    def deadline(r: statistics_manifests.Compliance) -> list[Any]:
        return [r.on_time, r.late, r.open_overdue, r.open_pending, _pct(r.on_time_pct)]

    _sheet(
        wb,
        "接收时限 Receipt deadline",
        [
            ("区划代码 / Division code", None),
            ("区县 / Division", None),
            ("按时接收 / On time", "0"),
            ("逾期接收 / Late", "0"),
            ("逾期未接收 / Open past deadline", "0"),
            ("期限内待接收 / Open within deadline", "0"),
            ("按时率 / On-time rate", PCT_FORMAT),
        ],
        [[r.code, r.name, *deadline(r)] for r in manifests.compliance],
        [TOTAL, "", *deadline(manifests.compliance_total)],
    )
    band_headers: list[tuple[str, str | None]] = [
        (f"满溢 {label} / Fill {label}" if key != "none" else "无读数 / No reading", "0")
        for key, label in bins.bands
    ]

    def bin_counts(r: statistics_bins.BinRow) -> list[Any]:
        return [*(r.bands.get(key, 0) for key, _label in bins.bands), r.over_threshold, r.total]

    _sheet(
        wb,
        "云仓满溢 Bins by fill",
        [
            ("区划代码 / Division code", None),
            ("区县 / Division", None),
            *band_headers,
            ("超阈值 / Over threshold", "0"),
            ("合计 / Total", "0"),
        ],
        [[r.code, r.name, *bin_counts(r)] for r in bins.rows],
        [TOTAL, "", *bin_counts(bins.total)],
    )
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
