"""The assessment pages and API: a regulator starts an assessment, the enterprise self-assesses on the
page with the suggestions and facts shown, the district reviews, and each person sees only theirs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from api.helpers import JsonClient, bearer_headers
from django.test import Client

from assessment.conftest import YEAR
from greenisle.assessment import services
from greenisle.assessment.models import Assessment

pytestmark = pytest.mark.django_db


def browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def started(producer: Any, records: Any, regulator: Any) -> Assessment:
    records()
    return services.assessment_start(
        actor=regulator, organization_id=producer.pk, year=YEAR, today=dt.date(YEAR, 12, 31)
    )


def test_the_list_shows_each_person_their_own(
    started: Assessment, alice: Any, bob: Any, regulator: Any
) -> None:
    assert "南通某汽修有限公司" in browser(alice).get("/assessment/").content.decode()
    assert "南通某汽修有限公司" in browser(regulator).get("/assessment/").content.decode()
    assert "南通某汽修有限公司" not in browser(bob).get("/assessment/").content.decode()
    assert browser(bob).get(f"/assessment/{started.pk}/").status_code == 404


def test_a_regulator_starts_an_assessment_from_the_list(producer: Any, records: Any, regulator: Any) -> None:
    records()
    client = browser(regulator)
    page = client.get("/assessment/").content.decode()
    assert 'id="start"' in page and "南通某汽修有限公司" in page
    response = client.post("/assessment/start/", {"organization_id": str(producer.pk), "year": YEAR - 1})
    assessment = Assessment.objects.get(organization=producer)
    assert response.status_code == 302 and response["Location"] == f"/assessment/{assessment.pk}/"
    bad = client.post("/assessment/start/", {"organization_id": "nope", "year": YEAR}, follow=True)
    assert "[organization_id]" in bad.content.decode()


def test_the_self_assessment_page_shows_suggestions_and_facts(started: Assessment, alice: Any) -> None:
    page = browser(alice).get(f"/assessment/{started.pk}/").content.decode()
    assert 'id="score-form"' in page
    assert "有 HJ 1276 标签 / With an HJ 1276 label" in page
    assert 'name="s-labels"' in page and 'name="n-emergency"' in page
    assert "/management-plans/" in page  # the filed plan is linked as evidence


def test_a_refused_self_assessment_keeps_what_was_typed(started: Assessment, alice: Any) -> None:
    client = browser(alice)
    response = client.post(
        f"/assessment/{started.pk}/",
        {
            "s-labels": "1",
            "n-labels": "",
            "s-training": "2",
            "n-training": "年度培训签到表",
            "action": "save",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "[items.labels.note]" in page
    assert "年度培训签到表" in page  # nothing valid is lost
    assert started.items.get(code="training").self_score is None


def test_self_assess_submit_and_review_on_the_pages(started: Assessment, alice: Any, regulator: Any) -> None:
    form: dict[str, str] = {"action": "submit"}
    for item in started.items.all():
        form[f"s-{item.code}"] = str(item.suggested_score if item.suggested_score is not None else 2)
        form[f"n-{item.code}"] = "" if item.suggested_score is not None else "见附件 / see the file"
    response = browser(alice).post(f"/assessment/{started.pk}/", form)
    assert response.status_code == 302
    started.refresh_from_db()
    assert started.status == "self_submitted"

    page = browser(regulator).get(f"/assessment/{started.pk}/").content.decode()
    assert 'name="d-labels"' in page and 'id="return"' in page
    response = browser(regulator).post(
        f"/assessment/{started.pk}/review/",
        {"d-training": "1", "dn-training": "培训记录不全", "note": "现场核查"},
    )
    assert response.status_code == 302
    started.refresh_from_db()
    assert (started.status, started.result_stage) == ("district_reviewed", "district")
    detail = browser(regulator).get(f"/assessment/{started.pk}/").content.decode()
    assert "assessment.assessment.district_reviewed" in detail  # the audit trail
    assert 'id="finalise"' in detail
    history = browser(alice).get(f"/assessment/organizations/{started.organization_id}/").content.decode()
    assert str(YEAR) in history


def test_the_api_runs_the_same_flow(started: Assessment, alice: Any, regulator: Any, bob: Any) -> None:
    api = JsonClient(bearer_headers(alice))
    detail = api.get(f"/assessments/{started.pk}").json()
    assert {i["code"]: i["suggested_score"] for i in detail["items"]}["plan"] == 2
    scores = {
        i["code"]: {
            "score": i["suggested_score"] if i["suggested_score"] is not None else 2,
            "note": "有记录",
        }
        for i in detail["items"]
    }
    assert api.post(f"/assessments/{started.pk}/self-scores", {"items": scores}).status_code == 200
    wrong = api.post(
        f"/assessments/{started.pk}/self-scores", {"items": {"labels": {"score": 1, "note": ""}}}
    )
    assert wrong.status_code == 400 and wrong.json()["field"] == "items.labels.note"
    assert api.post(f"/assessments/{started.pk}/submit").status_code == 200
    assert api.post(f"/assessments/{started.pk}/submit").status_code == 409
    assert JsonClient(bearer_headers(bob)).get(f"/assessments/{started.pk}").status_code == 404
    assert api.post(f"/assessments/{started.pk}/review", {}).status_code == 403
    reviewed = JsonClient(bearer_headers(regulator)).post(
        f"/assessments/{started.pk}/review", {"note": "同意"}
    )
    assert reviewed.status_code == 200 and reviewed.json()["result"] == "pass"
    history = api.get(f"/organizations/{started.organization_id}/assessments").json()
    assert [row["year"] for row in history] == [YEAR]
    checklist = api.get("/assessment-checklists/collector").json()
    assert checklist["pass_pct"] == "90" or float(checklist["pass_pct"]) == 90
    assert any(i["code"] == "licence" and i["veto"] for i in checklist["items"])
