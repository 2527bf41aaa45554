"""Walk the core loop in headless Chromium, logging in through the form as each role in turn.

A reading posted to the live server over HTTP opens a request → the dispatcher assigns it on the command
centre → on the phone-sized page the driver records containers, enters the producer's signature code and
hands over → the receiver receives with weights → the producer sees the manifest received → the
regulator sees the manifest and its audit trail. A screenshot of each page goes to var/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
from conftest import SIGNATURE_CODE
from django.utils import timezone
from playwright.sync_api import expect

from browser.helpers import PASSWORD, PHONE, log_in
from greenisle.dispatch.models import PickupRequest
from greenisle.manifests.models import Manifest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def cast(world, regulator):
    """Everyone who logs in, with a password set the ordinary way."""
    people = {
        "producer": world.alice,
        "dispatcher": world.dispatcher,
        "driver": world.driver,
        "receiver": world.receiver,
        "regulator": regulator,
    }
    for person in people.values():
        person.set_password(PASSWORD)
        person.save(update_fields=["password"])
    return people


def test_walk_the_loop(live_server, open_page, screenshots, world, cast):
    shoot = screenshots

    # The bin reports over HTTP, as a device on the network would.
    observed_at = timezone.localtime(timezone.now() - dt.timedelta(minutes=3)).isoformat()
    posted = requests.post(
        f"{live_server.url}/api/v1/readings",
        json={"observed_at": observed_at, "fill_pct": 88.5, "battery_pct": 91},
        headers={"X-Device-Key": world.bin.device_key},
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    request_id = posted.json()["request_opened"]
    assert request_id

    # The dispatcher assigns it on the command centre.
    page = open_page()
    log_in(page, cast["dispatcher"].username)
    expect(page).to_have_url(re.compile(r"/command-centre/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("调度指挥中心")
    row = page.locator("tr", has=page.locator(f'input[value="{request_id}"]'))
    expect(row).to_contain_text(world.producer.name)
    expect(row).to_contain_text("88.50%")
    shoot(page, "dispatcher", "command-centre")
    row.locator("input[type=checkbox]").check()
    page.get_by_label("车辆").select_option(label=world.vehicle.plate)
    page.get_by_label("司机").select_option(label=f"{world.driver} ({world.driver.username})")
    expect(page.get_by_label("日期")).to_have_value(timezone.localdate().isoformat())
    page.get_by_role("button", name="派车").click()
    expect(page.locator(".messages")).to_contain_text("已派车。")
    expect(page.locator(f'input[value="{request_id}"]')).to_have_count(0)
    shoot(page, "dispatcher", "assigned")
    assert PickupRequest.objects.get(pk=request_id).status == "assigned"

    # The driver, on a phone: two weighed containers, the producer's code, hand over.
    phone = open_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(phone, cast["driver"].username)
    expect(phone).to_have_url(re.compile(r"/driver/$"))
    stop = phone.locator(".stop", has_text=world.producer.name)
    expect(stop).to_contain_text(world.site.address)
    # The stop, not the menu, fills the phone's screen.
    assert phone.locator("header.top").bounding_box()["height"] < PHONE["height"] / 4
    shoot(phone, "driver", "stops")
    # The oil drum carries the producer's printed label (HJ 1276): scanned (here typed) and weighed;
    # a weight off the label's is refused first (办法 Art. 13).
    from greenisle.manifests.labels import container_label

    drum = container_label(
        actor=cast["producer"], site_id=world.site.pk, waste_code="900-214-08", weight_kg="35.5",
        form="liquid", main_constituents="矿物油", hazardous_constituents="多环芳烃",
    )  # fmt: skip
    scan = phone.locator(f'form[action="/driver/requests/{request_id}/load/"]')
    scan.get_by_label("标签编码").fill(drum.code)
    scan.get_by_label("称重（千克）").fill("41")
    scan.get_by_role("button", name="核对标签并装车").click()
    expect(phone.locator(".messages")).to_contain_text("未装车")
    shoot(phone, "driver", "label-refused")
    scan = phone.locator(f'form[action="/driver/requests/{request_id}/load/"]')
    scan.get_by_label("标签编码").fill(drum.code)
    scan.get_by_label("称重（千克）").fill("35.5")
    scan.get_by_role("button", name="核对标签并装车").click()
    expect(phone.locator(".messages")).to_contain_text("已装车")
    # The rags have no platform label: typed in.
    phone.get_by_text("无平台标签的容器").click()
    form = phone.locator(f'form[action="/driver/requests/{request_id}/containers/"]')
    form.get_by_label("废物代码").select_option(value="900-041-49")
    form.get_by_label("容器编码").fill("RQ-0002")
    form.get_by_label("重量（千克）").fill("12")
    form.get_by_role("button", name="记录称重容器").click()
    expect(phone.locator(".messages")).to_contain_text("容器已记录。")
    manifest = Manifest.objects.get(trip__stops__request_id=request_id)
    expect(phone.locator(".stop")).to_contain_text(manifest.number)
    expect(phone.locator(".stop")).to_contain_text("RQ-0002")
    shoot(phone, "driver", "containers")
    phone.get_by_label("产废单位签字码").fill("000000")
    phone.get_by_role("button", name="产废单位签字").click()
    expect(phone.locator(".messages")).to_contain_text("[signature_code]")
    shoot(phone, "driver", "wrong-code")
    phone.get_by_label("产废单位签字码").fill(SIGNATURE_CODE)
    phone.get_by_role("button", name="产废单位签字").click()
    expect(phone.locator(".messages")).to_contain_text("联单已签署。")
    shoot(phone, "driver", "signed")
    phone.get_by_role("button", name="装车交接").click()
    expect(phone.locator(".messages")).to_contain_text("已交接，联单运输中。")
    shoot(phone, "driver", "handed-over")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    manifest.refresh_from_db()
    assert manifest.status == "in_transit"

    # The receiver weighs each container and accepts.
    page = open_page()
    log_in(page, cast["receiver"].username)
    incoming = page.locator("tr", has_text=manifest.number)
    incoming.get_by_role("link", name="接收").click()
    expect(page).to_have_url(re.compile(rf"/manifests/{manifest.pk}/receive/$"))
    page.get_by_role("button", name="记录送达").click()
    expect(page.locator(".messages")).to_contain_text("已记录送达")
    lines = {line.container_code: line.pk for line in manifest.lines.all()}
    page.locator(f'input[name="line_{lines[drum.code]}_weight"]').fill("35.20")
    page.locator(f'input[name="line_{lines["RQ-0002"]}_weight"]').fill("11.90")
    shoot(page, "receiver", "receive")
    page.get_by_role("button", name="确认接收").click()
    expect(page).to_have_url(re.compile(rf"/manifests/{manifest.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("已确认接收")
    expect(page.locator("h1")).to_contain_text("已接收")
    expect(page.locator("td.mono", has_text=re.compile(r"^HWRK\d{11}$"))).to_have_count(2)
    shoot(page, "receiver", "manifest")

    # The producer sees it received.
    page = open_page()
    log_in(page, cast["producer"].username)
    expect(page).to_have_url(re.compile(r"/producer/$"))
    row = page.locator("tr", has_text=manifest.number)
    expect(row).to_contain_text("已接收")
    shoot(page, "producer", "home")
    row.get_by_role("link", name=manifest.number).click()
    expect(page.locator("h1")).to_contain_text(manifest.number)
    expect(page.locator("td.mono", has_text=re.compile(r"^HWCS\d{11}$"))).to_have_count(2)
    shoot(page, "producer", "manifest")

    # The regulator of the district sees the manifest and its audit trail.
    page = open_page()
    log_in(page, cast["regulator"].username)
    expect(page).to_have_url(re.compile(r"/regulator/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("监管总览")
    expect(page.locator("tr", has_text=manifest.number)).to_contain_text("已接收")
    shoot(page, "regulator", "supervision")
    page.goto(f"/manifests/{manifest.pk}/")
    for action in ["manifests.manifest.created", "manifests.manifest.signed", "manifests.manifest.departed",
                   "manifests.manifest.delivered", "manifests.manifest.received"]:  # fmt: skip
        expect(page.locator("td.mono", has_text=action).first).to_be_visible()
    shoot(page, "regulator", "manifest")
    page.goto(f"/audit/?object_id={request_id}")
    expect(page.locator("td.mono", has_text="dispatch.pickup_request.opened")).to_have_count(1)
    shoot(page, "regulator", "audit")
