"""The bin pages for the collector: the list with how each bin reports, a new bin, changes, enable and
disable, new credentials shown once, and the CSV/Excel import. In Chinese first, English when chosen."""

from __future__ import annotations

import base64
import csv
import io
import re
from typing import Any

import openpyxl
import pytest
from factories import ProducerFactory, SiteFactory

from greenisle.accounts.choices import Role
from greenisle.audit.models import Event
from greenisle.devices.models import Bin
from greenisle.telemetry.models import BinState
from greenisle.telemetry.services import device_authenticate
from web.helpers import messages_of, page_text


@pytest.fixture
def admin(world, make_member):
    return make_member(world.collector, Role.ADMIN, "admin", "林管理")


def form_data(world, **overrides: Any) -> dict[str, Any]:
    data = {
        "serial": "NT-WEB-0001",
        "name": "网页云仓",
        "site": str(world.site.pk),
        "capacity_l": "240",
        "capacity_kg": "200",
        "waste_codes": "900-214-08; 900-041-49",
        "threshold_pct": "80",
        "reporting_interval_s": "900",
        "transport": "http",
        "mqtt_username": "",
        "hj212_mn": "",
        "hj212_pw": "",
        "hj212_crc_mode": "standard",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def secrets_on(html: str) -> dict[str, str]:
    """The secrets a credentials page shows, by the row that labels them."""
    return dict(
        re.findall(
            r'<th>([^<]+?)(?: <span[^>]*>[^<]*</span>)?</th><td class="mono secret">([^<]+)</td>', html
        )
    )


def csv_from_data_url(html: str, name: str) -> list[dict[str, str]]:
    (payload,) = re.findall(
        rf'href="data:text/csv;charset=utf-8;base64,([^"]+)" download="{re.escape(name)}"', html
    )
    text = base64.b64decode(payload).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# --- the list ----------------------------------------------------------------------------------------


def test_the_collectors_list_shows_how_each_bin_reports(world, browser_as, ingest):
    ingest(42)
    BinState.objects.filter(device=world.bin).update(
        rejected=3, last_rejected_reason="fill_pct 超出范围 / out of range"
    )

    html = page_text(browser_as(world.dispatcher).get("/bins/"))

    assert world.bin.serial in html and world.bin.name in html
    for heading in ("最后上报", "在线状态", "接入方式", "已接收", "重复", "已拒收", "最近拒收原因"):
        assert heading in html, heading
    assert '<span class="conn online">在线</span>' in html
    assert "HTTP JSON" in html and "out of range" in html
    row = re.search(rf"{world.bin.serial}.*?</tr>", html, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["1", "0", "3"]
    assert "新增云仓" not in html and "/bins/import/" not in html  # a dispatcher views only


def test_a_producer_sees_the_plain_list(world, browser_as):
    html = page_text(browser_as(world.alice).get("/bins/"))

    assert world.bin.serial in html and "在线状态" not in html and "新增云仓" not in html


def test_a_silent_bin_shows_offline_and_a_new_one_never_reported(world, browser_as, ingest, admin):
    import datetime as dt

    from django.utils import timezone

    ingest(30)
    BinState.objects.filter(device=world.bin).update(received_at=timezone.now() - dt.timedelta(hours=5))
    browser = browser_as(admin)
    browser.submit("/bins/new/", form_data(world))

    html = page_text(browser.get("/bins/"))

    assert (
        '<span class="conn offline">离线</span>' in html
        and '<span class="conn never">从未上报</span>' in html
    )


def test_the_admin_is_offered_provisioning_and_the_page_speaks_english_when_chosen(world, browser_as, admin):
    browser = browser_as(admin)
    zh = page_text(browser.get("/bins/"))
    browser.submit("/i18n/setlang/", {"language": "en", "next": "/bins/"})
    en = page_text(browser.get("/bins/"))

    assert "新增云仓" in zh and "从CSV或Excel导入" in zh
    assert (
        "New bin" in en and "Import from CSV or Excel" in en and "Connection" in en and "新增云仓" not in en
    )


# --- who may provision -------------------------------------------------------------------------------


def test_only_the_collectors_admin_reaches_the_provisioning_pages(
    world, browser_as, rival_dispatcher, make_member, collector_b
):
    rival_admin = make_member(collector_b, Role.ADMIN, "rival_admin", "如皋管理")
    pages = [
        ("get", "/bins/new/"),
        ("get", "/bins/import/"),
        ("get", f"/bins/{world.bin.pk}/edit/"),
        ("post", f"/bins/{world.bin.pk}/enabled/"),
        ("post", f"/bins/{world.bin.pk}/credentials/"),
    ]
    for user in (world.alice, world.dispatcher, world.driver, rival_admin):
        browser = browser_as(user)
        for method, url in pages[2:] if user == rival_admin else pages:  # it has pages of its own
            response = browser.get(url) if method == "get" else browser.submit(url, {"enabled": "0"})
            assert response.status_code == 404, (user, url)
    world.bin.refresh_from_db()
    assert world.bin.enabled and device_authenticate(world.bin.device_key) == world.bin
    assert browser_as(world.alice).get("/bins/import/template.csv").status_code == 404
    assert browser_as(world.dispatcher).get("/bins/import/template.csv").status_code == 200


# --- a new bin ---------------------------------------------------------------------------------------


def test_a_new_bin_and_its_credentials_shown_once(world, browser_as, admin):
    SiteFactory(organization=ProducerFactory(), name="无合同场所")  # no contract: not offered
    browser = browser_as(admin)

    form = page_text(browser.get("/bins/new/"))
    assert "崇川维修车间" in form and "无合同场所" not in form  # only client sites are offered
    response = browser.submit("/bins/new/", form_data(world, transport="mqtt", mqtt_username="nt-web-1"))

    html = page_text(response)
    assert "no-store" in response["Cache-Control"]
    assert "只显示这一次" in html
    shown = secrets_on(html)
    obj = Bin.objects.get(serial="NT-WEB-0001")
    assert device_authenticate(shown["HTTP设备密钥"]) == obj
    assert obj.mqtt_password_matches(shown["MQTT密码"])
    (row,) = csv_from_data_url(html, "NT-WEB-0001-credentials.csv")
    assert row == {"serial": "NT-WEB-0001", "http_key": shown["HTTP设备密钥"], "mqtt_username": "nt-web-1",
                   "mqtt_password": shown["MQTT密码"]}  # fmt: skip
    # The bin's page shows the key's prefix only, never the key.
    detail = page_text(browser.get(f"/bins/{obj.pk}/"))
    assert obj.key_prefix in detail and shown["HTTP设备密钥"] not in detail
    assert "devices.bin.created" in detail  # its audit trail


def test_a_refused_new_bin_shows_the_errors_next_to_the_fields(world, browser_as, admin, producer_b):
    stranger = SiteFactory(organization=producer_b)
    browser = browser_as(admin)

    response = browser.submit(
        "/bins/new/", form_data(world, waste_codes="999-999-99", transport="hj212", hj212_mn="MN-1")
    )

    html = page_text(response)
    assert "废物代码不在现行名录中" in html and "HJ 212须填写数采仪上设置的PW" in html
    assert response.context["form"].errors.keys() == {"waste_codes", "hj212_pw"}
    assert not Bin.objects.filter(serial="NT-WEB-0001").exists()
    # A site that is not offered is refused by the form itself.
    response = browser.submit("/bins/new/", form_data(world, site=str(stranger.pk)))
    assert "site" in response.context["form"].errors
    # A serial that is taken is named.
    response = browser.submit("/bins/new/", form_data(world, serial=world.bin.serial))
    assert response.context["form"].errors.keys() == {"serial"}


# --- changing a bin ----------------------------------------------------------------------------------


def test_editing_a_bin(world, browser_as, admin):
    browser = browser_as(admin)
    form = browser.get(f"/bins/{world.bin.pk}/edit/")
    assert form.context["form"].initial["waste_codes"] == "900-214-08; 900-041-49"
    data = {k: v for k, v in form_data(world, threshold_pct="70", name="新名字").items() if k != "serial"}

    response = browser.submit(f"/bins/{world.bin.pk}/edit/", data, follow=True)

    assert response.redirect_chain[-1][0] == f"/bins/{world.bin.pk}/"
    assert "云仓已保存。" in messages_of(response)
    world.bin.refresh_from_db()
    assert (world.bin.threshold_pct, world.bin.name) == (70, "新名字")
    assert device_authenticate(world.bin.device_key) == world.bin  # unchanged
    event = Event.objects.get(action="devices.bin.updated")
    assert set(event.payload["changes"]) == {"threshold_pct", "name"}


def test_switching_a_bin_to_mqtt_shows_its_new_password_once(world, browser_as, admin):
    data = {
        k: v for k, v in form_data(world, transport="mqtt", mqtt_username="nt-cc-1").items() if k != "serial"
    }

    html = page_text(browser_as(admin).submit(f"/bins/{world.bin.pk}/edit/", data))

    world.bin.refresh_from_db()
    assert world.bin.mqtt_password_matches(secrets_on(html)["MQTT密码"])


def test_disable_and_enable(world, browser_as, admin):
    browser = browser_as(admin)

    off = browser.submit(f"/bins/{world.bin.pk}/enabled/", {"enabled": "0"}, follow=True)
    world.bin.refresh_from_db()
    assert not world.bin.enabled and "已停用" in page_text(off)
    on = browser.submit(f"/bins/{world.bin.pk}/enabled/", {"enabled": "1"}, follow=True)
    world.bin.refresh_from_db()
    assert world.bin.enabled and "云仓已启用。" in messages_of(on)


def test_rotating_credentials_shows_the_new_key_once_and_retires_the_old(world, browser_as, admin):
    from greenisle.core.errors import Unauthenticated

    browser = browser_as(admin)
    assert "更换凭据" in page_text(browser.get(f"/bins/{world.bin.pk}/"))

    response = browser.submit(f"/bins/{world.bin.pk}/credentials/", {"http_key": "on"})

    key = secrets_on(page_text(response))["HTTP设备密钥"]
    assert "no-store" in response["Cache-Control"]
    assert device_authenticate(key) == world.bin
    with pytest.raises(Unauthenticated):
        device_authenticate(world.bin.device_key)
    assert browser.get(f"/bins/{world.bin.pk}/credentials/").status_code == 405
    nothing = browser.submit(f"/bins/{world.bin.pk}/credentials/", {}, follow=True)
    assert any("请选择要更换的凭据" in m for m in messages_of(nothing))


# --- import ------------------------------------------------------------------------------------------


def upload(data: bytes, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_the_import_page_explains_the_file(world, browser_as, admin):
    html = page_text(browser_as(admin).get("/bins/import/"))

    assert "导入云仓" in html and "统一社会信用代码" in html and "试运行" in html
    template = browser_as(admin).get("/bins/import/template.csv")
    assert template["Content-Disposition"] == 'attachment; filename="bins-template.csv"'
    assert template.content.decode("utf-8-sig").startswith("序列号,名称,统一社会信用代码,场所名称")
    sites = browser_as(admin).get("/bins/import/sites.csv").content.decode("utf-8-sig")
    assert str(world.site.pk) in sites and world.producer.uscc in sites


def test_a_dry_run_lists_every_row_and_writes_nothing(world, browser_as, admin):
    text = (
        "序列号,名称,场所,容积(L),额定重量(kg),废物代码\r\n"
        f"NT-WEB-IM-1,导入云仓,{world.producer.uscc},240,200,900-214-08\r\n"
        f"NT-WEB-IM-2,,{world.producer.uscc},240,200,999-999-99\r\n"
    )
    response = browser_as(admin).submit(
        "/bins/import/", {"file": upload(("\ufeff" + text).encode(), "bins.csv"), "dry_run": "on"}
    )

    html = page_text(response)
    assert "试运行：未写入任何数据" in html
    assert "名称必填" in html and "废物代码不在现行名录中" in html
    counts = response.context["counts"]
    assert (counts["to_create"], counts["error"]) == (1, 1)
    assert not Bin.objects.filter(serial__startswith="NT-WEB-IM").exists()
    assert "bin-credentials.csv" not in html


def test_an_xlsx_import_creates_the_good_rows_and_offers_their_credentials(world, browser_as, admin):
    workbook = openpyxl.Workbook()
    for row in (
        ["serial", "name", "site", "capacity_l", "capacity_kg", "waste_codes"],
        ["NT-WEB-X-1", "表格云仓一", world.producer.uscc, 240, 200, "900-214-08"],
        ["NT-WEB-X-2", "表格云仓二", world.producer.uscc, 240, -5, "900-214-08"],
        ["NT-WEB-X-3", "表格云仓三", str(world.site.pk), 360, 300, "900-041-49"],
    ):
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)

    response = browser_as(admin).submit("/bins/import/", {"file": upload(buffer.getvalue(), "bins.xlsx")})

    html = page_text(response)
    assert "导入结果" in html and "no-store" in response["Cache-Control"]
    assert [r.status for r in response.context["rows"]] == ["error", "created", "created"]  # errors first
    credentials = csv_from_data_url(html, "bin-credentials.csv")
    assert [c["serial"] for c in credentials] == ["NT-WEB-X-1", "NT-WEB-X-3"]
    for c in credentials:
        assert device_authenticate(c["http_key"]).serial == c["serial"]
    results = csv_from_data_url(html, "import-results.csv")
    assert [(r["row"], r["status"]) for r in results] == [("2", "created"), ("3", "error"), ("4", "created")]
    assert results[1]["errors"].startswith("capacity_kg:")


def test_an_unreadable_file_is_refused_on_the_form(world, browser_as, admin):
    response = browser_as(admin).submit("/bins/import/", {"file": upload(b"PK\x03\x04junk", "bins.xlsx")})

    assert "无法读取该 .xlsx 文件" in page_text(response)
    assert response.context["form"].errors.keys() == {"file"}
