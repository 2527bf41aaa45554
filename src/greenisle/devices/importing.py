"""Bulk provisioning of bins from a CSV or Excel (.xlsx) file.

The file
    One header row (the first non-empty row), then one bin per row. Headers are matched loosely: case,
    spaces, ``_``, ``-``, brackets and ``%`` do not matter, and each column has Chinese names too
    (``序列号``, ``名称``, ``容积(L)`` …; see ``COLUMNS``). A header such as ``序列号 / serial`` is read by
    either half. Unknown columns are ignored and reported. Blank rows are skipped.

    CSV: UTF-8 with or without BOM (what Excel's "CSV UTF-8" writes), else GB18030 (what Excel writes
    on a Chinese Windows), or UTF-16 with BOM ("Unicode text"); comma, tab or semicolon separated (as the
    header row shows). XLSX: the first worksheet. At most ``MAX_BYTES`` (5 MB) and ``MAX_ROWS`` (10,000)
    rows; old binary .xls files are refused (save as .xlsx or CSV).

Columns
    serial*          the bin's serial number (the key: see "Existing serials")
    name*            what the bin is called (e.g. 机油云仓)
    site*            where it stands, one of:
                       - the site's id (a UUID, as in the "client sites" download), or
                       - the producer's 统一社会信用代码 (USCC), optionally followed by ``/`` and the site
                         name: ``91320602MA1XXXXXXX/崇川维修车间``; or
                       - columns ``producer_uscc`` (统一社会信用代码) and ``site_name`` (场所名称).
                     The site name may be left out when the producer has one site. Only producers with a
                     service contract in force with the collector are found.
    capacity_l*      whole litres
    capacity_kg*     kilograms
    waste_codes*     名录 codes of the edition in force, separated by ``;`` ``,`` ``，`` ``、`` or spaces
    threshold_pct    1–100, default 80
    reporting_interval_s   30–86400 seconds, default 900
    transport        http (default), mqtt or hj212
    mqtt_username    required for mqtt; an MQTT password is generated for it
    hj212_mn, hj212_pw   required for hj212: the data logger's MN and the PW configured on it
    hj212_crc_mode   standard (default), modbus or modbus_swapped
    enabled          是/否, yes/no, 1/0, true/false; default yes
    (* required for a new bin)

Existing serials (upsert)
    A row whose serial is already one of the collector's bins updates that bin: non-blank cells replace
    the bin's values, blank cells leave them as they are (an unchanged row is reported "unchanged" and
    writes nothing). A serial registered by another collector is refused. A serial, MQTT username or MN
    repeated within the file is refused on its later rows.

Nothing valid is lost
    Every row is validated and reported (row number as the spreadsheet shows it, the serial, and each
    field at fault). A real import writes every valid row, each with its audit event, and skips the
    invalid ones: fix them and import the file again (rows already imported come back "unchanged").
    Rows are written in batches of ``WRITE_BATCH`` per transaction, each row in its own savepoint, so a
    row refused at write time (a serial someone registered meanwhile) undoes nothing but itself. A dry
    run validates every row the same way and writes nothing.

Credentials
    The HTTP device key of each new bin (and the MQTT password of each bin that gets an MQTT username) are
    returned once in the report (``credentials``, ``credentials_csv()``); only their hashes are kept.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
import uuid
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from greenisle.audit.services import event_record
from greenisle.core.errors import ServiceError
from greenisle.devices.models import Bin
from greenisle.devices.selectors import client_sites_for
from greenisle.devices.services import (
    BinInvalid,
    BinLookups,
    bin_clean,
    bin_create,
    bin_update,
    collector_admin,
)
from greenisle.organizations.models import Organization, Site

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
MAX_COLUMNS = 60
# An .xlsx is a zip: bound what it unpacks to, not only what was uploaded.
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_CELL_CHARS = 2000
WRITE_BATCH = 100


class ImportRefused(ServiceError):
    """The file as a whole cannot be read (rows are judged one by one in the report)."""

    code = "invalid_file"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


class FileTooLarge(ImportRefused):
    status = 413
    code = "too_large"


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
SITE_KEYS = ("site", "producer_uscc", "site_name")


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


# --- sites by producer USCC ------------------------------------------------------------------------

_USCC_AND_NAME = re.compile(r"([0-9A-HJ-NPQRTUWXY]{18})\s*(?:[/／|｜·]\s*(.*))?", re.IGNORECASE)


class SiteIndex:
    """The collector's client sites by producer USCC, read once per import."""

    def __init__(self, collector: Organization) -> None:
        self.by_uscc: dict[str, list[Site]] = {}
        for site in client_sites_for(collector):
            self.by_uscc.setdefault(site.organization.uscc.upper(), []).append(site)

    def resolve(self, *, site: str, uscc: str, site_name: str) -> tuple[str | None, list[tuple[str, str]]]:
        """A site id for the row's site reference, or the errors naming the column at fault."""
        if site:
            try:
                return str(uuid.UUID(site)), []
            except ValueError:
                match = _USCC_AND_NAME.fullmatch(site.strip())
                if match is None:
                    return None, [
                        (
                            "site",
                            "场所须为场所ID，或 统一社会信用代码/场所名称 / site must be a site id, or the "
                            "producer's USCC/site name",
                        )
                    ]
                return self._by_uscc(match.group(1), (match.group(2) or "").strip(), "site", "site")
        if uscc:
            return self._by_uscc(uscc.strip(), site_name.strip(), "producer_uscc", "site_name")
        return None, [("site", "场所必填 / site is required")]

    def _by_uscc(self, uscc: str, name: str, uscc_field: str, name_field: str) -> tuple[str | None, list]:
        sites = self.by_uscc.get(uscc.upper())
        if not sites:
            return None, [
                (
                    uscc_field,
                    f"服务客户中没有统一社会信用代码为 {uscc[:18]} 的产废单位 / no producer with USCC "
                    f"{uscc[:18]} among your clients",
                )
            ]
        if name:
            named = [s for s in sites if s.name.strip() == name]
            if len(named) == 1:
                return str(named[0].pk), []
            return None, [
                (
                    name_field,
                    f"该产废单位没有名为“{name[:60]}”的场所 / the producer has no site named {name[:60]}",
                )
            ]
        if len(sites) == 1:
            return str(sites[0].pk), []
        return None, [
            (
                name_field,
                f"该产废单位有 {len(sites)} 个场所，请填写场所名称 / the producer has {len(sites)} sites: "
                "name the site",
            )
        ]


