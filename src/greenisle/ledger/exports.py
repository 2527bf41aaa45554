"""Exports of declarations (申报报告, HJ 1259-2022 Appendix C tables C.1 monthly, C.2 quarterly and C.3
annual) as an Excel workbook and as a PDF.

The table follows Appendix C: one block per waste code; a code disposed of by several own methods or
sent to several receivers takes one sheet row per method and receiver, with the cells that belong to
the waste (名称, 类别, 代码 … 产生量, 贮存量) merged over its rows. Figures are in tonnes (吨).

The PDF uses the CJK font and the helpers of :mod:`greenisle.manifests.documents` so the Chinese text
is rendered and kept in the text layer; long tables break across pages with the header repeated.

Declarations and plans are read through their attributes only (``Any`` here), so this module needs no
ORM to be type-checked.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from fpdf import FPDF
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from greenisle.core.errors import ServiceError
from greenisle.ledger import core
from greenisle.ledger.pdf_layout import (
    BOTTOM,
    MARGIN,
    ROW_H,
    Table,
    box,
    facts_pdf,
    footer_line,
    local,
    new_pdf,
    page_numbers,
)
from greenisle.manifests.documents import FAMILY, _fit

TONNE = "吨"
ZERO = Decimal("0.000")

# kind → (title word, English, Appendix C table, previous period end, this period end)
KINDS: dict[str, tuple[str, str, str, str, str]] = {
    core.MONTH: ("月度", "Monthly", "C.1", "上月底", "本月底"),
    core.QUARTER: ("季度", "Quarterly", "C.2", "上季度底", "本季度底"),
    core.YEAR: ("年度", "Annual", "C.3", "上年底", "本年底"),
}

MANAGEMENT_CLASSES = {
    "key": "重点监管单位 / Key",
    "simplified": "简化管理单位 / Simplified",
    "registration": "登记管理单位 / Registration",
}
DECLARATION_STATUSES = {
    "draft": "已生成待确认 / Prepared",
    "confirmed": "已确认 / Confirmed",
    "submitted": "已申报 / Submitted",
}


def shown(value: str, names: Mapping[str, str]) -> str:
    return names.get(value, value or "—")


def _tonnes(value: Any) -> Decimal:
    """A tonnage of the content (a decimal string) as a number; missing is zero."""
    if value is None or value == "":
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ServiceError(f"申报内容中的数量无效 / not a quantity in the declaration: {value!r}") from exc


# --- the Appendix C table, whatever the output ----------------------------------------------------


@dataclass(frozen=True)
class Column:
    group: str  # the first header row; "" when the column spans both rows
    label: str
    xlsx_width: float  # characters
    pdf_width: float  # mm; the widths add up to A4 landscape less 10 mm margins (277 mm)
    per_waste: bool  # one value per waste code: merged over the code's rows
    numeric: bool = False


NAME = "危险废物名称"
GENERATION = "产生情况"
OWN = "自行利用/处置情况"
OUTSOURCED = "委托外单位利用/处置情况"
STORAGE = "贮存情况"


def columns(kind: str) -> list[Column]:
    """The Appendix C columns, in order, for a declaration of ``kind``."""
    _word, _english, _table, previous, current = KINDS.get(kind, KINDS[core.YEAR])
    return [
        Column("", "序号", 6, 8, True),
        Column(NAME, "行业俗称/单位内部名称", 18, 16, True),
        Column(NAME, "国家危险废物名录名称", 28, 19, True),
        Column("", "危险废物类别", 9, 11, True),
        Column("", "危险废物代码", 12, 17, True),
        Column("", "有害成分名称", 14, 13, True),
        Column("", "形态", 8, 9, True),
        Column("", "危险特性", 9, 9, True),
        Column(GENERATION, "产生量", 11, 13, True, numeric=True),
        Column(GENERATION, "计量单位", 6, 7, True),
        Column(OWN, "利用/处置方式", 10, 10, False),
        Column(OWN, "利用/处置量", 11, 13, False, numeric=True),
        Column(OWN, "计量单位", 6, 7, False),
        Column(OUTSOURCED, "省（区、市）", 10, 10, False),
        Column(OUTSOURCED, "单位名称", 30, 24, False),
        Column(OUTSOURCED, "危险废物经营许可证编号", 20, 22, False),
        Column(OUTSOURCED, "利用/处置方式", 10, 9, False),
        Column(OUTSOURCED, "利用/处置量", 11, 13, False, numeric=True),
        Column(OUTSOURCED, "计量单位", 6, 7, False),
        Column(STORAGE, f"{previous}剩余贮存量", 12, 13, True, numeric=True),
        Column(STORAGE, "计量单位", 6, 7, True),
        Column(STORAGE, f"{current}剩余贮存量", 12, 13, True, numeric=True),
        Column(STORAGE, "计量单位", 6, 7, True),
    ]


# Where the figures go (indexes into ``columns``).
GENERATED_AT = 8
OWN_AT = 10
OUTSOURCED_AT = 13
OPENING_AT = 19
CLOSING_AT = 21
WIDTH = 23

Cell = str | int | Decimal | None


def _blocks(content: Mapping[str, Any]) -> list[list[list[Cell]]]:
    """Per waste code, its sheet rows: one per own method and outsourced receiver (at least one),
    the waste's own cells repeated on each."""
    blocks: list[list[list[Cell]]] = []
    for number, row in enumerate(content.get("rows") or [], 1):
        waste: list[Cell] = [None] * WIDTH
        waste[:8] = [
            number,
            row.get("internal_name", ""),
            row.get("name", ""),
            row.get("category", ""),
            row.get("waste_code", ""),
            row.get("hazardous_constituents", ""),
            row.get("form", ""),
            row.get("characteristics", ""),
        ]
        waste[GENERATED_AT : GENERATED_AT + 2] = [_tonnes(row.get("generated_t")), TONNE]
        waste[OPENING_AT:WIDTH] = [_tonnes(row.get("opening_t")), TONNE, _tonnes(row.get("closing_t")), TONNE]
        own = row.get("own") or []
        outsourced = row.get("outsourced") or []
        lines: list[list[Cell]] = []
        for n in range(max(1, len(own), len(outsourced))):
            line = list(waste)
            if n < len(own):
                line[OWN_AT : OWN_AT + 3] = [own[n].get("method", ""), _tonnes(own[n].get("t")), TONNE]
            if n < len(outsourced):
                out = outsourced[n]
                line[OUTSOURCED_AT : OUTSOURCED_AT + 6] = [
                    out.get("province", ""),
                    out.get("receiver", ""),
                    out.get("licence_number", ""),
                    out.get("method", ""),
                    _tonnes(out.get("t")),
                    TONNE,
                ]
            lines.append(line)
        blocks.append(lines)
    return blocks


