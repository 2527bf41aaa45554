"""PDF layout shared by the ledger's and the plans' documents: A4 pages with the CJK font of
:mod:`greenisle.manifests.documents`, bordered cells with wrapped text cut to the box, tables that
repeat their header on each new page, page numbers and the footer line."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import WrapMode

from greenisle.manifests.documents import FAMILY, _fit, _pdf

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(value: dt.datetime | None) -> str:
    """A time in Asia/Shanghai (the platform's and the bureaus' clock), to the minute."""
    if value is None:
        return "—"
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


MARGIN = 10.0
BOTTOM = 12.0  # room kept for the page number
LINE_H = 3.0  # mm per line of 7 pt text
ROW_H = 7.0  # two lines
PAD = 0.8


def wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    lines = pdf.multi_cell(width, LINE_H, text, dry_run=True, output="LINES", wrapmode=WrapMode.CHAR)
    assert isinstance(lines, list)
    return [str(line) for line in lines] or [""]


def box(
    pdf: FPDF,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str,
    *,
    align: str = "C",
    fill: bool = False,
) -> None:
    """A bordered cell at (x, y) with ``text`` wrapped, centred vertically, and cut (…) to the box."""
    pdf.rect(x, y, w, h, style="DF" if fill else "D")
    if not text:
        return
    inner = w - 2 * PAD
    lines = wrap(pdf, text, inner)
    most = max(1, int(h // LINE_H))
    if len(lines) > most:
        lines = lines[: most - 1] + [_fit(pdf, "".join(lines[most - 1 :]), inner)]
    first = y + (h - len(lines) * LINE_H) / 2
    for n, line in enumerate(lines):
        pdf.set_xy(x + PAD, first + n * LINE_H)
        pdf.cell(inner, LINE_H, line, align=align)


class Table(ABC):
    """Draws a table on an A4 landscape or portrait page, a new page (with its header again) when the
    rows run out of room."""

    def __init__(self, pdf: FPDF, widths: Sequence[float], heading: str) -> None:
        self.pdf = pdf
        self.x = [MARGIN + sum(widths[:n]) for n in range(len(widths))]
        self.widths = list(widths)
        self.heading = heading

    @property
    def room(self) -> float:
        return self.pdf.h - BOTTOM - self.pdf.get_y()

    def new_page(self) -> None:
        self.pdf.add_page()
        self.pdf.set_font(FAMILY, size=8)
        self.pdf.set_xy(MARGIN, MARGIN)
        self.pdf.cell(0, 5, f"{self.heading}（续） / continued", new_x="LMARGIN", new_y="NEXT")
        self.header()

    @abstractmethod
    def header(self) -> None:
        """Draw the table's header at the current position."""

    def cells(self, y: float, h: float, texts: Sequence[str], *, spans: Sequence[bool] = ()) -> None:
        for n, (x, w, text) in enumerate(zip(self.x, self.widths, texts, strict=True)):
            if spans and not spans[n]:
                continue
            self.pdf.set_font(FAMILY, size=7)
            box(self.pdf, x, y, w, h, text)


def page_numbers(pdf: FPDF) -> None:
    total = pdf.page
    for page in range(1, total + 1):
        pdf.page = page
        pdf.set_font(FAMILY, size=7)
        pdf.set_xy(MARGIN, pdf.h - BOTTOM + 3)
        pdf.cell(pdf.w - 2 * MARGIN, 4, f"第 {page} / {total} 页 · page {page} of {total}", align="C")
    pdf.page = total


def facts_pdf(pdf: FPDF, facts: Sequence[tuple[str, str]], *, per_line: int, width: float) -> None:
    """Label–value pairs, ``per_line`` to a line."""
    pdf.set_font(FAMILY, size=8.5)
    cell = width / per_line
    for n, (label, value) in enumerate(facts):
        pdf.cell(cell, 5.5, _fit(pdf, f"{label}：{value}", cell - 2))
        if n % per_line == per_line - 1 or n == len(facts) - 1:
            pdf.ln(5.5)


def new_pdf(orientation: str) -> FPDF:
    pdf = _pdf(format="A4", orientation=orientation)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    # Pages are broken here, where the table's header can be repeated.
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    return pdf


def footer_line(pdf: FPDF) -> None:
    pdf.set_font(FAMILY, size=7)
    if pdf.h - BOTTOM - pdf.get_y() < 6:
        pdf.add_page()
    pdf.ln(1)
    pdf.cell(
        0,
        5,
        f"生成时间 / generated at：{local(dt.datetime.now(tz=SHANGHAI))} · greenisle 绿岛",
        new_x="LMARGIN",
        new_y="NEXT",
    )