# --- the import ------------------------------------------------------------------------------------


@dataclass
class RowResult:
    row: int
    serial: str
    action: str = ""  # create | update
    status: str = "ok"  # dry run: ok | error; import: created | updated | unchanged | error
    errors: list[tuple[str, str]] = field(default_factory=list)
    bin_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportReport:
    dry_run: bool
    filename: str
    rows: list[RowResult]
    ignored_columns: list[str]
    credentials: list[dict[str, str]] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def counts(self) -> dict[str, int]:
        statuses = ("ok", "created", "updated", "unchanged", "error")
        counts = {s: self.count(s) for s in statuses}
        counts["total"] = len(self.rows)
        counts["to_create"] = sum(1 for r in self.rows if r.ok and r.action == "create")
        counts["to_update"] = sum(1 for r in self.rows if r.ok and r.action == "update")
        return counts

    def credentials_csv(self) -> str:
        """The new secrets, one bin per row (give them to the installer; they are not kept)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["serial", "http_key", "mqtt_username", "mqtt_password"])
        for c in self.credentials:
            writer.writerow(
                [c["serial"], c.get("http_key", ""), c.get("mqtt_username", ""), c.get("mqtt_password", "")]
            )
        return out.getvalue()

    def results_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["row", "serial", "action", "status", "errors"])
        for r in self.rows:
            errors = "; ".join(f"{f}: {m}" for f, m in r.errors)
            writer.writerow([r.row, _csv_safe(r.serial), r.action, r.status, _csv_safe(errors)])
        return out.getvalue()


def _csv_safe(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet (CSV injection): make it text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _merge(first: list[tuple[str, str]], more: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen = {f for f, _m in first}
    site_named = bool(seen & set(SITE_KEYS))
    return first + [(f, m) for f, m in more if f not in seen and not (site_named and f == "site")]


def _errors_of(exc: ServiceError) -> list[tuple[str, str]]:
    if isinstance(exc, BinInvalid):
        return list(exc.errors)
    return [(exc.field or "", exc.message)]


def _existing(collector: Organization, serials: list[str]) -> dict[str, Bin]:
    found: dict[str, Bin] = {}
    for start in range(0, len(serials), 500):
        chunk = serials[start : start + 500]
        for obj in Bin.objects.select_related("site__organization").filter(serial__in=chunk):
            found[obj.serial] = obj
    return found


def _write(
    actor: Any,
    collector: Organization,
    lookups: BinLookups,
    report: ImportReport,
    result: RowResult,
    instance: Bin | None,
    serial: str,
    fields: dict[str, str],
) -> None:
    try:
        if instance is None:
            obj, credentials = bin_create(
                actor=actor,
                collector=collector,
                serial=serial,
                name=fields.pop("name", None),
                site=fields.pop("site", None),
                capacity_l=fields.pop("capacity_l", None),
                capacity_kg=fields.pop("capacity_kg", None),
                waste_codes=fields.pop("waste_codes", None),
                lookups=lookups,
                source="import",
                **fields,
            )
            result.status = "created"
        else:
            before = instance.updated_at
            obj, credentials = bin_update(
                actor=actor, bin_id=instance.pk, lookups=lookups, source="import", **fields
            )
            result.status = "updated" if obj.updated_at != before else "unchanged"
    except ServiceError as exc:
        result.errors, result.status = _errors_of(exc), "error"
        return
    result.bin_id = str(obj.pk)
    if credentials:
        report.credentials.append({"row": str(result.row), "serial": obj.serial, **credentials})


def bins_import(*, actor: Any, data: bytes, filename: str = "", dry_run: bool = False) -> ImportReport:
    """Validate every row of the file and (unless ``dry_run``) create or update the valid ones."""
    membership = collector_admin(actor)
    collector: Organization = membership.organization
    table = read_table(data, filename)
    lookups = BinLookups(collector)
    sites = SiteIndex(collector)

    def cell(cells: list[str], key: str) -> str:
        index = table.columns.get(key)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    serial_index = table.columns["serial"]
    serials = [
        c[serial_index].strip() for _n, c in table.rows if serial_index < len(c) and c[serial_index].strip()
    ]
    existing = _existing(collector, list(dict.fromkeys(serials)))
    lookups.free_serials = set(serials) - set(existing)
    first_seen: dict[tuple[str, str], int] = {}
    planned: list[tuple[RowResult, Bin | None, str, dict[str, str]]] = []
    report = ImportReport(dry_run=dry_run, filename=filename[:200], rows=[], ignored_columns=table.ignored)

    for number, cells in table.rows:
        serial = cell(cells, "serial")
        result = RowResult(row=number, serial=serial[:64])
        report.rows.append(result)
        values = {
            c.key: cell(cells, c.key)
            for c in COLUMNS
            if c.key not in SITE_KEYS and c.key in table.columns and cell(cells, c.key) != ""
        }
        pre: list[tuple[str, str]] = []
        for key in ("serial", "mqtt_username", "hj212_mn"):
            value = values.get(key)
            if not value:
                continue
            seen = first_seen.setdefault((key, value), number)
            if seen != number:
                pre.append((key, f"与第 {seen} 行重复 / repeats row {seen}"))
        site_given = any(cell(cells, k) for k in SITE_KEYS)
        instance = existing.get(serial)
        if instance is not None and instance.collector_id != collector.pk:
            pre.append(
                ("serial", "该序列号已由其他单位登记 / this serial is registered by another organisation")
            )
            instance = None
        result.action = "update" if instance is not None else "create"
        if site_given or instance is None:
            site_id, site_errors = sites.resolve(
                site=cell(cells, "site"),
                uscc=cell(cells, "producer_uscc"),
                site_name=cell(cells, "site_name"),
            )
            pre.extend(site_errors)
            if site_id is not None:
                values["site"] = site_id
        fields = {k: v for k, v in values.items() if k != "serial"}

        if dry_run or pre:
            try:
                bin_clean(
                    collector=collector,
                    instance=instance,
                    values=fields if instance is not None else {"serial": serial, **fields},
                    lookups=lookups,
                )
            except BinInvalid as exc:
                pre = _merge(pre, exc.errors)
            if pre:
                result.errors, result.status = pre, "error"
            continue

        planned.append((result, instance, serial, fields))

    # Written in batches (one transaction per WRITE_BATCH rows, one savepoint per row): a refused row
    # undoes nothing but itself, and a large file does not pay one commit per row.
    for start in range(0, len(planned), WRITE_BATCH):
        with transaction.atomic():
            for result, instance, serial, fields in planned[start : start + WRITE_BATCH]:
                _write(actor, collector, lookups, report, result, instance, serial, fields)

    if not dry_run:
        counts = report.counts
        with transaction.atomic():
            event_record(
                action="devices.bin.imported",
                object_type="devices.import",
                object_id=hashlib.sha256(data).hexdigest(),
                actor=actor,
                organization=collector,
                subject_organization=collector,
                division_code=collector.division_id,
                payload={
                    "file": report.filename,
                    "rows": counts["total"],
                    "created": counts["created"],
                    "updated": counts["updated"],
                    "unchanged": counts["unchanged"],
                    "errors": counts["error"],
                },
            )
    return report


# --- helping the collector fill the file in --------------------------------------------------------

TEMPLATE_KEYS = (
    "serial",
    "name",
    "producer_uscc",
    "site_name",
    "capacity_l",
    "capacity_kg",
    "waste_codes",
    "threshold_pct",
    "reporting_interval_s",
    "transport",
    "mqtt_username",
    "hj212_mn",
    "hj212_pw",
    "hj212_crc_mode",
    "enabled",
)


def _header(key: str, chinese: bool) -> str:
    column = next(c for c in COLUMNS if c.key == key)
    return column.zh if chinese else column.key


def template_csv(*, chinese: bool = True) -> str:
    """An empty import file: the header row (Chinese or English names; both are read)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_header(k, chinese) for k in TEMPLATE_KEYS])
    return out.getvalue()


def client_sites_csv(*, actor: Any, chinese: bool = True) -> str:
    """The collector's client sites, with the id and the USCC + name an import row may use."""
    from greenisle.devices.services import collector_viewer

    membership = collector_viewer(actor)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if chinese:
        writer.writerow(["产废单位", "统一社会信用代码", "场所名称", "场所", "地址"])
    else:
        writer.writerow(["producer", "producer_uscc", "site_name", "site", "address"])
    for site in client_sites_for(membership.organization):
        writer.writerow(
            [
                _csv_safe(site.organization.name),
                site.organization.uscc,
                _csv_safe(site.name),
                str(site.pk),
                _csv_safe(site.address),
            ]
        )
    return out.getvalue()
