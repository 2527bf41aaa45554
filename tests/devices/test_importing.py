"""Bulk provisioning from CSV and XLSX: headers in Chinese or English, BOM or GB18030, dry runs that write
nothing, bad rows reported by row and field while good rows are created, upserts, and credentials
returned once."""

from __future__ import annotations

import codecs
import csv
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from factories import BinFactory

from greenisle.audit.models import Event
from greenisle.core.errors import PermissionDenied
from greenisle.devices import importing, tables
from greenisle.devices.importing import bins_import
from greenisle.devices.models import Bin
from greenisle.devices.tables import FileTooLarge, ImportRefused, read_table
from greenisle.telemetry.services import device_authenticate

ZH_HEADER = [
    "序列号",
    "名称",
    "场所",
    "容积(L)",
    "额定重量(kg)",
    "废物代码",
    "满溢阈值(%)",
    "通信方式",
    "MQTT用户名",
]


def csv_bytes(rows: list[list[Any]], *, encoding: str = "utf-8-sig", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def by_row(report: Any) -> dict[int, Any]:
    return {r.row: r for r in report.rows}


def fields_of(result: Any) -> set[str]:
    return {f for f, _m in result.errors}


@pytest.fixture
def rows(world, client_b, client_b_sites) -> list[list[Any]]:
    """Three new bins: by site id, by USCC/site name, by USCC alone (the producer has one site)."""
    return [
        ZH_HEADER,
        ["NT-IM-0001", "机油云仓", str(world.site.pk), "240", "200", "900-214-08", "", "", ""],
        ["NT-IM-0002", "一号车间云仓", f"{client_b.uscc}/一号车间", "360", "300.5", "900-214-08；900-041-49", "85", "mqtt", "nt-im-0002"],
        ["NT-IM-0003", "抹布云仓", world.producer.uscc, "120", "80", "900-041-49", "", "HTTP", ""],
    ]  # fmt: skip


def test_a_csv_with_bom_and_chinese_headers_dry_run_writes_nothing_then_imports(
    world, admin, rows, client_b_sites
):
    data = csv_bytes(rows)
    assert data.startswith(codecs.BOM_UTF8)
    bins_before, events_before = Bin.objects.count(), Event.objects.count()

    dry = bins_import(actor=admin, data=data, filename="bins.csv", dry_run=True)

    assert [(r.row, r.action, r.status, r.errors) for r in dry.rows] == [
        (2, "create", "ok", []),
        (3, "create", "ok", []),
        (4, "create", "ok", []),
    ]
    assert dry.credentials == [] and dry.counts["to_create"] == 3
    assert (Bin.objects.count(), Event.objects.count()) == (bins_before, events_before)

    report = bins_import(actor=admin, data=data, filename="bins.csv")

    assert [r.status for r in report.rows] == ["created"] * 3
    created = {b.serial: b for b in Bin.objects.filter(serial__startswith="NT-IM-")}
    assert created["NT-IM-0002"].site == client_b_sites[0] and created["NT-IM-0003"].site == world.site
    assert (
        created["NT-IM-0002"].threshold_pct == Decimal("85.00") and created["NT-IM-0001"].threshold_pct == 80
    )
    assert created["NT-IM-0002"].capacity_kg == Decimal("300.50")
    assert sorted(c.code for c in created["NT-IM-0002"].waste_codes.all()) == ["900-041-49", "900-214-08"]
    # The credentials, once: each key authenticates its bin; the MQTT password matches.
    secrets = {c["serial"]: c for c in report.credentials}
    assert set(secrets) == {"NT-IM-0001", "NT-IM-0002", "NT-IM-0003"}
    for serial, obj in created.items():
        assert device_authenticate(secrets[serial]["http_key"]) == obj
    assert created["NT-IM-0002"].mqtt_password_matches(secrets["NT-IM-0002"]["mqtt_password"])
    table = list(csv.DictReader(io.StringIO(report.credentials_csv())))
    assert [r["serial"] for r in table] == ["NT-IM-0001", "NT-IM-0002", "NT-IM-0003"]
    assert table[1]["mqtt_username"] == "nt-im-0002" and table[1]["mqtt_password"]
    # Audited: one event per bin, and the import itself.
    assert Event.objects.filter(action="devices.bin.created", payload__source="import").count() == 3
    summary = Event.objects.get(action="devices.bin.imported")
    assert summary.payload == {
        "file": "bins.csv",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "errors": 0,
    }
    assert all(
        s["http_key"] not in str(Event.objects.values_list("payload", flat=True)) for s in secrets.values()
    )


def test_bad_rows_are_reported_by_row_and_field_while_good_rows_are_created(world, admin, rows, producer_b):
    rows = [
        *rows,
        ["NT-IM-0004", "", str(world.site.pk), "0", "200", "999-999-99", "120", "", ""],
        ["NT-IM-0005", "越界云仓", producer_b.uscc, "240", "200", "900-214-08", "", "", ""],
        ["NT-IM-0001", "重复", str(world.site.pk), "240", "200", "900-214-08", "", "", ""],
        ["NT-IM-0006", "MQTT无用户名", str(world.site.pk), "240", "200", "900-214-08", "", "mqtt", ""],
        ["", "", "", "", "", "", "", "", ""],  # blank: skipped
        ["NT-IM-0007", "无场所", "", "240", "200", "900-214-08", "", "", ""],
    ]

    report = bins_import(actor=admin, data=csv_bytes(rows), filename="bins.csv")

    results = by_row(report)
    assert [results[n].status for n in (2, 3, 4)] == ["created"] * 3
    assert fields_of(results[5]) == {"name", "capacity_l", "waste_codes", "threshold_pct"}
    assert fields_of(results[6]) == {"site"}
    assert fields_of(results[7]) == {"serial"} and "2" in results[7].errors[0][1]
    assert fields_of(results[8]) == {"mqtt_username"}
    assert 9 not in results and fields_of(results[10]) == {"site"}
    assert report.counts["created"] == 3 and report.counts["error"] == 5
    assert set(Bin.objects.filter(serial__startswith="NT-IM-").values_list("serial", flat=True)) == {
        "NT-IM-0001",
        "NT-IM-0002",
        "NT-IM-0003",
    }
    # The dry run finds the same faults.
    Bin.objects.filter(serial__startswith="NT-IM-").delete()
    dry = by_row(bins_import(actor=admin, data=csv_bytes(rows), dry_run=True))
    assert {n: fields_of(r) for n, r in dry.items() if r.errors} == {
        n: fields_of(r) for n, r in results.items() if r.errors
    }


def test_an_xlsx_made_with_openpyxl_is_read_with_numbers_and_booleans(world, admin, client_b, client_b_sites):
    data = xlsx_bytes(
        [
            ["serial", "name", "producer_uscc", "site_name", "capacity_l", "capacity_kg", "waste_codes",
             "threshold_pct", "reporting_interval_s", "transport", "hj212_mn", "hj212_pw", "hj212_crc_mode", "enabled"],
            [10001, "二号车间云仓", client_b.uscc, "二号车间", 240, 199.5, "900-214-08", 70, 300, "hj212",
             "JLYP01_BIN_0001", "123456", "modbus_swapped", False],
            [10002, "一号车间云仓", client_b.uscc, "", 240, 200, "900-214-08", None, None, None, None, None, None, None],
        ]
    )  # fmt: skip

    report = bins_import(actor=admin, data=data, filename="云仓.xlsx")

    results = by_row(report)
    assert results[2].status == "created", results[2].errors
    obj = Bin.objects.get(serial="10001")
    assert (obj.site, obj.capacity_kg, obj.threshold_pct, obj.reporting_interval_s) == (
        client_b_sites[1],
        Decimal("199.50"),
        Decimal("70.00"),
        300,
    )
    assert obj.transport == "hj212" and obj.hj212_password_matches("123456") and not obj.enabled
    assert obj.hj212_crc_mode == "modbus_swapped"
    assert fields_of(results[3]) == {"site_name"}  # two sites: say which
    assert "2" in results[3].errors[0][1]


def test_gb18030_tab_separated_and_utf16_files_are_read(world, admin):
    rows = [
        ["序列号", "名称", "场所", "容积", "额定重量", "危废代码"],
        ["NT-GB-1", "国标云仓", str(world.site.pk), "240", "200", "900-214-08"],
    ]

    for data in (
        csv_bytes(rows, encoding="gb18030"),
        csv_bytes(rows, encoding="utf-8", delimiter="\t"),
        csv_bytes(rows, encoding="utf-16", delimiter="\t"),
    ):
        report = bins_import(actor=admin, data=data, dry_run=True)
        assert [(r.status, r.errors) for r in report.rows] == [("ok", [])]


def test_bilingual_headers_and_ignored_columns(world, admin):
    table = read_table(csv_bytes([["序列号 / serial", "Name", "Site_ID", "备注"], ["X", "Y", "Z", "W"]]))

    assert table.columns == {"serial": 0, "name": 1, "site": 2}
    assert table.ignored == ["备注"]


def test_a_known_serial_updates_the_bin_and_blank_cells_leave_values(world, admin):
    header = ["serial", "name", "site", "capacity_l", "capacity_kg", "waste_codes", "threshold_pct"]
    update = [header, [world.bin.serial, "", "", "", "", "", "65"]]

    dry = bins_import(actor=admin, data=csv_bytes(update), dry_run=True)
    assert [(r.action, r.status) for r in dry.rows] == [("update", "ok")]
    report = bins_import(actor=admin, data=csv_bytes(update))
    again = bins_import(actor=admin, data=csv_bytes(update))

    assert [(r.action, r.status) for r in report.rows] == [("update", "updated")]
    assert [r.status for r in again.rows] == ["unchanged"]
    world.bin.refresh_from_db()
    assert (world.bin.threshold_pct, world.bin.name, world.bin.capacity_l) == (
        Decimal("65.00"),
        "机油云仓",
        240,
    )
    assert report.credentials == []  # an update keeps the bin's key
    assert device_authenticate(world.bin.device_key) == world.bin
    assert Event.objects.filter(action="devices.bin.updated").count() == 1


def test_a_serial_of_another_collector_is_refused(world, admin, producer_b, contract_b, collector_b):
    theirs = BinFactory(serial="RG-0001", collector=collector_b, site__organization=producer_b)
    data = csv_bytes(
        [ZH_HEADER, ["RG-0001", "抢占", str(world.site.pk), "240", "200", "900-214-08", "", "", ""]]
    )

    report = bins_import(actor=admin, data=data)

    assert fields_of(report.rows[0]) == {"serial"}
    theirs.refresh_from_db()
    assert theirs.collector == collector_b and theirs.name != "抢占"


def test_who_may_import(world, rival_admin):
    data = csv_bytes([ZH_HEADER])
    for actor in (world.dispatcher, world.alice):
        with pytest.raises(PermissionDenied):
            bins_import(actor=actor, data=data, dry_run=True)
    # Another collector's administrator finds none of this collector's clients.
    report = bins_import(
        actor=rival_admin,
        data=csv_bytes(
            [ZH_HEADER, ["RG-9", "x", world.producer.uscc, "240", "200", "900-214-08", "", "", ""]]
        ),
        dry_run=True,
    )
    assert fields_of(report.rows[0]) == {"site"}


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"", "a.csv", ImportRefused),
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "a.xls", ImportRefused),
        (b"PK\x03\x04 not really a zip", "a.xlsx", ImportRefused),
        ("名称,场所\r\nx,y\r\n".encode(), "a.csv", ImportRefused),  # no serial column
        ("序列号,序列号\r\nx,y\r\n".encode(), "a.csv", ImportRefused),  # twice
        (b"serial,name\r\nA\x00,B\r\n", "a.csv", ImportRefused),
        (b"\xff\xfe\x00", "a.csv", ImportRefused),  # a BOM, then half a UTF-16 character
        (b"x" * (tables.MAX_BYTES + 1), "a.csv", FileTooLarge),
    ],
    ids=["empty", "xls", "broken-xlsx", "no-serial", "twice", "nul", "bad-utf16", "too-large"],
)
def test_a_file_that_cannot_be_read_is_refused_naming_the_file(admin, data, filename, expected):
    with pytest.raises(expected) as info:
        bins_import(actor=admin, data=data, filename=filename)

    assert info.value.field == "file" and " / " in info.value.message


