"""Reading a bin import file (CSV or Excel .xlsx) into a ``Table``: its columns and its rows.

The file
    One header row (the first non-empty row), then one bin per row. Headers are matched loosely: case,
    spaces, ``_``, ``-``, brackets and ``%`` do not matter, and each column has Chinese names too
    (``序列号``, ``名称``, ``容积(L)`` …; see ``COLUMNS``). A header such as ``序列号 / serial`` is read by
    either half. Unknown columns are ignored and reported. Blank rows are skipped.

    CSV: UTF-8 with or without BOM (what Excel's "CSV UTF-8" writes), else GB18030 (what Excel writes
    on a Chinese Windows), or UTF-16 with BOM ("Unicode text"); comma, tab or semicolon separated (as the
    header row shows). XLSX: the first worksheet. At most ``MAX_BYTES`` (5 MB) and ``MAX_ROWS`` (10,000)
    rows; old binary .xls files are refused (save as .xlsx or CSV).

``read_table`` raises ``ImportRefused`` (``FileTooLarge``) when the file as a whole cannot be read; the
rows themselves are judged by the import (``greenisle.devices.importing``).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from greenisle.core.errors import ServiceError

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
MAX_COLUMNS = 60
# An .xlsx is a zip: bound what it unpacks to, not only what was uploaded.
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_CELL_CHARS = 2000


class ImportRefused(ServiceError):
    """The file as a whole cannot be read (rows are judged one by one in the report)."""

    code = "invalid_file"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


class FileTooLarge(ImportRefused):
    status = 413
    code = "too_large"


# --- columns and the headers that name them ---------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    aliases: tuple[str, ...] = ()


COLUMNS: tuple[Column, ...] = (
    Column("serial", "序列号", ("serialnumber", "sn", "设备序列号", "设备编号", "编号")),
    Column("name", "名称", ("云仓名称", "设备名称")),
    Column("site", "场所", ("siteid", "场所id", "场所编号")),
    Column("producer_uscc", "统一社会信用代码", ("uscc", "产废单位统一社会信用代码", "信用代码")),
    Column("site_name", "场所名称", ()),
    Column("capacity_l", "容积(L)", ("容积", "容积升", "容量l", "容量升", "capacitylitres")),
    Column("capacity_kg", "额定重量(kg)", ("额定重量", "容量kg", "承重", "承重kg")),
    Column("waste_codes", "废物代码", ("wastecode", "危废代码", "危险废物代码")),
    Column("threshold_pct", "满溢阈值(%)", ("threshold", "阈值", "满溢阈值")),
    Column(
        "reporting_interval_s", "上报间隔(秒)", ("reportinginterval", "interval", "上报间隔", "上报间隔s")
    ),
    Column("transport", "接入方式", ("通信方式", "传输方式", "协议")),
    Column("mqtt_username", "MQTT用户名", ("mqttuser", "mqtt")),
    Column("hj212_mn", "HJ212 MN", ("mn", "数采仪mn")),
    Column("hj212_pw", "HJ212 PW", ("pw", "数采仪pw", "访问密码")),
    Column("hj212_crc_mode", "CRC校验方式", ("crcmode", "crc", "校验方式")),
    Column("enabled", "启用", ("是否启用",)),
)
REQUIRED_HEADERS = ("serial",)


def _normal(header: str) -> str:
    text = unicodedata.normalize("NFKC", header).lower()
    return re.sub(r"[\s_\-()\[\]%*:./（）【】：]+", "", text)


ALIASES: dict[str, str] = {}
for _column in COLUMNS:
    for _name in (_column.key, _column.zh, *_column.aliases):
        ALIASES[_normal(_name)] = _column.key


def column_for(header: str) -> str | None:
    """The column a header names: the whole header, or one half of ``中文 / English``."""
    if not header.strip():
        return None
    key = ALIASES.get(_normal(header))
    if key:
        return key
    for part in re.split(r"[/|｜／\s]+", header.strip()):
        key = ALIASES.get(_normal(part)) if part else None
        if key:
            return key
    return None


# --- reading the file -------------------------------------------------------------------------------


@dataclass
class Table:
    columns: dict[str, int]  # column key → index in each row
    ignored: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)[:MAX_CELL_CHARS].strip()


def _decode(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    raise ImportRefused(
        "无法识别文件编码，请另存为 CSV UTF-8 或 .xlsx / cannot read the file's encoding: save it as CSV UTF-8 "
        "or .xlsx"
    )


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = _decode(data)
    if "\x00" in text:
        raise ImportRefused("文件含有NUL字符 / the file contains NUL characters")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first.count)
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            yield [cell.strip()[:MAX_CELL_CHARS] for cell in row[:MAX_COLUMNS]]
    except csv.Error as exc:
        raise ImportRefused(f"CSV格式有误 / malformed CSV: {exc}") from None


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    import openpyxl

    unreadable = "无法读取该 .xlsx 文件 / cannot read this .xlsx file"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ImportRefused(unreadable) from None
    if unpacked > MAX_UNZIPPED_BYTES:
        raise FileTooLarge("该 .xlsx 解压后过大 / this .xlsx unpacks to too much data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any failure to open is the file's fault
        raise ImportRefused(unreadable) from None
    try:
        if not workbook.worksheets:
            raise ImportRefused(unreadable)
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # trust the cells, not the sheet's declared size
        for values in sheet.iter_rows(values_only=True):
            yield [_cell_text(v) for v in values[:MAX_COLUMNS]]
    except ImportRefused:
        raise
    except Exception:  # noqa: BLE001 - malformed sheet XML
        raise ImportRefused(unreadable) from None
    finally:
        workbook.close()


def read_table(data: bytes, filename: str = "") -> Table:
    """The header and the non-blank rows of a CSV or .xlsx file; ``ImportRefused`` if it cannot be read."""
    if len(data) > MAX_BYTES:
        raise FileTooLarge(f"文件超过 {MAX_BYTES // (1024 * 1024)} MB / the file is larger than 5 MB")
    if not data.strip():
        raise ImportRefused("文件为空 / the file is empty")
    name = filename.lower()
    if data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise ImportRefused(
            "不支持旧版 .xls，请另存为 .xlsx 或 CSV / old .xls files are not read: save as .xlsx or CSV"
        )
    rows = _xlsx_rows(data) if data.startswith(b"PK\x03\x04") or name.endswith(".xlsx") else _csv_rows(data)

    header: list[str] | None = None
    columns: dict[str, int] = {}
    ignored: list[str] = []
    body: list[tuple[int, list[str]]] = []
    for number, cells in enumerate(rows, start=1):
        if not any(cells):
            continue
        if header is None:
            header = cells
            for index, title in enumerate(cells):
                key = column_for(title)
                if key is None:
                    if title:
                        ignored.append(title)
                elif key in columns:
                    raise ImportRefused(f"表头重复：{title} / the header names {key} twice")
                else:
                    columns[key] = index
            missing = [k for k in REQUIRED_HEADERS if k not in columns]
            if missing:
                raise ImportRefused("表头缺少“序列号”列 / the header row has no serial column")
            continue
        if len(body) >= MAX_ROWS:
            raise FileTooLarge(f"最多 {MAX_ROWS} 行 / at most {MAX_ROWS:,} rows per file")
        body.append((number, cells))
    if header is None:
        raise ImportRefused("文件为空 / the file is empty")
    return Table(columns=columns, ignored=ignored, rows=body)
