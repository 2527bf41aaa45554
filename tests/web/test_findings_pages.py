"""Findings on their pages: the list each person may see, with its filters and counts; one finding with
its citation, evidence links, repeat chain and audit trail; and its follow-up through the page's forms —
shown only to who may take the step, refused with a message naming the field."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest
from django.conf import settings
from django.utils import timezone
from supervision import conftest as supervision_fixtures
from supervision.helpers import raise_on

from greenisle.audit.models import Event
from greenisle.supervision import rules
from greenisle.supervision.models import Finding
from greenisle.supervision.services import finding_assign, finding_rectify
from greenisle.web.finding_evidence import evidence_rows, render_value
from web.helpers import messages_of, page_text

# Takes a finding through the lifecycle as the 崇川 inspector and Alice.
walk = supervision_fixtures.walk


@pytest.fixture
def english(browser_as):
    """A browser reading the English side of the UI (the strings asserted on are the msgids)."""

    def _as(user):
        browser = browser_as(user)
        browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return browser

    return _as


@pytest.fixture
def finding(producer):
    """A mass-balance finding on Alice's workshop (崇川区, 320602)."""
    return raise_on(producer)


@pytest.fixture
def other_finding(producer_b):
    """A finding on Bob's workshop in 通州区 (320612)."""
    return raise_on(producer_b, rule="storage.local_tonnes")


def listed(response) -> set[str]:
    return set(re.findall(r'data-finding="([0-9a-f-]{36})"', page_text(response)))


def count_of(response, status: str) -> int:
    match = re.search(rf'data-status="{status}"[^>]*><div class="n">(\d+)</div>', page_text(response))
    assert match, status
    return int(match.group(1))


