"""Bulk provisioning of bins from a CSV or Excel (.xlsx) file.

How the file is read (headers in Chinese or English, encodings, size limits) is described in
``greenisle.devices.tables``; this module judges and writes its rows.

Columns
    serial*          the bin's serial number (the key: see "Existing serials")
    name*            what the bin is called (e.g. 机油云仓)
    site*            where it stands, one of:
                       - the site's id (a UUID, as in the "client sites" download), or
                       - the producer's 统一社会信用代码 (USCC), optionally followed by ``/`` and the site
                         name: ``91320602MA1N2B3C4N/崇川维修车间``; or
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

import csv
import hashlib
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from greenisle.audit.services import event_record
from greenisle.core.errors import ServiceError
from greenisle.devices.models import Bin
from greenisle.devices.selectors import client_sites_for
from greenisle.devices.services import bin_create, bin_update, collector_admin, collector_viewer
from greenisle.devices.tables import COLUMNS, read_table
from greenisle.devices.validation import BinInvalid, BinLookups, bin_clean
from greenisle.organizations.models import Organization, Site

WRITE_BATCH = 100
SITE_KEYS = ("site", "producer_uscc", "site_name")


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
