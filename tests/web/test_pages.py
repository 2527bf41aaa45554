"""Each role's home page: Simplified Chinese by default, English after choosing it; switching between
memberships; logging in."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from factories import BinFactory, MembershipFactory, UserFactory

from greenisle.accounts.choices import Role
from web.helpers import page_text

HAN = re.compile(r"[\u4e00-\u9fff]")

# persona → (where home sends them, a heading in Chinese, the same heading in English)
HOMES = {
    "alice": ("/producer/", "我的危废", "My waste"),
    "dispatcher": ("/command-centre/", "调度指挥中心", "Command centre"),
    "receiver": ("/command-centre/", "调度指挥中心", "Command centre"),
    "driver": ("/driver/", "今日收运点", "Today's stops"),
    "regulator": ("/regulator/", "监管总览", "Supervision"),
    "facility_receiver": ("/facility/", "待接收联单", "Incoming manifests"),
}


def chrome(html: str) -> str:
    """The page without the names of people and organisations (which are Chinese in any language)."""
    html = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("persona", list(HOMES))
def test_home_is_the_roles_page_in_chinese_by_default(request, world, browser_as, persona):
    url, zh, en = HOMES[persona]
    browser = browser_as(request.getfixturevalue(persona))

    response = browser.get("/", follow=True)

    assert response.redirect_chain[-1][0] == url
    html = page_text(response)
    assert '<html lang="zh-hans">' in html
    assert zh in html and en not in html
    assert "首页" in html and "联单" in html  # the navigation, too


@pytest.mark.parametrize("persona", list(HOMES))
def test_home_is_in_english_after_choosing_english(request, world, browser_as, persona):
    url, zh, en = HOMES[persona]
    browser = browser_as(request.getfixturevalue(persona))

    chosen = browser.submit("/i18n/setlang/", {"language": "en", "next": url})
    response = browser.get(url)

    assert chosen.status_code == 302 and chosen["Location"] == url
    html = page_text(response)
    assert '<html lang="en">' in html
    assert en in html and zh not in html
    assert "Home" in html and "首页" not in html


def test_english_page_has_no_chinese_outside_names(world, browser_as, open_request):
    browser = browser_as(world.dispatcher)
    browser.submit("/i18n/setlang/", {"language": "en", "next": "/"})

    text = chrome(page_text(browser.get("/command-centre/")))
    names = [
        world.collector.name,
        world.producer.name,
        world.vehicle.plate,
        str(world.driver),
        str(world.dispatcher),
        world.site.division.name,
        "中文",
    ]  # the button that switches back says 中文 on purpose
    for name in names:
        text = text.replace(name, "")

    assert not HAN.findall(text), sorted(set(HAN.findall(text)))


def test_back_to_chinese(world, browser_as):
    browser = browser_as(world.alice)
    browser.submit("/i18n/setlang/", {"language": "en", "next": "/producer/"})
    browser.submit("/i18n/setlang/", {"language": "zh-hans", "next": "/producer/"})

    assert "我的危废" in page_text(browser.get("/producer/"))


def test_switching_membership_shows_the_other_organisations_home(world, browser_as, collector, producer_b):
    # 周调度 also keeps the books of Bob's furniture workshop.
    furniture = MembershipFactory(user=world.dispatcher, organization=producer_b, role=Role.CLERK)
    browser = browser_as(world.dispatcher)
    before = browser.get("/", follow=True)
    assert before.redirect_chain[-1][0] == "/command-centre/"
    assert producer_b.name in page_text(before)  # offered in the switcher

    switched = browser.submit("/switch/", {"membership_id": furniture.pk}, follow=True)

    assert switched.redirect_chain[-1][0] == "/producer/"
    html = page_text(switched)
    assert "我的危废" in html and producer_b.name in html
    assert world.bin.serial not in html  # the collector's bins are not the workshop's
    assert page_text(browser.get("/bins/")).count(world.bin.serial) == 0
    assert browser.get("/command-centre/").status_code == 404


def test_switching_to_a_membership_one_does_not_hold_is_refused(world, browser_as, bob):
    others = bob.memberships.get()
    browser = browser_as(world.dispatcher)

    response = browser.submit("/switch/", {"membership_id": others.pk}, follow=True)

    assert response.redirect_chain[-1][0] == "/command-centre/"
    assert "您没有该身份。" in page_text(response)


def test_person_without_membership_is_told_so(browser_as):
    response = browser_as(UserFactory(username="newcomer")).get("/", follow=True)

    assert "未加入单位" in page_text(response)


def test_pages_ask_for_login(browser_as, world):
    anonymous = browser_as(None)

    for url in [
        "/",
        "/producer/",
        "/command-centre/",
        "/driver/",
        "/regulator/",
        "/bins/",
        "/ledger/",
        "/audit/",
    ]:
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url


def test_logging_in_through_the_form_leads_home(browser_as, world):
    browser = browser_as(None)
    login = page_text(browser.get("/login/"))
    assert "登录" in login

    wrong = browser.submit("/login/", {"username": "alice", "password": "wrong"})
    right = browser.submit("/login/", {"username": "alice", "password": "greenisle-test"}, follow=True)

    assert wrong.status_code == 200 and "alice" in wrong.content.decode()  # the form again, still filled in
    assert right.redirect_chain[-1][0] == "/producer/"


@pytest.mark.parametrize(
    ("persona", "url"),
    [
        ("alice", "/command-centre/"),
        ("alice", "/driver/"),
        ("alice", "/regulator/"),
        ("driver", "/command-centre/"),
        ("dispatcher", "/producer/"),
        ("regulator", "/command-centre/"),
        ("facility_receiver", "/producer/"),
    ],
)
def test_another_roles_home_is_not_found(request, world, browser_as, persona, url):
    assert browser_as(request.getfixturevalue(persona)).get(url).status_code == 404


def test_an_english_browser_still_gets_chinese_until_english_is_chosen(world, browser_as):
    browser = browser_as(world.dispatcher)

    html = page_text(browser.get("/command-centre/", headers={"Accept-Language": "en-US,en;q=0.9"}))

    assert "调度指挥中心" in html


def test_a_bin_that_has_not_reported_yet_shows_a_dash(world, browser_as):
    """A new bin has no state; its gauge must not break the pages that list it."""
    for persona, url in [
        (world.alice, "/producer/"),
        (world.dispatcher, "/command-centre/"),
        (world.alice, "/bins/"),
    ]:
        html = page_text(browser_as(persona).get(url))
        assert world.bin.serial in html


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_assign_forms_date_is_iso_for_the_date_picker(world, open_request, browser_as, language):
    """<input type="date"> accepts only YYYY-MM-DD; any other value leaves it empty and the browser
    then refuses to submit the required field."""
    browser = browser_as(world.dispatcher)
    browser.submit("/i18n/setlang/", {"language": language, "next": "/"})

    html = page_text(browser.get("/command-centre/"))

    (tag,) = re.findall(r'<input type="date"[^>]*>', html)
    assert f'value="{timezone.localdate().isoformat()}"' in tag


def test_the_pager_speaks_chinese(world, browser_as):
    for n in range(51):
        BinFactory(site=world.site, collector=world.collector, serial=f"NT-PG-{n:05d}")

    html = page_text(browser_as(world.dispatcher).get("/bins/"))

    assert "第 1 / 2 页（共 52 条）" in html
    assert "下一页" in html