def _totals(content: Mapping[str, Any]) -> dict[str, Decimal]:
    """The content's totals; a total it lacks is summed from its rows."""
    rows = content.get("rows") or []
    stored = content.get("totals") or {}
    summed = {
        "generated_t": sum((_tonnes(r.get("generated_t")) for r in rows), ZERO),
        "received_t": sum((_tonnes(r.get("received_t")) for r in rows), ZERO),
        "own_t": sum((_tonnes(o.get("t")) for r in rows for o in r.get("own") or []), ZERO),
        "outsourced_t": sum((_tonnes(o.get("t")) for r in rows for o in r.get("outsourced") or []), ZERO),
        "opening_t": sum((_tonnes(r.get("opening_t")) for r in rows), ZERO),
        "closing_t": sum((_tonnes(r.get("closing_t")) for r in rows), ZERO),
    }
    return {key: _tonnes(stored[key]) if key in stored else value for key, value in summed.items()}


def _totals_line(totals: Mapping[str, Decimal]) -> list[Cell]:
    line: list[Cell] = [None] * WIDTH
    line[0] = "合计 / Total"
    line[GENERATED_AT : GENERATED_AT + 2] = [totals["generated_t"], TONNE]
    line[OWN_AT + 1 : OWN_AT + 3] = [totals["own_t"], TONNE]
    line[OUTSOURCED_AT + 4 : OUTSOURCED_AT + 6] = [totals["outsourced_t"], TONNE]
    line[OPENING_AT:WIDTH] = [totals["opening_t"], TONNE, totals["closing_t"], TONNE]
    return line


