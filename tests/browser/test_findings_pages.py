"""The findings pages in headless Chromium, each step taken through the page's own forms.

The city bureau's inspector opens the findings list, narrows it by division and by state (the count
cards keep the other filters), opens Alice's mass-balance finding and assigns it to themselves with a
deadline. Alice — of the organisation that must rectify (the rule's owner is the organisation) — sees
only the rectification form and submits what was done. The inspector first tries to send it back
without a reason (refused, naming the field, what was typed kept), then sends it back with one and a
new deadline; Alice answers again; the inspector accepts and closes it (销号). After each step the
database and the page agree on the state, and the page's audit trail lists every step in order.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect
from supervision.helpers import raise_on

from browser.helpers import PASSWORD, log_in
from greenisle.supervision.models import Finding

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TITLE = "台账、容器与联单物料不平衡"  # ledger.mass_balance


def watch_errors(page: Any) -> list[str]:
    """Uncaught script errors on the page, collected so the test can require there are none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def status_of(page: Any, value: str, label: str) -> None:
    """The finding's state in the page's heading, as the data attribute and as the words shown."""
    expect(page.locator("#finding-status")).to_have_attribute("data-status", value)
    expect(page.locator("#finding-status")).to_have_text(label)


def timeline(page: Any) -> Any:
    """The action column of the finding's audit trail (oldest first)."""
    return page.locator("h2:has-text('全过程留痕') + table tbody td:nth-child(3)")


