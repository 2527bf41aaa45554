"""Printable documents: container labels (HJ 1276-2022) and the manifest with its signatures and
timeline, as PDF with Chinese rendered from a CJK font and kept in the text layer.

The font is ``GREENISLE_PDF_FONT`` (``path`` or ``path:index`` for a collection) or, when unset,
what fontconfig gives for simplified Chinese (``fc-match 'sans-serif:lang=zh-cn'``; Debian's
fonts-noto-cjk, which ``make install`` installs).
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from typing import Any

import segno
from django.conf import settings
from django.utils import timezone
from fpdf import FPDF

from greenisle.core.errors import ServiceError

FAMILY = "cjk"
# HJ 1276-2022: the label's background colour and its black frame.
LABEL_YELLOW = (255, 204, 0)


@functools.cache
def cjk_font() -> tuple[str, int]:
    configured = settings.GREENISLE.get("PDF_FONT", "")
    if not configured:
        fc_match = shutil.which("fc-match")
        try:
            if fc_match is None:
                raise OSError("fc-match not found")
            configured = subprocess.run(  # noqa: S603 (a fixed argument list)
                [fc_match, "-f", "%{file}:%{index}", "sans-serif:lang=zh-cn"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            configured = ""
    path, _sep, index = configured.partition(":")
    if not path or not path.lower().endswith((".ttf", ".otf", ".ttc")):
        raise ServiceError(
            "没有可用的中文字体 / no CJK font: install fonts-noto-cjk or set GREENISLE_PDF_FONT",
            field="GREENISLE_PDF_FONT",
            code="no_font",
        )
    return path, int(index or 0)


def _pdf(**kwargs: Any) -> FPDF:
    pdf = FPDF(**kwargs)
    path, index = cjk_font()
    pdf.add_font(FAMILY, "", path, collection_font_number=index)
    pdf.set_font(FAMILY, size=9)
    pdf.set_creator("greenisle")
    pdf.set_auto_page_break(auto=True, margin=12)
    return pdf


def _qr_svg(payload: str) -> io.BytesIO:
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(
        buffer, kind="svg", scale=4, border=1, svgclass=None, lineclass=None, omitsize=True
    )
    buffer.seek(0)
    return buffer


def container_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/c/{code}/"


# --- labels ------------------------------------------------------------------------------------------


def _label(pdf: FPDF, x: float, y: float, size: float, container: Any, url: str) -> None:
    """One label, ``size`` mm square, its top left corner at (x, y)."""
    pdf.set_fill_color(*LABEL_YELLOW)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.8)
    pdf.rect(x, y, size, size, style="DF")
    pad = size * 0.04
    scale = size / 100
    pdf.set_xy(x + pad, y + pad)
    pdf.set_font(FAMILY, size=16 * scale)
    pdf.cell(size - 2 * pad, 8 * scale, "危险废物", align="C")
    rows = [
        ("废物名称", container.waste_name),
        ("废物类别", container.waste_code.category.code),
        ("废物代码", container.waste_code.code),
        ("废物形态", container.get_form_display()),
        ("危险特性", container.hazard_characteristics),
        ("主要成分", container.main_constituents),
        ("有害成分", container.hazardous_constituents),
        ("注意事项", container.precautions),
        ("产生单位", container.producer.name),
        ("联系人和联系方式", f"{container.contact_name} {container.contact_phone}"),
        ("产生日期", container.produced_on.isoformat()),
        ("废物重量", f"{container.weight_kg} kg"),
    ]
    pdf.set_font(FAMILY, size=6.6 * scale)
    line = 4.6 * scale
    top = y + pad + 9 * scale
    text_width = size - 2 * pad - 27 * scale
    for n, (label, value) in enumerate(rows):
        pdf.set_xy(x + pad, top + n * line)
        pdf.cell(text_width, line, _fit(pdf, f"{label}：{value}", text_width))
    qr = 25 * scale
    pdf.image(_qr_svg(url), x=x + size - pad - qr, y=y + size - pad - qr - 6 * scale, w=qr, h=qr)
    pdf.set_xy(x + pad, y + size - pad - 5 * scale)
    pdf.set_font(FAMILY, size=5.4 * scale)
    pdf.cell(size - 2 * pad, 5 * scale, f"数字识别码：{container.code}")


def labels_pdf(containers: Sequence[Any], *, base_url: str, layout: str = "label") -> bytes:
    """``label``: one 100 × 100 mm label per page, for a label printer; ``a4``: four per A4 sheet."""
    if layout not in ("label", "a4"):
        raise ServiceError("版式须为 label 或 a4 / layout is label or a4", field="layout")
    if layout == "label":
        pdf = _pdf(format=(100, 100))
        pdf.set_auto_page_break(auto=False)
        for container in containers:
            pdf.add_page()
            _label(pdf, 0, 0, 100, container, container_url(base_url, container.code))
    else:
        pdf = _pdf(format="A4")
        pdf.set_auto_page_break(auto=False)
        spots = [(5, 10), (105, 10), (5, 130), (105, 130)]
        for n, container in enumerate(containers):
            if n % 4 == 0:
                pdf.add_page()
            x, y = spots[n % 4]
            _label(pdf, x, y, 100, container, container_url(base_url, container.code))
    return bytes(pdf.output())


# --- the manifest -------------------------------------------------------------------------------------


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _table(pdf: FPDF, header: Sequence[str], rows: Iterable[Sequence[str]], widths: Sequence[float]) -> None:
    pdf.set_fill_color(235, 235, 235)
    for text, width in zip(header, widths, strict=True):
        pdf.cell(width, 6, text, border=1, fill=True)
    pdf.ln()
    for row in rows:
        for text, width in zip(row, widths, strict=True):
            pdf.cell(width, 6, _fit(pdf, str(text), width - 2), border=1)
        pdf.ln()


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` cut (with …) to what the current font draws within ``width`` mm."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def manifest_pdf(manifest: Any, *, timeline: Sequence[Any]) -> bytes:
    pdf = _pdf(format="A4")
    pdf.add_page()
    pdf.set_font(FAMILY, size=15)
    pdf.cell(0, 9, "危险废物转移联单", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    pdf.cell(
        0,
        6,
        f"联单编号：{manifest.number}    版本：{manifest.version}    状态：{manifest.get_status_display()}"
        + ("    （纸质联单补录 " + manifest.paper_reference + "）" if manifest.paper else ""),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    parties = [
        ("移出人", manifest.producer, manifest.producer_site.address),
        ("承运人", manifest.carrier, str(manifest.vehicle or "")),
        ("接受人", manifest.receiver, manifest.receiver_site.address if manifest.receiver_site else ""),
    ]
    _table(
        pdf,
        ["当事方", "单位名称", "统一社会信用代码", "地址 / 车辆"],
        [(role, org.name, org.uscc, where) for role, org, where in parties],
        [20, 62, 42, 66],
    )
    pdf.ln(3)
    lines = list(manifest.lines.select_related("waste_code").order_by("id"))
    _table(
        pdf,
        ["容器编码", "废物代码", "废物名称", "重量kg", "实收kg", "接收kg", "结论", "差异"],
        [
            (
                line.container_code,
                line.waste_code.code,
                line.waste_code.short_name,
                line.weight_kg,
                line.received_weight_kg or "—",
                line.accepted_weight_kg if line.accepted_weight_kg is not None else "—",
                line.get_decision_display() if line.decision else "—",
                "、".join(line.discrepancy_labels) or "—",
            )
            for line in lines
        ],
        [34, 20, 34, 16, 16, 16, 20, 34],
    )
    pdf.cell(0, 6, f"合计重量：{manifest.total_weight_kg} kg", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FAMILY, size=11)
    pdf.cell(0, 7, "签署 / Signatures", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    signed_by = (
        manifest.producer_signed_by.display_name
        if manifest.producer_signed_by
        else (manifest.get_producer_signature_method_display() if manifest.producer_signature_method else "—")
    )
    _table(
        pdf,
        ["环节", "时间", "签署"],
        [
            ("移出人签字", _when(manifest.producer_signed_at), signed_by),
            ("承运人装车", _when(manifest.departed_at), _name(manifest.departed_by)),
            ("送达", _when(manifest.delivered_at), _name(manifest.delivered_by)),
            (
                "接受人确认接收",
                _when(manifest.received_at),
                f"{_name(manifest.received_by)} {manifest.get_receipt_outcome_display() if manifest.receipt_outcome else ''}",
            ),
            (
                "利用处置",
                _when(manifest.treated_at),
                f"{manifest.treatment_method} {manifest.treatment_note}".strip() or "—",
            ),
        ],
        [40, 50, 100],
    )
    if manifest.receipt_due_on and manifest.status == "delivered":
        pdf.cell(
            0, 6, f"接收确认截止日（办法第十八条）：{manifest.receipt_due_on}", new_x="LMARGIN", new_y="NEXT"
        )
    pdf.ln(3)
    pdf.set_font(FAMILY, size=11)
    pdf.cell(0, 7, "全过程记录 / Timeline", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=8)
    _table(
        pdf,
        ["时间", "事件", "操作人", "哈希"],
        [
            (_when(e.created_at), e.action, e.actor_label if hasattr(e, "actor_label") else "", e.hash[:16])
            for e in timeline
        ],
        [40, 68, 44, 38],
    )
    pdf.ln(2)
    pdf.set_font(FAMILY, size=7)
    pdf.cell(0, 5, f"生成时间：{_when(timezone.now())} · greenisle 绿岛", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _name(user: Any) -> str:
    if user is None:
        return "—"
    return str(getattr(user, "display_name", "") or user.get_username())
