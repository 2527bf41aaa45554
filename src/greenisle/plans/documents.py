"""The filing receipt (备案回执) of a management plan as PDF (HJ 1259-2022 §5.2.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from greenisle.core.errors import ServiceError
from greenisle.ledger.exports import MANAGEMENT_CLASSES, shown
from greenisle.ledger.pdf_layout import (
    LINE_H,
    MARGIN,
    PAD,
    ROW_H,
    Table,
    box,
    footer_line,
    local,
    new_pdf,
    page_numbers,
    wrap,
)
from greenisle.manifests.documents import FAMILY, _fit

PLAN_STATUSES = {
    "draft": "草稿 / Draft",
    "filed": "已备案 / Filed",
    "approved": "已审核 / Approved",
    "returned": "退回修改 / Returned for changes",
    "superseded": "已被变更替代 / Superseded by an amendment",
}


class _PlanWasteTable(Table):
    HEADER = (
        "废物代码 / Code",
        "废物名称 / Name",
        "预计产生量（吨/年） / Expected t/yr",
        "预计转移量（吨） / Transfer t",
        "利用/处置方式 / Method",
        "接收单位 / Receivers",
    )

    def header(self) -> None:
        self.pdf.set_fill_color(235, 235, 235)
        self.pdf.set_font(FAMILY, size=7)
        y = self.pdf.get_y()
        for x, w, text in zip(self.x, self.widths, self.HEADER, strict=True):
            box(self.pdf, x, y, w, 2 * ROW_H, text, fill=True)
        self.pdf.set_fill_color(255, 255, 255)
        self.pdf.set_xy(MARGIN, y + 2 * ROW_H)

    def row(self, texts: Sequence[str]) -> None:
        self.pdf.set_font(FAMILY, size=7)
        lines = max(len(wrap(self.pdf, t, w - 2 * PAD)) for t, w in zip(texts, self.widths, strict=True))
        height = max(ROW_H, min(lines, 6) * LINE_H + 1)
        if height > self.room:
            self.new_page()
        y = self.pdf.get_y()
        self.cells(y, height, texts)
        self.pdf.set_xy(MARGIN, y + height)


def _person(user: Any) -> str:
    if user is None:
        return "—"
    return str(getattr(user, "display_name", "") or user.get_username())


def plan_receipt_pdf(plan: Any) -> bytes:
    """The filing receipt (备案回执) of a filed management plan on A4: the filing, the unit and site, and
    the wastes it plans with their receivers."""
    if not plan.filing_number:
        raise ServiceError(
            "管理计划尚未备案，没有回执 / the plan is not filed, so it has no receipt",
            field="plan",
            code="not_filed",
        )
    site = plan.site
    org = site.organization
    filed_by = _person(plan.filed_by)
    if plan.filed_by_organization_id:
        name = plan.filed_by_organization.name
        filed_by = f"{filed_by}（由 {name} 代为备案 / filed on behalf by {name}）"
    if plan.revision:
        revision = f"第 {plan.revision} 次变更 / amendment {plan.revision}"
        if plan.amends_id:
            revision += f"（变更 {plan.amends.filing_number or '—'} / amends it）"
    else:
        revision = "原计划 / original plan"
    facts = [
        ("备案编号 / Filing number", plan.filing_number),
        ("单位名称 / Organisation", org.name),
        ("统一社会信用代码 / USCC", org.uscc),
        ("场所 / Site", site.name),
        ("地址 / Address", site.address or "—"),
        ("计划年度 / Year", f"{plan.year}"),
        ("版本 / Revision", revision),
        ("管理类别 / Management class", shown(plan.management_class, MANAGEMENT_CLASSES)),
        ("备案时间 / Filed at", local(plan.filed_at)),
        ("备案人 / Filed by", filed_by),
        ("状态 / Status", shown(plan.status, PLAN_STATUSES)),
    ]

    title = "危险废物管理计划备案回执 / Management plan filing receipt"
    pdf = new_pdf("portrait")
    width = pdf.w - 2 * MARGIN
    pdf.set_font(FAMILY, size=14)
    pdf.cell(width, 9, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=8)
    pdf.cell(width, 5, "HJ 1259-2022 §5", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FAMILY, size=9)
    for label, value in facts:
        pdf.cell(52, 6.5, label, border=1)
        pdf.cell(width - 52, 6.5, _fit(pdf, value, width - 54), border=1, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FAMILY, size=11)
    pdf.cell(width, 7, "计划危险废物 / Planned wastes", new_x="LMARGIN", new_y="NEXT")

    table = _PlanWasteTable(pdf, [24, 46, 24, 22, 20, 54], title)
    table.header()
    wastes = (
        plan.wastes.select_related("waste_code").prefetch_related("receivers").order_by("waste_code__code")
    )
    count = 0
    for waste in wastes:
        count += 1
        table.row(
            [
                waste.waste_code.code,
                waste.waste_code.short_name,
                str(waste.annual_t),
                "—" if waste.transfer_t is None else str(waste.transfer_t),
                waste.method or "—",
                "、".join(r.name for r in waste.receivers.all()) or "—",
            ]
        )
    if not count:
        table.row(["—", "未列危险废物 / no wastes", "", "", "", ""])
    footer_line(pdf)
    page_numbers(pdf)
    return bytes(pdf.output())