def test_a_finding_is_filtered_assigned_rectified_verified_and_closed_on_its_pages(
    live_server, open_page, screenshots, producer, producer_b, alice, regulator_city
):
    for person in (alice, regulator_city):
        person.set_password(PASSWORD)
        person.save(update_fields=["password"])
    with transaction.atomic():  # as the sweeps raise them
        finding = raise_on(producer)
        elsewhere = raise_on(producer_b, rule="storage.local_tonnes")
    assert finding is not None and elsewhere is not None
    today = timezone.localdate()
    first_deadline = today + dt.timedelta(days=20)
    second_deadline = today + dt.timedelta(days=30)

    # The city bureau sees both districts' findings and narrows the list.
    bureau = open_page()
    bureau_errors = watch_errors(bureau)
    log_in(bureau, regulator_city.username)
    bureau.locator("header nav a[href='/findings/']").click()
    expect(bureau).to_have_url(re.compile(r"/findings/$"))
    rows = bureau.locator("table.findings tr.finding")
    expect(rows).to_have_count(2)
    expect(bureau.locator('.status-counts a[data-status="open"] .n')).to_have_text("2")
    bureau.get_by_label("行政区划").select_option(value="320602")
    bureau.get_by_role("button", name="筛选").click()
    expect(bureau).to_have_url(re.compile(r"[?&]division=320602"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-finding", str(finding.pk))
    expect(rows.first).to_contain_text(producer.name)
    expect(rows.first).to_contain_text("待处理")
    # A state with nothing in it, then the card of the open ones: the division filter is kept.
    bureau.get_by_label("状态").select_option(value="closed")
    bureau.get_by_role("button", name="筛选").click()
    expect(bureau.locator("table.findings")).to_contain_text("暂无问题。")
    expect(rows).to_have_count(0)
    bureau.locator('.status-counts a[data-status="open"]').click()
    expect(bureau).to_have_url(re.compile(r"status=open"))
    expect(bureau).to_have_url(re.compile(r"division=320602"))
    expect(rows).to_have_count(1)
    expect(bureau.locator('.status-counts a[data-status="open"]')).to_have_class(re.compile(r"\bcurrent\b"))
    screenshots(bureau, "regulator", "findings-filtered")

    # The finding: its rule, regulation and the bureau's forms only (no rectification form).
    rows.first.get_by_role("link", name=re.compile(TITLE)).click()
    expect(bureau).to_have_url(re.compile(rf"/findings/{finding.pk}/$"))
    expect(bureau.locator("h1")).to_contain_text(TITLE)
    status_of(bureau, "open", "待处理")
    expect(bureau.locator("td.regulation")).to_contain_text("第七十八条")
    expect(bureau.locator("#assign-form")).to_have_count(1)
    expect(bureau.locator("#dismiss-form")).to_have_count(1)
    expect(bureau.locator("#rectify-form")).to_have_count(0)
    assign = bureau.locator("#assign-form")
    assign.get_by_label("指派给").select_option(value=str(regulator_city.pk))
    assign.get_by_label("整改期限").fill(first_deadline.isoformat())
    assign.get_by_role("button", name="指派").click()
    expect(bureau.locator(".messages")).to_contain_text("问题已指派，已通知整改责任单位。")
    expect(bureau).to_have_url(re.compile(rf"/findings/{finding.pk}/$"))
    status_of(bureau, "assigned", "已指派")
    expect(bureau.locator("td.assignee")).to_contain_text(regulator_city.display_name)
    expect(bureau.locator("td.deadline")).to_contain_text(first_deadline.isoformat())
    finding.refresh_from_db()
    assert (finding.status, finding.assigned_to_id, finding.deadline) == (
        "assigned",
        regulator_city.pk,
        first_deadline,
    )
    # "Assigned to me" now lists it.
    bureau.goto("/findings/?mine=1")
    expect(bureau.get_by_label("指派给我的")).to_be_checked()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("已指派")

    # Alice, of the organisation that must rectify: her one finding, and the rectification form only.
    owner = open_page()
    owner_errors = watch_errors(owner)
    log_in(owner, alice.username)
    owner.locator("header nav a[href='/findings/']").click()
    expect(owner.locator("select[name=division]")).to_have_count(0)
    owner_rows = owner.locator("table.findings tr.finding")
    expect(owner_rows).to_have_count(1)
    owner_rows.first.get_by_role("link", name=re.compile(TITLE)).click()
    expect(owner).to_have_url(re.compile(rf"/findings/{finding.pk}/$"))
    for other in ("#assign-form", "#verify-form", "#close-form", "#dismiss-form"):
        expect(owner.locator(other)).to_have_count(0)
    owner.get_by_label("采取的整改措施").fill("已补录3月台账")
    owner.get_by_role("button", name="提交整改").click()
    expect(owner.locator(".messages")).to_contain_text("整改已提交，待生态环境部门核查。")
    status_of(owner, "rectification_submitted", "已提交整改")
    expect(owner.locator("td.rectification")).to_contain_text("已补录3月台账")
    expect(owner.locator("#rectify-form")).to_have_count(0)
    finding.refresh_from_db()
    assert (finding.status, finding.rectification) == ("rectification_submitted", "已补录3月台账")

    # The bureau sends it back: first without the reason (refused, the new deadline kept), then with it.
    bureau.goto(f"/findings/{finding.pk}/")
    verify = bureau.locator("#verify-form")
    expect(verify.get_by_role("button", name="整改核查通过")).to_be_visible()
    verify.get_by_label("退回时的新整改期限").fill(second_deadline.isoformat())
    verify.get_by_role("button", name="退回整改").click()
    expect(bureau.locator(".messages .error")).to_contain_text("[note]")
    expect(bureau.locator(".messages .error")).to_contain_text("须填写核查意见")
    expect(bureau.locator("#verify-deadline")).to_have_value(second_deadline.isoformat())
    status_of(bureau, "rectification_submitted", "已提交整改")
    finding.refresh_from_db()
    assert finding.status == "rectification_submitted"
    screenshots(bureau, "regulator", "send-back-refused")
    verify = bureau.locator("#verify-form")
    verify.get_by_label("核查意见（退回整改时必填）").fill("未附盘点记录")
    verify.get_by_role("button", name="退回整改").click()
    expect(bureau.locator(".messages")).to_contain_text("整改已退回责任单位。")
    status_of(bureau, "assigned", "已指派")
    expect(bureau.locator("td.verification-note")).to_contain_text("未附盘点记录")
    expect(bureau.locator("td.deadline")).to_contain_text(second_deadline.isoformat())
    finding.refresh_from_db()
    assert (finding.status, finding.verification_note, finding.deadline) == (
        "assigned",
        "未附盘点记录",
        second_deadline,
    )

    # Alice answers again, with the stocktake.
    owner.reload()
    status_of(owner, "assigned", "已指派")
    expect(owner.locator("td.verification-note")).to_contain_text("未附盘点记录")
    owner.get_by_label("采取的整改措施").fill("已补录3月台账并附盘点记录")
    owner.get_by_role("button", name="提交整改").click()
    expect(owner.locator(".messages")).to_contain_text("整改已提交，待生态环境部门核查。")
    status_of(owner, "rectification_submitted", "已提交整改")
    screenshots(owner, "producer", "rectification-submitted")

    # The bureau accepts it, then closes it.
    bureau.goto(f"/findings/{finding.pk}/")
    expect(bureau.locator("td.rectification")).to_contain_text("已补录3月台账并附盘点记录")
    verify = bureau.locator("#verify-form")
    verify.get_by_label("核查意见（退回整改时必填）").fill("台账与库存一致")
    verify.get_by_role("button", name="整改核查通过").click()
    expect(bureau.locator(".messages")).to_contain_text("整改已核查通过。")
    status_of(bureau, "verified", "已核查")
    expect(bureau.locator("#verify-form")).to_have_count(0)
    expect(bureau.locator("#dismiss-form")).to_have_count(0)  # verified findings are closed, not dismissed
    finding.refresh_from_db()
    assert (finding.status, finding.verified_by_id) == ("verified", regulator_city.pk)
    close = bureau.locator("#close-form")
    close.get_by_label("说明").fill("现场复查完毕")
    close.get_by_role("button", name="销号").click()
    expect(bureau.locator(".messages")).to_contain_text("问题已销号。")
    status_of(bureau, "closed", "已销号")
    expect(bureau.locator(".finding-actions")).to_have_count(0)  # nothing left to do
    finding.refresh_from_db()
    assert finding.status == "closed" and finding.closed_by_id == regulator_city.pk
    assert finding.closed_at is not None
    expect(timeline(bureau)).to_have_text(
        [
            "supervision.finding.raised",
            "supervision.finding.assigned",
            "supervision.finding.rectification_submitted",
            "supervision.finding.rectification_rejected",
            "supervision.finding.rectification_submitted",
            "supervision.finding.verified",
            "supervision.finding.closed",
        ]
    )
    screenshots(bureau, "regulator", "finding-closed")

    # The list agrees: one closed in 崇川区, and the other district's finding still open.
    bureau.goto("/findings/?status=closed")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-finding", str(finding.pk))
    expect(rows.first).to_contain_text("已销号")
    expect(bureau.locator('.status-counts a[data-status="open"] .n')).to_have_text("1")
    assert Finding.objects.get(pk=elsewhere.pk).status == "open"
    owner.reload()
    status_of(owner, "closed", "已销号")
    assert bureau_errors == [] and owner_errors == []
