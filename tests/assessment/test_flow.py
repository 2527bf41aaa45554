"""The flow: self-assessment → district review → city spot check → final, or returned; who may act at
each step (403), from which state (409), and the input each step needs (400 naming the field)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assessment.conftest import TODAY, YEAR
from greenisle.assessment import attachments, services
from greenisle.assessment.models import Assessment
from greenisle.assessment.transitions import ASSESSMENT_TRANSITIONS
from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, PermissionDenied, ServiceError

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def photo(name: str = "site.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture
def started(producer: Any, records: Any, alice: Any) -> Assessment:
    records()
    return services.assessment_start(actor=alice, organization_id=producer.pk, year=YEAR, today=TODAY)


def accept_all(assessment: Assessment, actor: Any, **overrides: Any) -> None:
    """Self scores: the suggestion where there is one, else 2 with a note."""
    scores: dict[str, Any] = {}
    for item in assessment.items.all():
        if item.suggested_score is not None:
            scores[item.code] = {"score": item.suggested_score}
        else:
            scores[item.code] = {"score": 2, "note": "制度文件已张贴于车间 / posted in the workshop"}
    scores.update(overrides)
    services.assessment_self_save(actor=actor, assessment_id=assessment.pk, scores=scores)


@pytest.fixture
def submitted(started: Assessment, alice: Any) -> Assessment:
    accept_all(started, alice)
    return services.assessment_submit(actor=alice, assessment_id=started.pk)


@pytest.fixture
def reviewed(submitted: Assessment, regulator: Any) -> Assessment:
    return services.assessment_review(actor=regulator, assessment_id=submitted.pk)


def test_the_transition_table_allows_exactly_these_steps() -> None:
    expected = {
        ("draft", "self_submitted"): {"enterprise", "collector"},
        ("returned", "self_submitted"): {"enterprise", "collector"},
        ("self_submitted", "district_reviewed"): {"district"},
        ("self_submitted", "returned"): {"district"},
        ("district_reviewed", "city_checked"): {"city"},
        ("district_reviewed", "final"): {"district", "city"},
        ("district_reviewed", "returned"): {"city"},
        ("city_checked", "final"): {"city"},
    }
    states = ASSESSMENT_TRANSITIONS.states()
    for source, target in itertools.product(states, states):
        row = ASSESSMENT_TRANSITIONS.row(source, target)
        assert (set(row.roles) if row else None) == (expected.get((source, target))), (source, target)


def test_start_refused_for_another_enterprise_and_another_district(
    producer: Any, bob: Any, regulator_other: Any
) -> None:
    for actor in (bob, regulator_other):
        with pytest.raises(PermissionDenied):
            services.assessment_start(actor=actor, organization_id=producer.pk, year=YEAR, today=TODAY)


def test_the_district_bureau_and_the_collector_may_start_one(
    producer: Any, regulator: Any, dispatcher: Any, contract: Any
) -> None:
    assessment = services.assessment_start(
        actor=regulator, organization_id=producer.pk, year=YEAR, today=TODAY
    )
    assert assessment.kind == "producer" and assessment.status == "draft"
    with pytest.raises(Conflict):
        services.assessment_start(actor=dispatcher, organization_id=producer.pk, year=YEAR, today=TODAY)
    other = services.assessment_start(
        actor=dispatcher, organization_id=producer.pk, year=YEAR - 1, today=TODAY
    )
    assert other.started_by_organization_id == contract.collector_id


def test_a_future_year_names_the_field(producer: Any, alice: Any) -> None:
    with pytest.raises(ServiceError) as exc:
        services.assessment_start(actor=alice, organization_id=producer.pk, year=YEAR + 1, today=TODAY)
    assert exc.value.field == "year"


def test_overriding_a_suggestion_needs_the_reason(started: Assessment, alice: Any) -> None:
    with pytest.raises(ServiceError) as exc:
        services.assessment_self_save(actor=alice, assessment_id=started.pk, scores={"labels": {"score": 1}})
    assert exc.value.field == "items.labels.note"
    services.assessment_self_save(
        actor=alice, assessment_id=started.pk, scores={"labels": {"score": 1, "note": "两只桶标签脱落"}}
    )
    assert started.items.get(code="labels").self_score == 1
    # Agreeing with the suggestion needs no reason.
    services.assessment_self_save(actor=alice, assessment_id=started.pk, scores={"plan": 2})


def test_a_bad_score_names_the_item_and_nothing_is_saved(started: Assessment, alice: Any) -> None:
    with pytest.raises(ServiceError) as exc:
        services.assessment_self_save(
            actor=alice, assessment_id=started.pk, scores={"plan": 2, "labels": {"score": 5}}
        )
    assert exc.value.field == "items.labels.score"
    assert started.items.get(code="plan").self_score is None


def test_submitting_needs_every_item_scored(started: Assessment, alice: Any) -> None:
    accept_all(started, alice, training={"score": ""})
    with pytest.raises(ServiceError) as exc:
        services.assessment_submit(actor=alice, assessment_id=started.pk)
    assert exc.value.field == "items.training.score"


def test_an_item_the_platform_cannot_know_needs_a_file_or_a_note(started: Assessment, alice: Any) -> None:
    accept_all(started, alice, emergency={"score": 2, "note": ""})
    with pytest.raises(ServiceError) as exc:
        services.assessment_submit(actor=alice, assessment_id=started.pk)
    assert exc.value.field == "items.emergency.note"
    attachments.attachment_add(actor=alice, assessment_id=started.pk, upload=photo(), item_code="emergency")
    submitted = services.assessment_submit(actor=alice, assessment_id=started.pk)
    assert submitted.status == "self_submitted"
    assert (submitted.result, submitted.result_stage, submitted.score_pct) == ("pass", "self", 100)


def test_submission_and_its_event_commit_together(submitted: Assessment) -> None:
    event = Event.objects.filter(
        object_id=str(submitted.pk), action="assessment.assessment.self_submitted"
    ).get()
    assert event.payload["outcome"]["result"] == "pass"
    assert event.payload["to"] == "self_submitted"


def test_self_scores_are_frozen_after_submission(submitted: Assessment, alice: Any) -> None:
    with pytest.raises(Conflict):
        services.assessment_self_save(actor=alice, assessment_id=submitted.pk, scores={"plan": 2})
    with pytest.raises(Conflict):
        services.assessment_submit(actor=alice, assessment_id=submitted.pk)


def test_only_the_district_bureau_reviews(
    submitted: Assessment, alice: Any, regulator: Any, regulator_other: Any, regulator_city: Any
) -> None:
    # 崇川 has its own branch (``regulator``): the city bureau does not stand in for it.
    for actor in (alice, regulator_other, regulator_city):
        with pytest.raises(PermissionDenied):
            services.assessment_review(actor=actor, assessment_id=submitted.pk)


def test_the_city_reviews_where_no_district_bureau_is_registered(
    submitted: Assessment, regulator_city: Any
) -> None:
    reviewed = services.assessment_review(actor=regulator_city, assessment_id=submitted.pk)
    assert reviewed.status == "district_reviewed"


def test_a_district_score_change_needs_its_reason_and_moves_the_result(
    submitted: Assessment, regulator: Any
) -> None:
    with pytest.raises(ServiceError) as exc:
        services.assessment_review(
            actor=regulator, assessment_id=submitted.pk, scores={"manifests": {"score": 0}}
        )
    assert exc.value.field == "items.manifests.note"
    reviewed = services.assessment_review(
        actor=regulator,
        assessment_id=submitted.pk,
        scores={"manifests": {"score": 0, "note": "现场发现一批废油未运行联单转移"}},
        note="现场核查",
    )
    assert (reviewed.result, reviewed.result_stage) == ("fail", "district")
    assert reviewed.stage_outcomes["self"]["result"] == "pass"
    assert reviewed.items.get(code="manifests").district_score == 0
    assert reviewed.items.get(code="plan").district_score == 2  # unchanged items keep the self score
    event = Event.objects.get(object_id=str(reviewed.pk), action="assessment.assessment.district_reviewed")
    assert event.payload["changes"]["manifests"] == {
        "from": 2,
        "to": 0,
        "reason": "现场发现一批废油未运行联单转移",
    }


def test_the_district_result_stands_when_the_city_does_not_check(
    reviewed: Assessment, regulator: Any, regulator_city: Any
) -> None:
    final = services.assessment_finalise(actor=regulator, assessment_id=reviewed.pk)
    assert (final.status, final.result, final.result_stage) == ("final", "pass", "district")
    # Final is final: no spot check afterwards.
    with pytest.raises(Conflict):
        services.assessment_check(actor=regulator_city, assessment_id=reviewed.pk)


def test_the_city_spot_check_decides_the_result(
    reviewed: Assessment, regulator: Any, regulator_city: Any
) -> None:
    with pytest.raises(PermissionDenied):
        services.assessment_check(actor=regulator, assessment_id=reviewed.pk)
    checked = services.assessment_check(
        actor=regulator_city,
        assessment_id=reviewed.pk,
        scores={
            "training": {"score": 1, "note": "培训记录不全"},
            "emergency": {"score": 1, "note": "未演练"},
            "labels": {"score": 1, "note": "贮存点标志缺失"},
        },
    )
    assert (checked.result, checked.result_stage, str(checked.score_pct)) == ("basic", "city", "86.4")
    with pytest.raises(PermissionDenied):
        services.assessment_finalise(actor=regulator, assessment_id=checked.pk)
    final = services.assessment_finalise(actor=regulator_city, assessment_id=checked.pk)
    assert final.status == "final" and final.result == "basic"


def test_returned_with_a_reason_then_resubmitted(submitted: Assessment, regulator: Any, alice: Any) -> None:
    with pytest.raises(ServiceError) as exc:
        services.assessment_return(actor=regulator, assessment_id=submitted.pk, reason="  ")
    assert exc.value.field == "reason"
    returned = services.assessment_return(
        actor=regulator, assessment_id=submitted.pk, reason="应急预案未上传"
    )
    assert returned.status == "returned"
    services.assessment_self_save(
        actor=alice, assessment_id=returned.pk, scores={"emergency": {"score": 1, "note": "已制定未备案"}}
    )
    again = services.assessment_submit(actor=alice, assessment_id=returned.pk)
    assert again.status == "self_submitted"
    assert Event.objects.filter(
        object_id=str(again.pk), action="assessment.assessment.self_resubmitted"
    ).exists()


def test_the_collector_self_assesses_for_its_client(
    producer: Any, records: Any, dispatcher: Any, rival_dispatcher: Any
) -> None:
    records()
    assessment = services.assessment_start(
        actor=dispatcher, organization_id=producer.pk, year=YEAR, today=TODAY
    )
    accept_all(assessment, dispatcher)
    with pytest.raises(PermissionDenied):
        services.assessment_submit(actor=rival_dispatcher, assessment_id=assessment.pk)
    submitted = services.assessment_submit(actor=dispatcher, assessment_id=assessment.pk)
    assert submitted.self_submitted_by_organization_id == dispatcher.current_membership.organization_id


def test_a_collector_is_assessed_on_the_collector_checklist(
    collector: Any, licensed: Any, dispatcher: Any
) -> None:
    from greenisle.accounts.choices import Role
    from greenisle.accounts.models import Membership

    admin = dispatcher
    Membership.objects.filter(user=admin).update(role=Role.ADMIN)
    admin.refresh_from_db()
    assessment = services.assessment_start(actor=admin, organization_id=collector.pk, year=YEAR, today=TODAY)
    codes = [i.code for i in assessment.items.order_by("position")]
    assert assessment.kind == "collector" and "licence" in codes and "receivers" not in codes
    assert assessment.items.get(code="licence").suggested_score == 2