def test_the_number_of_rows_is_bounded(admin, monkeypatch):
    monkeypatch.setattr(tables, "MAX_ROWS", 3)
    rows = [["serial"], *[[f"S-{n}"] for n in range(4)]]

    with pytest.raises(FileTooLarge) as info:
        bins_import(actor=admin, data=csv_bytes(rows), dry_run=True)

    assert info.value.status == 413
    assert len(read_table(csv_bytes(rows[:4])).rows) == 3


def test_a_zip_bomb_xlsx_is_refused(admin, monkeypatch):
    monkeypatch.setattr(tables, "MAX_UNZIPPED_BYTES", 1000)

    with pytest.raises(FileTooLarge):
        bins_import(actor=admin, data=xlsx_bytes([["serial"], ["A"]]), filename="a.xlsx")


def test_the_results_csv_cannot_smuggle_a_formula(world, admin):
    data = csv_bytes([["serial", "name"], ['=HYPERLINK("http://x")', "x"]])

    report = bins_import(actor=admin, data=data, dry_run=True)

    rows = list(csv.reader(io.StringIO(report.results_csv())))
    assert rows[1][:2] == ["2", '\'=HYPERLINK("http://x")']
    assert ("serial" in fields_of(report.rows[0])) and rows[1][3] == "error"


def test_the_template_and_the_sites_list_read_back(world, admin, client_b_sites):
    zh = read_table(importing.template_csv(chinese=True).encode("utf-8-sig"))
    en = read_table(importing.template_csv(chinese=False).encode())
    assert zh.columns == en.columns and not zh.ignored and len(zh.columns) == len(importing.TEMPLATE_KEYS)

    sites = list(csv.reader(io.StringIO(importing.client_sites_csv(actor=world.dispatcher, chinese=False))))
    assert sites[0] == ["producer", "producer_uscc", "site_name", "site", "address"]
    assert {r[3] for r in sites[1:]} == {str(world.site.pk), *(str(s.pk) for s in client_b_sites)}