def declaration_title(declaration: Any) -> str:
    """``2026年3月危险废物月度申报报告表``, ``2026年第1季度危险废物季度申报报告表``, ``2026年危险废物年度申报报告表``."""
    word = KINDS.get(declaration.kind, KINDS[core.YEAR])[0]
    return f"{_label_zh(declaration)}危险废物{word}申报报告表"


def _label_zh(declaration: Any) -> str:
    period = (declaration.content or {}).get("period") or {}
    if period.get("label_zh"):
        return str(period["label_zh"])
    try:
        return core.parse_period(declaration.kind, declaration.label).label_zh
    except ValueError:
        return str(declaration.label)


def _subtitle(declaration: Any) -> str:
    _word, english, table, _previous, _current = KINDS.get(declaration.kind, KINDS[core.YEAR])
    return f"{english} hazardous waste declaration (HJ 1259-2022 Table {table})"


def _facts(declaration: Any) -> list[tuple[str, str]]:
    """What stands above the table: who declares, for which period, and where the filing stands."""
    content = declaration.content or {}
    unit = content.get("unit") or {}
    start: dt.date = declaration.period_start
    end: dt.date = declaration.period_end - dt.timedelta(days=1)
    facts = [
        ("单位名称 / Unit", unit.get("name") or "—"),
        ("统一社会信用代码 / USCC", unit.get("uscc") or "—"),
        ("场所 / Site", unit.get("site") or "—"),
        ("地址 / Address", unit.get("address") or "—"),
        ("申报期 / Period", f"{_label_zh(declaration)}（{start:%Y-%m-%d} 至 {end:%Y-%m-%d}）"),
        (
            "管理类别 / Management class",
            shown(declaration.management_class or unit.get("management_class", ""), MANAGEMENT_CLASSES),
        ),
        ("状态 / Status", shown(declaration.status, DECLARATION_STATUSES)),
        ("申报截止日 / Due on", f"{declaration.due_on:%Y-%m-%d}" if declaration.due_on else "—"),
    ]
    if declaration.receipt_number:
        facts.append(("申报回执编号 / Receipt number", declaration.receipt_number))
    if declaration.submitted_at:
        facts.append(("申报时间 / Submitted at", local(declaration.submitted_at)))
    if declaration.filed_by_organization_id:
        name = declaration.filed_by_organization.name
        facts.append(("代为申报 / Filed on behalf", f"由 {name} 代为申报 / filed by {name}"))
    return facts


def _received_note(totals: Mapping[str, Decimal]) -> str:
    """Appendix C has no column for waste received from other units (a collector's); say it below."""
    if not totals["received_t"]:
        return ""
    return (
        f"其中接收外单位危险废物 {totals['received_t']} 吨，计入贮存情况 / "
        f"received from other units: {totals['received_t']} t, included in the storage figures"
    )


# --- Excel ------------------------------------------------------------------------------------------


