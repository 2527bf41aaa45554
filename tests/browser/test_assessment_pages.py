"""The standardised-management assessment pages in headless Chromium, each stage through its own form.

With a year of the workshop's records on the platform (``assessment.conftest.records``), the 崇川
branch's inspector starts the workshop's assessment from the list. Alice scores it on the page: the
platform's suggestions come preselected; a score other than the suggestion without its reason is
refused on saving (naming the item, what was typed kept); with the reason she submits it, 达标 by her
own scores. The inspector reviews it, lowering two items with the reasons, which makes it 基本达标,
and confirms that as final. After each step the database and the page agree, and the audit trail on
the page lists the stages.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from assessment import conftest as assessment_fixtures
from playwright.sync_api import expect

from browser.helpers import PASSWORD, log_in
from greenisle.assessment import checklists
from greenisle.assessment.models import Assessment

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# A year of the workshop's records on the platform, its collector licensed for all of it.
records = assessment_fixtures.records
licensed = assessment_fixtures.licensed
YEAR = assessment_fixtures.YEAR

# Alice's scores and notes where she departs from the suggestion or the platform has no record.
SELF = {
    "labels": ("1", "两个旧桶标签褪色，已重新打印"),
    "responsibility": ("2", "责任制度已上墙公示"),
    "emergency": ("2", "应急预案已备案"),
    "training": ("2", "年度培训签到表"),
}
# The district's changes, each with its reason.
DISTRICT = {
    "emergency": ("0", "未见备案回执"),
    "training": ("1", "签到表缺6月"),
}


def watch_errors(page: Any) -> list[str]:
    """Uncaught script errors on the page, collected so the test can require there are none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def score(page: Any, code: str, value: str, note: str | None = None) -> None:
    """Choose the item's score (and type its note) in the item's own card."""
    item = page.locator(f"#item-{code}")
    item.get_by_label("得分").select_option(value=value)
    if note is not None:
        item.get_by_label("说明或理由").fill(note)


