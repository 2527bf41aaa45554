"""Exports of declarations (HJ 1259-2022 Appendix C) as Excel and PDF, and the plan's filing receipt."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import openpyxl
import pypdfium2 as pdfium
import pytest
from django.utils import timezone

from greenisle.core.errors import ServiceError
from greenisle.ledger.exports import declaration_pdf, declaration_title, declaration_xlsx
from greenisle.ledger.models import Declaration, DeclarationStatus
from greenisle.plans.documents import plan_receipt_pdf

GREENISLE = "南通绿岛环保科技有限公司"
RUDONG = "如东某危废处置中心"
RECEIPT = "SB-320602-2026-000042"


def _text(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [re.sub(r"\s+", "", doc[n].get_textpage().get_text_range()) for n in range(len(doc))]


def _row(code, name, category, *, generated, opening, closing, own=(), outsourced=()):
    return {
        "waste_code": code,
        "name": name,
        "category": category,
        "characteristics": "T,I",
        "hazardous_constituents": "矿物油",
        "form": "液态",
        "internal_name": f"内部{code}",
        "generated_t": generated,
        "received_t": "0.000",
        "own": [{"method": m, "t": t} for m, t in own],
        "outsourced": [
            {"province": p, "receiver": r, "licence_number": lic, "method": m, "t": t}
            for p, r, lic, m, t in outsourced
        ],
        "opening_t": opening,
        "closing_t": closing,
    }


ROWS = [
    _row(
        "900-214-08",
        "废矿物油",
        "HW08",
        generated="1.250",
        opening="0.100",
        closing="0.250",
        own=[("R9", "0.200")],
        outsourced=[
            ("江苏省", GREENISLE, "JSNT0612OOD001", "C1", "0.600"),
            ("江苏省", RUDONG, "JS0623OOI001", "D10", "0.300"),
        ],
    ),
    _row(
        "900-041-49",
        "含油废抹布",
        "HW49",
        generated="0.480",
        opening="0.050",
        closing="0.130",
        outsourced=[("江苏省", GREENISLE, "JSNT0612OOD001", "C1", "0.400")],
    ),
]
TOTALS = {
    "generated_t": "1.730",
    "received_t": "0.000",
    "own_t": "0.200",
    "outsourced_t": "1.300",
    "opening_t": "0.150",
    "closing_t": "0.380",
}


def _content(world, rows, totals):
    return {
        "unit": {
            "name": world.producer.name,
            "uscc": world.producer.uscc,
            "site": world.site.name,
            "address": world.site.address,
            "division": "320602",
            "industry": "汽车修理与维护",
            "management_class": "key",
        },
        "period": {
            "kind": "month",
            "label": "2026-03",
            "label_zh": "2026年3月",
            "start": "2026-03-01",
            "end": "2026-04-01",
            "due_on": "2026-04-15",
        },
        "rows": rows,
        "totals": totals,
        "records": 12,
    }


def _declaration(world, rows=ROWS, totals=TOTALS, **fields):
    values = {
        "organization": world.producer,
        "site": world.site,
        "kind": "month",
        "period_start": dt.date(2026, 3, 1),
        "period_end": dt.date(2026, 4, 1),
        "label": "2026-03",
        "due_on": dt.date(2026, 4, 15),
        "management_class": "key",
        "status": DeclarationStatus.SUBMITTED,
        "receipt_number": RECEIPT,
        "submitted_at": timezone.now(),
        "generated_at": timezone.now(),
        "content": _content(world, rows, totals),
    }
    values.update(fields)
    return Declaration.objects.create(**values)


@pytest.fixture
def declaration(world):
    return _declaration(world)


@pytest.mark.parametrize(
    ("kind", "label", "title"),
    [
        ("month", "2026-03", "2026年3月危险废物月度申报报告表"),
        ("quarter", "2026-Q1", "2026年第1季度危险废物季度申报报告表"),
        ("year", "2026", "2026年危险废物年度申报报告表"),
    ],
)
def test_title_names_the_period_and_its_kind(kind, label, title):
    assert declaration_title(Declaration(kind=kind, label=label, content={})) == title


# --- Excel -------------------------------------------------------------------------------------------


def _sheet(data: bytes):
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert len(book.worksheets) == 1
    return book.worksheets[0]


def _find(sheet, text):
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value == text:
                return cell
    raise AssertionError(f"{text!r} not in the sheet")


def test_xlsx_has_title_facts_and_the_two_header_rows(world, declaration):
    sheet = _sheet(declaration_xlsx(declaration))
    assert sheet.title == "2026-03"
    assert sheet["A1"].value == "2026年3月危险废物月度申报报告表"
    values = {str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None}
    for text in [world.producer.name, world.producer.uscc, world.site.name, world.site.address, RECEIPT]:
        assert any(text in v for v in values), text
    assert any("重点监管单位" in v for v in values)

    top = _find(sheet, "序号").row
    groups = [sheet.cell(top, c).value for c in range(1, 24)]
    labels = [sheet.cell(top + 1, c).value for c in range(1, 24)]
    assert [g for g in groups if g] == [
        "序号",
        "危险废物名称",
        "危险废物类别",
        "危险废物代码",
        "有害成分名称",
        "形态",
        "危险特性",
        "产生情况",
        "自行利用/处置情况",
        "委托外单位利用/处置情况",
        "贮存情况",
    ]
    assert labels[1:3] == ["行业俗称/单位内部名称", "国家危险废物名录名称"]
    assert labels[13:19] == [
        "省（区、市）",
        "单位名称",
        "危险废物经营许可证编号",
        "利用/处置方式",
        "利用/处置量",
        "计量单位",
    ]
    assert labels[19] == "上月底剩余贮存量" and labels[21] == "本月底剩余贮存量"
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert f"N{top}:S{top}" in merged  # 委托外单位利用/处置情况 over its six columns
    assert f"A{top}:A{top + 1}" in merged  # 序号 over both header rows
    assert all(sheet.column_dimensions[letter].width for letter in "ABCDOP")


def test_xlsx_has_a_row_per_outsourced_receiver_with_numbers(declaration):
    sheet = _sheet(declaration_xlsx(declaration))
    first = _find(sheet, "序号").row + 2
    lines = [[sheet.cell(r, c).value for c in range(1, 24)] for r in range(first, first + 4)]
    oil, oil_2, rags, totals = lines

    assert oil[:5] == [1, "内部900-214-08", "废矿物油", "HW08", "900-214-08"]
    assert rags[:5] == [2, "内部900-041-49", "含油废抹布", "HW49", "900-041-49"]
    assert [oil[14], oil_2[14], rags[14]] == [GREENISLE, RUDONG, GREENISLE]
    assert [oil[15], oil_2[15], rags[15]] == ["JSNT0612OOD001", "JS0623OOI001", "JSNT0612OOD001"]
    assert [oil[16], oil_2[16]] == ["C1", "D10"]
    assert oil[10] == "R9" and oil_2[10] is None  # one own method, on the first row only

    def number(value):
        assert isinstance(value, int | float | Decimal), value
        return Decimal(str(value)).quantize(Decimal("0.001"))

    assert number(oil[8]) == Decimal("1.250")  # 产生量
    assert oil[9] == "吨"
    assert number(oil[11]) == Decimal("0.200")
    assert [number(oil[17]), number(oil_2[17]), number(rags[17])] == [
        Decimal("0.600"),
        Decimal("0.300"),
        Decimal("0.400"),
    ]
    assert [number(oil[19]), number(oil[21]), number(rags[19]), number(rags[21])] == [
        Decimal("0.100"),
        Decimal("0.250"),
        Decimal("0.050"),
        Decimal("0.130"),
    ]
    # The waste's own cells are merged over its two rows.
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert f"E{first}:E{first + 1}" in merged and f"V{first}:V{first + 1}" in merged

    assert "合计" in totals[0]
    assert number(totals[8]) == Decimal("1.730")
    assert number(totals[11]) == Decimal("0.200")
    assert number(totals[17]) == Decimal("1.300")
    assert number(totals[19]) == Decimal("0.150")
    assert number(totals[21]) == Decimal("0.380")


def test_xlsx_of_a_quarter_names_its_storage_columns(world):
    declaration = _declaration(
        world,
        kind="quarter",
        label="2026-Q1",
        period_end=dt.date(2026, 4, 1),
        status=DeclarationStatus.DRAFT,
        receipt_number="",
        submitted_at=None,
    )
    declaration.content["period"]["label_zh"] = "2026年第1季度"
    sheet = _sheet(declaration_xlsx(declaration))
    assert sheet["A1"].value == "2026年第1季度危险废物季度申报报告表"
    _find(sheet, "上季度底剩余贮存量")
    _find(sheet, "本季度底剩余贮存量")
    values = [str(c.value) for row in sheet.iter_rows() for c in row if c.value]
    assert not any("申报回执编号" in v for v in values)  # no receipt before submission


# --- PDF ---------------------------------------------------------------------------------------------


def test_pdf_has_title_unit_codes_receivers_and_receipt(world, declaration):
    pdf = declaration_pdf(declaration)
    assert pdf.startswith(b"%PDF")
    page = pdfium.PdfDocument(pdf)[0]
    assert page.get_width() > page.get_height()  # landscape
    assert round(page.get_width() / 72 * 25.4) == 297
    flat = "".join(_text(pdf))
    for value in [
        "2026年3月危险废物月度申报报告表",
        world.producer.name,
        world.producer.uscc,
        "900-214-08",
        "900-041-49",
        GREENISLE,
        RUDONG,
        "JS0623OOI001",
        RECEIPT,
        "委托外单位利用/处置情况",
        "危险废物经营许可证编号",
        "1.730",
        "1.300",
    ]:
        assert value in flat, value


def test_long_pdf_breaks_across_pages_with_the_header_on_each(world):
    rows = [
        _row(
            f"900-{n:03d}-49",
            f"废物{n}",
            "HW49",
            generated="1.000",
            opening="0.000",
            closing="0.500",
            outsourced=[("江苏省", f"接收单位{n:02d}", "JS0623OOI001", "D10", "0.500")],
        )
        for n in range(60)
    ]
    totals = dict(TOTALS, generated_t="60.000", outsourced_t="30.000", closing_t="30.000", own_t="0.000")
    pages = _text(declaration_pdf(_declaration(world, rows=rows, totals=totals)))
    assert len(pages) >= 3
    for page in pages:
        for header in ["序号", "危险废物代码", "委托外单位利用/处置情况", "本月底剩余贮存量"]:
            assert header in page, (header, pages.index(page))
    assert "2026年3月危险废物月度申报报告表" in pages[1]  # the continuation names the table
    flat = "".join(pages)
    assert all(f"接收单位{n:02d}" in flat for n in range(60))
    assert "60.000" in pages[-1]


# --- the plan's filing receipt -------------------------------------------------------------------------


def test_plan_receipt_has_filing_number_codes_and_local_time(world, filed_plan):
    filed_plan.filed_by = world.alice
    filed_plan.filed_at = dt.datetime(2026, 3, 1, 18, 30, tzinfo=dt.UTC)
    filed_plan.management_class = "simplified"
    filed_plan.save()
    pages = _text(plan_receipt_pdf(filed_plan))
    flat = "".join(pages)
    for value in [
        "危险废物管理计划备案回执",
        filed_plan.filing_number,
        world.producer.name,
        world.producer.uscc,
        world.site.name,
        "900-214-08",
        "900-041-49",
        "900-052-31",
        world.collector.name,
        "李爱丽",
        "2026-03-0202:30",  # Asia/Shanghai
        "简化管理单位",
        "已备案",
    ]:
        assert value in flat, value
    assert "代为备案" not in flat


def test_plan_receipt_filed_by_the_collector_says_so(world, filed_plan):
    filed_plan.filed_by = world.dispatcher
    filed_plan.filed_by_organization = world.collector
    filed_plan.save()
    flat = "".join(_text(plan_receipt_pdf(filed_plan)))
    assert f"由{world.collector.name}代为备案" in flat
    assert "周调度" in flat


def test_an_unfiled_plan_has_no_receipt(world, filed_plan):
    filed_plan.filing_number = ""
    with pytest.raises(ServiceError) as refused:
        plan_receipt_pdf(filed_plan)
    assert refused.value.code == "not_filed"