def trail(finding) -> list[str]:
    return list(
        Event.objects.filter(object_type="supervision.finding", object_id=str(finding.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def forms_on(text: str, finding) -> set[str]:
    return set(re.findall(rf'action="/findings/{finding.pk}/(\w+)/"', text))


# --- the list -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("regulator", {"mine"}),
        ("regulator_other", {"other", "collector"}),  # the collector's warehouse is in 320612 too
        ("regulator_city", {"mine", "other", "collector"}),
        ("alice", {"mine"}),
        ("bob", {"other"}),
        ("dispatcher", {"mine", "collector"}),  # its client's and its own
        ("rival_dispatcher", set()),  # no contract with either producer here
        ("facility_receiver", set()),
    ],
)
def test_each_person_lists_the_findings_it_may_see(
    request, finding, other_finding, collector, contract, english, persona, sees
):
    own = raise_on(collector, rule="storage.local_days")
    ids = {"mine": str(finding.pk), "other": str(other_finding.pk), "collector": str(own.pk)}
    response = english(request.getfixturevalue(persona)).get("/findings/")
    assert listed(response) == {ids[k] for k in sees}


def test_an_organisation_lists_the_findings_it_must_rectify_about_another(
    other_finding, producer, english, alice, regulator
):
    assert str(other_finding.pk) not in listed(english(alice).get("/findings/"))
    Finding.objects.filter(pk=other_finding.pk).update(owner_organization=producer)
    assert str(other_finding.pk) in listed(english(alice).get("/findings/"))
    assert english(alice).get(f"/findings/{other_finding.pk}/").status_code == 200
    # The bureau's scope stays its division: the owner moving does not move the finding.
    assert str(other_finding.pk) not in listed(english(regulator).get("/findings/"))


def test_filters_and_counts(finding, other_finding, producer, producer_site, regulator_city, english):
    serious = raise_on(producer, producer_site, rule="storage.over_one_year")
    today = timezone.localdate()
    Finding.objects.filter(pk=serious.pk).update(deadline=today - dt.timedelta(days=1))
    Finding.objects.filter(pk=finding.pk).update(deadline=today)  # due today: not overdue yet
    finding_assign(actor=regulator_city, finding_id=finding.pk, assigned_to_id=regulator_city.pk)
    browser = english(regulator_city)
    ids = {"f": str(finding.pk), "s": str(serious.pk), "o": str(other_finding.pk)}

    def shown(query: str) -> set[str]:
        return {k for k, v in ids.items() if v in listed(browser.get(f"/findings/{query}"))}

    everything = browser.get("/findings/")
    assert listed(everything) == set(ids.values())
    assert (count_of(everything, "open"), count_of(everything, "assigned"), count_of(everything, "")) == (
        2,
        1,
        3,
    )
    assert shown("?status=assigned") == {"f"}
    assert shown("?status=open") == {"s", "o"}
    assert shown("?severity=A") == {"s"}
    assert shown("?rule=ledger.mass_balance") == {"f"}
    assert shown("?division=320602") == {"f", "s"}
    assert shown("?division=320612") == {"o"}
    assert shown("?overdue=1") == {"s"}
    assert shown("?mine=1") == {"f"}
    # The counts follow the other filters, not the state chosen.
    narrowed = browser.get("/findings/?division=320602&status=assigned")
    assert (count_of(narrowed, "open"), count_of(narrowed, "assigned")) == (1, 1)
    # Each count links to its state under the same filters; "all" drops the state only.
    cards = dict(re.findall(r'data-status="(\w*)" href="([^"]+)"', page_text(narrowed)))
    assert cards["open"] == "/findings/?division=320602&amp;status=open"
    assert cards[""] == "/findings/?division=320602"
    # An overdue finding's deadline is marked; one due today is not.
    text = page_text(everything)
    row = re.search(rf'<tr class="finding overdue" data-finding="{ids["s"]}">', text)
    assert row and 'class="late"' in text
    assert f'<tr class="finding" data-finding="{ids["f"]}">' in text
    # Rule titles in both languages and the grade badge.
    info = rules.RULES["storage.over_one_year"]
    assert info.title_zh in text and info.title_en in text and 'class="grade grade-A"' in text


def test_a_submitted_rectification_is_not_overdue(finding, regulator, alice, english):
    finding_assign(actor=regulator, finding_id=finding.pk, assigned_to_id=regulator.pk)
    finding_rectify(actor=alice, finding_id=finding.pk, rectification="已整改")
    Finding.objects.filter(pk=finding.pk).update(deadline=timezone.localdate() - dt.timedelta(days=3))
    assert listed(english(regulator).get("/findings/?overdue=1")) == set()


def test_a_bad_filter_is_named_and_left_out(finding, regulator, english):
    response = english(regulator).get("/findings/?severity=Z&division=32x&status=bogus")
    said = " ".join(messages_of(response))
    assert "[severity]" in said and "[division]" in said and "[status]" in said
    assert listed(response) == {str(finding.pk)}


def test_the_list_is_paginated_keeping_the_filters(producer, regulator, english, make_member):
    from factories import SiteFactory

    for n in range(55):
        raise_on(producer, SiteFactory(organization=producer, name=f"车间{n}"), rule="storage.local_days")
    browser = english(regulator)
    first = page_text(browser.get("/findings/?severity=C"))
    assert len(set(re.findall(r'data-finding="([0-9a-f-]{36})"', first))) == 50
    assert "?severity=C&amp;page=2" in first
    assert len(listed(browser.get("/findings/?severity=C&page=2"))) == 5


# --- one finding ----------------------------------------------------------------------------------


def test_the_detail_shows_the_citation_and_links_the_evidence(
    producer, delivered_manifest, smart_bin, regulator, english
):
    line = delivered_manifest.lines.order_by("id").first()
    trip_id = delivered_manifest.trip_id
    finding = raise_on(
        producer,
        delivered_manifest,
        rule="manifest.receipt_overdue",
        evidence={
            "container_code": line.container_code,
            "bin_id": str(smart_bin.pk),
            "trip_id": str(trip_id),
            "manifest_id": "not-a-uuid",
            "balances": [{"waste_code": "900-214-08", "gap_kg": "-12.00"}],
        },
    )
    browser = english(regulator)
    text = page_text(browser.get(f"/findings/{finding.pk}/"))
    info = rules.RULES["manifest.receipt_overdue"]
    assert html.escape(info.regulation) in text and info.title_zh in text
    links = set(re.findall(r'class="evidence-link" href="([^"]+)"', text))
    assert links == {
        f"/manifests/{delivered_manifest.pk}/",
        f"/c/{line.container_code}/",
        f"/bins/{smart_bin.pk}/",
        f"/trips/{trip_id}/",
    }
    assert "gap_kg: -12.00, waste_code: 900-214-08" in text
    assert f"/audit/?object_id={finding.pk}" in text
    # The link leads to the page.
    assert browser.get(f"/manifests/{delivered_manifest.pk}/").status_code == 200


def test_an_object_without_a_page_links_to_its_audit_events():
    rows = evidence_rows(
        "organizations.organization",
        "0b8f4a6e-2c7e-4d47-9d7e-1d2c3b4a5f60",
        {"container_code": "A/B", "record_id": 42, "vehicle_id": None, "manifest_id": str(uuid.UUID(int=7))},
    )
    by_key = {row.key: row for row in rows}
    assert rows[0].key == "object"
    assert by_key["object"].href == "/audit/?object_id=0b8f4a6e-2c7e-4d47-9d7e-1d2c3b4a5f60"
    assert by_key["container_code"].href == ""  # a slash has no page of its own
    assert by_key["record_id"].href == "/audit/?object_id=42"
    assert by_key["vehicle_id"].href == "" and by_key["vehicle_id"].value == "—"
    assert by_key["manifest_id"].href == f"/manifests/{uuid.UUID(int=7)}/"
    assert evidence_rows("devices.bin", "not-a-uuid", {})[0].href == "/audit/?object_id=not-a-uuid"
    assert render_value({"a": [1, 2.5, True], "b": None}) == "a: 1; 2.5; true, b: —"
    lines = evidence_rows(
        "manifests.manifest",
        str(uuid.UUID(int=9)),
        {
            "lines": [
                {"container_code": "RQ-1", "line_id": 3},
                {"container_code": "RQ-1"},
                {"container_code": "RQ-2"},
            ]
        },
    )[1]
    assert lines.key == "lines" and lines.href == ""
    assert lines.links == (("RQ-1", "/c/RQ-1/"), ("RQ-2", "/c/RQ-2/"))


def test_the_timeline_and_the_repeat_chain(producer, walk, regulator, english):
    first = walk(raise_on(producer), "closed")
    again = raise_on(producer)
    assert again.repeat_of_id == first.pk
    browser = english(regulator)
    text = page_text(browser.get(f"/findings/{again.pk}/"))
    assert f'<a href="/findings/{first.pk}/">' in text
    earlier = page_text(browser.get(f"/findings/{first.pk}/"))
    assert f'class="repeated-by" href="/findings/{again.pk}/"' in earlier
    for action in trail(first):
        assert action in earlier
    assert earlier.index("supervision.finding.raised") < earlier.index("supervision.finding.closed")


def test_a_finding_one_may_not_see_is_not_found(finding, regulator_other, bob, rival_dispatcher, english):
    for person in (regulator_other, bob, rival_dispatcher):
        browser = english(person)
        assert browser.get(f"/findings/{finding.pk}/").status_code == 404
        assert browser.submit(f"/findings/{finding.pk}/dismiss/", {"reason": "不归我管"}).status_code == 404
    assert english(regulator_other).get(f"/findings/{uuid.uuid4()}/").status_code == 404
    assert Finding.objects.get(pk=finding.pk).status == "open"
    assert trail(finding) == ["supervision.finding.raised"]


# --- the follow-up through the page ---------------------------------------------------------------


def test_the_whole_follow_up_through_the_page(finding, producer, regulator, alice, make_member, english):
    colleague = make_member(regulator.current_membership.organization, "inspector", "colleague", "崇川同事")
    bureau = english(regulator)
    owner = english(alice)
    path = f"/findings/{finding.pk}/"
    deadline = timezone.localdate() + dt.timedelta(days=20)

    text = page_text(bureau.get(path))
    assert forms_on(text, finding) == {"assign", "dismiss"}
    assert f'<option value="{colleague.pk}"' in text and f'<option value="{regulator.pk}"' in text
    assert forms_on(page_text(owner.get(path)), finding) == set()

    done = bureau.submit(
        f"{path}assign/", {"assigned_to": colleague.pk, "deadline": deadline.isoformat()}, follow=True
    )
    assert done.redirect_chain[-1][0] == path and "Finding assigned" in messages_of(done)[0]
    finding.refresh_from_db()
    assert (finding.status, finding.assigned_to, finding.deadline) == ("assigned", colleague, deadline)

    text = page_text(owner.get(path))
    assert forms_on(text, finding) == {"rectify"}
    assert forms_on(page_text(bureau.get(path)), finding) == {
        "assign",
        "dismiss",
    }  # no rectify for the bureau
    owner.submit(f"{path}rectify/", {"rectification": "已补录台账"}, follow=True)

    text = page_text(bureau.get(path))
    assert forms_on(text, finding) == {"verify", "dismiss"}
    assert 'value="accept"' in text and 'value="reject"' in text
    assert forms_on(page_text(owner.get(path)), finding) == set()
    back = bureau.submit(f"{path}verify/", {"decision": "reject", "note": "缺少称重记录"}, follow=True)
    assert "sent back" in messages_of(back)[0]
    finding.refresh_from_db()
    assert (finding.status, finding.verification_note) == ("assigned", "缺少称重记录")
    assert "缺少称重记录" in page_text(owner.get(path))

    owner.submit(f"{path}rectify/", {"rectification": "已补录台账并附称重单"}, follow=True)
    bureau.submit(f"{path}verify/", {"decision": "accept", "note": "核查通过"}, follow=True)
    text = page_text(bureau.get(path))
    assert forms_on(text, finding) == {"close"}
    closed = bureau.submit(f"{path}close/", {}, follow=True)
    assert "Finding closed." in messages_of(closed)
    finding.refresh_from_db()
    assert finding.status == "closed" and finding.rectification == "已补录台账并附称重单"
    assert forms_on(page_text(closed), finding) == set()

    assert trail(finding) == [
        "supervision.finding.raised",
        "supervision.finding.assigned",
        "supervision.finding.rectification_submitted",
        "supervision.finding.rectification_rejected",
        "supervision.finding.rectification_submitted",
        "supervision.finding.verified",
        "supervision.finding.closed",
    ]
    actors = list(
        Event.objects.filter(object_type="supervision.finding", object_id=str(finding.pk))
        .order_by("id")
        .values_list("actor__username", flat=True)
    )
    assert actors == [None, "regulator", "alice", "regulator", "alice", "regulator", "regulator"]


def test_dismissal_needs_its_reason(finding, regulator, english):
    browser = english(regulator)
    path = f"/findings/{finding.pk}/"
    refused = browser.submit(f"{path}dismiss/", {"reason": "   "})
    assert refused.status_code == 400
    assert any("[reason]" in m for m in messages_of(refused))
    assert Finding.objects.get(pk=finding.pk).status == "open"
    assert 'id="dismiss-form"' in refused.content.decode()

    done = browser.submit(f"{path}dismiss/", {"reason": "豁免清单第12项适用"}, follow=True)
    assert "Finding dismissed." in messages_of(done)
    finding.refresh_from_db()
    assert (finding.status, finding.dismissed_reason) == ("dismissed", "豁免清单第12项适用")
    assert "豁免清单第12项适用" in page_text(done)
    assert trail(finding)[-1] == "supervision.finding.dismissed"


def test_refusals_name_the_field_and_keep_what_was_typed(finding, regulator, alice, english, walk):
    bureau = english(regulator)
    path = f"/findings/{finding.pk}/"
    for body, field in (
        ({"assigned_to": alice.pk}, "[assigned_to]"),  # not an inspector of a bureau covering it
        ({"assigned_to": "x1"}, "[assigned_to]"),
        ({"assigned_to": ""}, "[assigned_to]"),
        ({"assigned_to": regulator.pk, "deadline": "2024-13-01"}, "[deadline]"),
        ({"assigned_to": regulator.pk, "deadline": "2000-01-01"}, "[deadline]"),
    ):
        refused = bureau.submit(f"{path}assign/", body)
        assert refused.status_code == 400, body
        assert any(field in m for m in messages_of(refused)), (body, messages_of(refused))
    assert Finding.objects.get(pk=finding.pk).status == "open"

    walk(finding, "assigned")
    long_text = "整改" * 1001
    refused = english(alice).submit(f"{path}rectify/", {"rectification": long_text})
    assert refused.status_code == 400
    assert any("[rectification]" in m for m in messages_of(refused))
    assert long_text in refused.content.decode()  # the text is still in the form

    walk(finding, "rectification_submitted")
    refused = bureau.submit(f"{path}verify/", {"decision": "reject", "note": ""})
    assert refused.status_code == 400 and any("[note]" in m for m in messages_of(refused))


def test_a_step_the_state_does_not_allow_is_refused_naming_the_state(finding, regulator, alice, english):
    refused = english(regulator).submit(f"/findings/{finding.pk}/close/", {})
    assert refused.status_code == 409 and any("[status]" in m for m in messages_of(refused))
    refused = english(alice).submit(f"/findings/{finding.pk}/assign/", {"assigned_to": alice.pk})
    assert refused.status_code == 403
    assert Finding.objects.get(pk=finding.pk).status == "open"


def test_the_collector_rectifies_for_its_client_on_the_page(
    finding, walk, contract, dispatcher, driver, english
):
    walk(finding, "assigned")
    path = f"/findings/{finding.pk}/"
    assert forms_on(page_text(english(dispatcher).get(path)), finding) == {"rectify"}
    assert forms_on(page_text(english(driver).get(path)), finding) == set()
    english(dispatcher).submit(f"{path}rectify/", {"rectification": "代客户补录台账"}, follow=True)
    assert Finding.objects.get(pk=finding.pk).status == "rectification_submitted"


# --- the count in the navigation and on the bureau's home -----------------------------------------


def test_the_open_count_on_the_bureau_home_and_in_the_navigation(
    finding, other_finding, walk, regulator, regulator_city, alice, english
):
    home = page_text(english(regulator_city).get("/regulator/"))
    assert re.search(r'class="card open-findings" href="/findings/"><div class="n">2</div>', home)
    assert 'class="badge findings-badge">2<' in home
    assert 'class="badge findings-badge">1<' in page_text(english(alice).get("/findings/"))
    walk(finding, "closed")
    home = page_text(english(regulator).get("/regulator/"))
    assert re.search(r'class="card open-findings" href="/findings/"><div class="n">0</div>', home)
    assert "findings-badge" not in home
    assert 'href="/findings/"' in home  # the link stays


def test_the_list_and_the_detail_cost_the_same_queries_for_more_findings(producer, walk, regulator, english):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from factories import SiteFactory

    first = walk(raise_on(producer), "closed")
    repeat = raise_on(producer)
    browser = english(regulator)
    browser.get("/findings/")  # warm the session and the membership

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            page_text(browser.get(path))
        return len(captured)

    before = (queries("/findings/"), queries(f"/findings/{first.pk}/"))
    for n in range(6):
        found = raise_on(
            producer, SiteFactory(organization=producer, name=f"车间{n}"), rule="storage.local_days"
        )
        finding_assign(actor=regulator, finding_id=found.pk, assigned_to_id=regulator.pk)
    assert (queries("/findings/"), queries(f"/findings/{first.pk}/")) == before
    assert repeat.repeat_of_id == first.pk