def test_an_assessment_is_started_self_assessed_reviewed_and_made_final_on_its_pages(
    live_server, open_page, screenshots, producer, records, alice, regulator
):
    for person in (alice, regulator):
        person.set_password(PASSWORD)
        person.save(update_fields=["password"])
    records()

    # The district inspector starts the workshop's assessment from the list.
    bureau = open_page()
    bureau_errors = watch_errors(bureau)
    log_in(bureau, regulator.username)
    bureau.locator("header nav a[href='/assessment/']").click()
    expect(bureau).to_have_url(re.compile(r"/assessment/$"))
    expect(bureau.locator("#assessments")).to_contain_text("暂无评估。")
    start = bureau.locator("#start")
    start.get_by_label("单位").select_option(value=str(producer.pk))
    start.get_by_label("评估年度").select_option(value=str(YEAR))
    start.get_by_role("button", name="开始").click()
    expect(bureau.locator(".messages")).to_contain_text("评估已发起，平台证据已自动填入。")
    assessment = Assessment.objects.get(organization=producer, year=YEAR)
    expect(bureau).to_have_url(re.compile(rf"/assessment/{assessment.pk}/$"))
    expect(bureau.locator("h1")).to_contain_text(f"{YEAR} · {producer.name}")
    expect(bureau.locator("h1 .status")).to_have_text("自评中")
    expect(bureau.locator("#score-form")).to_have_count(0)  # the enterprise scores first
    assert (assessment.status, assessment.started_by_id) == ("draft", regulator.pk)
    suggested = dict(assessment.items.values_list("code", "suggested_score"))
    prefilled = {item.code for item in checklists.checklist("producer") if item.prefill}
    # A complete year of records: the platform suggests full marks wherever it can judge.
    assert suggested == {code: 2 if code in prefilled else None for code in suggested}
    screenshots(bureau, "regulator", "assessment-started")

    # Alice finds it on her list and opens it: the suggestions preselected, the rest left to her.
    enterprise = open_page()
    enterprise_errors = watch_errors(enterprise)
    log_in(enterprise, alice.username)
    enterprise.goto("/assessment/")
    row = enterprise.locator("#assessments tbody tr", has_text=producer.name)
    expect(row).to_contain_text("自评中")
    row.get_by_role("link", name=producer.name).click()
    expect(enterprise).to_have_url(re.compile(rf"/assessment/{assessment.pk}/$"))
    expect(enterprise.locator("#score-form")).to_have_count(1)
    expect(enterprise.locator("#s-plan")).to_have_value("2")
    expect(enterprise.locator("#s-training")).to_have_value("")
    expect(enterprise.locator("#item-plan .suggested")).to_have_text("2")

    # A lower score than suggested, without its reason: refused, the other answers kept.
    score(enterprise, "labels", "1")
    for code in ("responsibility", "emergency", "training"):
        score(enterprise, code, *SELF[code])
    enterprise.get_by_role("button", name="保存", exact=True).click()
    expect(enterprise.locator(".messages")).to_contain_text("[items.labels.note]")
    expect(enterprise.locator("#s-labels")).to_have_value("1")
    expect(enterprise.locator("#n-training")).to_have_value(SELF["training"][1])
    assert not assessment.items.filter(self_score__isnull=False).exists()
    screenshots(enterprise, "producer", "self-assessment-refused")

    # With the reason, submitted to the district bureau.
    score(enterprise, "labels", *SELF["labels"])
    enterprise.get_by_role("button", name="提交区县生态环境局复核").click()
    expect(enterprise.locator(".messages")).to_contain_text("自评已提交区县生态环境局复核。")
    expect(enterprise).to_have_url(re.compile(rf"/assessment/{assessment.pk}/$"))
    expect(enterprise.locator("h1 .status")).to_have_text("自评已提交")
    expect(enterprise.locator("#score-form")).to_have_count(0)
    expect(enterprise.locator("#result")).to_contain_text("达标 / Meets the standard · 21/22 (95.5%)")
    assessment.refresh_from_db()
    assert (assessment.status, assessment.result, assessment.score_total) == ("self_submitted", "pass", 21)
    saved = {i.code: (str(i.self_score), i.self_note) for i in assessment.items.all()}
    assert {code: saved[code] for code in SELF} == SELF
    assert all(saved[code] == ("2", "") for code in prefilled - SELF.keys())

    # The district reviews: each item starts from the self score; two lowered with the reasons.
    bureau.goto(f"/assessment/{assessment.pk}/")
    expect(bureau.locator("h1 .status")).to_have_text("自评已提交")
    expect(bureau.locator("#d-labels")).to_have_value("1")
    expect(bureau.locator("#d-emergency")).to_have_value("2")
    for code, (value, note) in DISTRICT.items():
        score(bureau, code, value, note)
    bureau.get_by_label("复核意见").fill("现场核查：应急预案未备案")
    screenshots(bureau, "regulator", "district-review")
    bureau.get_by_role("button", name="提交区县复核结果").click()
    expect(bureau.locator(".messages")).to_contain_text("区县复核结果已提交。")
    expect(bureau.locator("h1 .status")).to_have_text("区县已复核")
    expect(bureau.locator("#result")).to_contain_text("基本达标 / Largely meets the standard · 18/22 (81.8%)")
    district_row = bureau.locator("#stages tr", has_text="区县复核")
    expect(district_row).to_contain_text("81.8%")
    expect(district_row).to_contain_text("基本达标")
    expect(district_row).to_contain_text("现场核查：应急预案未备案")
    expect(bureau.locator("#stages tr", has_text="企业自评")).to_contain_text("95.5%")
    expect(bureau.locator("#item-emergency")).to_contain_text("未见备案回执")
    assessment.refresh_from_db()
    assert (assessment.status, assessment.result_stage, assessment.result) == (
        "district_reviewed",
        "district",
        "basic",
    )
    reviewed = {i.code: (str(i.district_score), i.district_note) for i in assessment.items.all()}
    assert {code: reviewed[code] for code in DISTRICT} == DISTRICT
    assert reviewed["labels"] == ("1", "")  # unchanged from the self score

    # No city spot check: the district confirms its result as final.
    bureau.get_by_role("button", name="确认区县复核结果为最终结果").click()
    expect(bureau.locator(".messages")).to_contain_text("评估结果已确定。")
    expect(bureau.locator("h1 .status")).to_have_text("已确定")
    expect(bureau.locator("#finalise")).to_have_count(0)
    expect(bureau.locator("#result")).to_contain_text("基本达标")
    expect(bureau.locator("#events td.mono").filter(has_text=re.compile(r"^assessment\."))).to_have_text(
        [
            "assessment.assessment.started",
            "assessment.assessment.self_scored",
            "assessment.assessment.self_submitted",
            "assessment.assessment.district_reviewed",
            "assessment.assessment.finalised",
        ]
    )
    assessment.refresh_from_db()
    assert (assessment.status, assessment.finalised_by_id) == ("final", regulator.pk)
    screenshots(bureau, "regulator", "assessment-final")

    # The bureau's list counts it under 基本达标; Alice sees the final result.
    bureau.goto(f"/assessment/?year={YEAR}")
    expect(bureau.locator("#summary .card", has_text="基本达标").locator(".n")).to_have_text("1")
    expect(bureau.locator("#summary .card", has_text="进行中").locator(".n")).to_have_text("0")
    listed = bureau.locator("#assessments tbody tr", has_text=producer.name)
    expect(listed).to_contain_text("81.8%")
    expect(listed.locator(".status.basic")).to_have_text("基本达标")
    enterprise.reload()
    expect(enterprise.locator("h1 .status")).to_have_text("已确定")
    expect(enterprise.locator("#result")).to_contain_text("基本达标 / Largely meets the standard")
    assert bureau_errors == [] and enterprise_errors == []