def declaration_xlsx(declaration: Any) -> bytes:
    """The declaration as an Excel workbook: one sheet named after the period (``2026-03``), the
    Appendix C table with its two header rows, the figures as numbers and a totals row."""
    content = declaration.content or {}
    cols = columns(declaration.kind)
    last = get_column_letter(WIDTH)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    header_fill = PatternFill("solid", start_color="EBEBEB")

    book = Workbook()
    sheet = book.active
    sheet.title = declaration.label[:31] or "declaration"
    sheet.append([declaration_title(declaration)])
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"].font = Font(size=14, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([_subtitle(declaration)])
    sheet.merge_cells(f"A2:{last}2")
    sheet["A2"].alignment = Alignment(horizontal="center")
    for label, fact in _facts(declaration):
        r = sheet.max_row + 1
        sheet.cell(r, 1, label).font = Font(bold=True)
        sheet.cell(r, 4, fact)
        sheet.merge_cells(start_row=r, start_column=1, end_row=r, end_column=3)
        sheet.merge_cells(start_row=r, start_column=4, end_row=r, end_column=12)

    # Two header rows: a group over its columns, a single column over both rows.
    top = sheet.max_row + 2
    for c, col in enumerate(cols, 1):
        for r in (top, top + 1):
            cell = sheet.cell(r, c)
            cell.border, cell.alignment, cell.fill = border, centre, header_fill
            cell.font = Font(bold=True)
        if col.group:
            sheet.cell(top + 1, c, col.label)
        else:
            sheet.cell(top, c, col.label)
            sheet.merge_cells(start_row=top, start_column=c, end_row=top + 1, end_column=c)
    c = 1
    while c <= WIDTH:
        group = cols[c - 1].group
        span = 1
        while c + span <= WIDTH and group and cols[c + span - 1].group == group:
            span += 1
        if group:
            sheet.cell(top, c, group)
            sheet.merge_cells(start_row=top, start_column=c, end_row=top, end_column=c + span - 1)
        c += span
    sheet.row_dimensions[top + 1].height = 30

    r = top + 2
    for block in _blocks(content):
        for n, line in enumerate(block):
            for c, (col, value) in enumerate(zip(cols, line, strict=True), 1):
                cell = sheet.cell(r + n, c)
                cell.border = border
                cell.alignment = Alignment(vertical="center", wrap_text=True)
                if col.per_waste and n:
                    continue  # merged into the block's first row
                _write(cell, value, col)
        if len(block) > 1:
            for c, col in enumerate(cols, 1):
                if col.per_waste:
                    sheet.merge_cells(start_row=r, start_column=c, end_row=r + len(block) - 1, end_column=c)
        r += len(block)

    totals = _totals(content)
    for c, (col, value) in enumerate(zip(cols, _totals_line(totals), strict=True), 1):
        cell = sheet.cell(r, c)
        cell.border = border
        cell.font = Font(bold=True)
        _write(cell, value, col)
    sheet.merge_cells(start_row=r, start_column=1, end_row=r, end_column=GENERATED_AT)
    note = _received_note(totals)
    if note:
        sheet.cell(r + 1, 1, note)

    for c, col in enumerate(cols, 1):
        sheet.column_dimensions[get_column_letter(c)].width = col.xlsx_width
    sheet.freeze_panes = sheet.cell(top + 2, 1)
    sheet.print_title_rows = f"{top}:{top + 1}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _write(cell: Any, value: Cell, col: Column) -> None:
    if value is None:
        return
    cell.value = value
    if isinstance(value, Decimal):
        cell.number_format = "0.000"
        cell.alignment = Alignment(horizontal="right", vertical="center")
    elif not col.numeric and not isinstance(value, int):
        cell.number_format = "@"  # codes such as 900-214-08 stay text


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.3f}"
    return str(value)


class _DeclarationTable(Table):
    GROUP_H = 5.0
    LABEL_H = 10.0

    def __init__(self, pdf: FPDF, cols: Sequence[Column], heading: str) -> None:
        super().__init__(pdf, [c.pdf_width for c in cols], heading)
        self.cols = list(cols)

    def header(self) -> None:
        pdf = self.pdf
        pdf.set_fill_color(235, 235, 235)
        pdf.set_font(FAMILY, size=6.5)
        y = pdf.get_y()
        n = 0
        while n < len(self.cols):
            col = self.cols[n]
            if not col.group:
                box(pdf, self.x[n], y, col.pdf_width, self.GROUP_H + self.LABEL_H, col.label, fill=True)
                n += 1
                continue
            span = 1
            while n + span < len(self.cols) and self.cols[n + span].group == col.group:
                span += 1
            width = sum(c.pdf_width for c in self.cols[n : n + span])
            box(pdf, self.x[n], y, width, self.GROUP_H, col.group, fill=True)
            for k in range(n, n + span):
                box(
                    pdf,
                    self.x[k],
                    y + self.GROUP_H,
                    self.cols[k].pdf_width,
                    self.LABEL_H,
                    self.cols[k].label,
                    fill=True,
                )
            n += span
        pdf.set_fill_color(255, 255, 255)
        pdf.set_xy(MARGIN, y + self.GROUP_H + self.LABEL_H)

    def block(self, lines: Sequence[Sequence[Cell]]) -> None:
        """One waste code's rows; kept on one page when they fit on one, otherwise split with the
        waste's own cells drawn again on each part."""
        height = len(lines) * ROW_H
        capacity = self.pdf.h - BOTTOM - MARGIN - 5 - self.GROUP_H - self.LABEL_H
        if height > self.room and height <= capacity:
            self.new_page()
        done = 0
        while done < len(lines):
            fits = int(self.room // ROW_H)
            if fits < 1:
                self.new_page()
                continue
            part = lines[done : done + fits]
            y = self.pdf.get_y()
            for n, (x, col) in enumerate(zip(self.x, self.cols, strict=True)):
                self.pdf.set_font(FAMILY, size=7)
                if col.per_waste:
                    box(self.pdf, x, y, col.pdf_width, len(part) * ROW_H, _text(part[0][n]))
                    continue
                for k, line in enumerate(part):
                    box(self.pdf, x, y + k * ROW_H, col.pdf_width, ROW_H, _text(line[n]))
            self.pdf.set_xy(MARGIN, y + len(part) * ROW_H)
            done += len(part)

    def totals(self, line: Sequence[Cell]) -> None:
        if self.room < ROW_H:
            self.new_page()
        y = self.pdf.get_y()
        self.pdf.set_font(FAMILY, size=7)
        label_w = sum(self.widths[:GENERATED_AT])
        box(self.pdf, MARGIN, y, label_w, ROW_H, _text(line[0]), fill=False)
        for n in range(GENERATED_AT, WIDTH):
            box(self.pdf, self.x[n], y, self.widths[n], ROW_H, _text(line[n]))
        self.pdf.set_xy(MARGIN, y + ROW_H)


def declaration_pdf(declaration: Any) -> bytes:
    """The declaration on A4 landscape: title, the declaring unit and the filing, the Appendix C table
    (header repeated on every page) and its totals."""
    content = declaration.content or {}
    title = declaration_title(declaration)
    pdf = new_pdf("landscape")
    width = pdf.w - 2 * MARGIN
    pdf.set_font(FAMILY, size=14)
    pdf.cell(width, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=8)
    pdf.cell(width, 5, _subtitle(declaration), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    facts_pdf(pdf, _facts(declaration), per_line=3, width=width)
    pdf.ln(2)

    table = _DeclarationTable(pdf, columns(declaration.kind), title)
    table.header()
    for block in _blocks(content):
        table.block(block)
    totals = _totals(content)
    table.totals(_totals_line(totals))
    note = _received_note(totals)
    if note:
        pdf.set_font(FAMILY, size=7.5)
        pdf.cell(width, 5, _fit(pdf, note, width), new_x="LMARGIN", new_y="NEXT")
    footer_line(pdf)
    page_numbers(pdf)
    return bytes(pdf.output())
