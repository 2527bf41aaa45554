"""The findings lifecycle: open → assigned → rectification submitted → verified → closed, or dismissed
with a reason; who may take each step; every step audited; repeat findings linked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from factories import RegulatorFactory, division

from greenisle.accounts.choices import Role
from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, PermissionDenied, ServiceError
from greenisle.core.workdays import add_working_days
from greenisle.notifications.models import Notification
from greenisle.supervision.models import Finding, FindingStatus
from greenisle.supervision.services import (
    finding_assign,
    finding_close,
    finding_dismiss,
    finding_rectify,
    finding_verify,
)
from supervision.helpers import raise_on


def trail(finding: Finding) -> list[str]:
    return list(
        Event.objects.filter(object_type="supervision.finding", object_id=str(finding.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def bureau(user):
    return user.current_membership.organization


# --- the happy path -------------------------------------------------------------------------------


def test_a_finding_is_assigned_rectified_verified_and_closed_with_every_step_audited(
    finding, producer, regulator, alice
):
    deadline = add_working_days(timezone.localdate(), 15)

    finding_assign(actor=regulator, finding_id=finding.pk, assigned_to_id=regulator.pk, deadline=deadline)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.ASSIGNED
    assert (finding.assigned_to, finding.assigned_by, finding.deadline) == (regulator, regulator, deadline)
    told = Notification.objects.get(organization=producer, kind="supervision.finding_assigned")
    assert str(deadline) in told.message and told.object_id == str(finding.pk)

    finding_rectify(actor=alice, finding_id=finding.pk, rectification="  已补录3月份台账，库存复核一致  ")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.RECTIFICATION_SUBMITTED
    assert finding.rectification == "已补录3月份台账，库存复核一致"
    assert finding.rectification_submitted_by == alice and finding.rectification_submitted_at
    assert Notification.objects.filter(
        organization=bureau(regulator), kind="supervision.rectification_submitted", object_id=str(finding.pk)
    ).exists()

    finding_verify(actor=regulator, finding_id=finding.pk, decision="accept", note="现场核实")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.VERIFIED
    assert (finding.verified_by, finding.verification_note) == (regulator, "现场核实")

    finding_close(actor=regulator, finding_id=finding.pk)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED and finding.closed_at and finding.closed_by == regulator

    assert trail(finding) == [
        "supervision.finding.raised",
        "supervision.finding.assigned",
        "supervision.finding.rectification_submitted",
        "supervision.finding.verified",
        "supervision.finding.closed",
    ]
    events = list(Event.objects.filter(object_id=str(finding.pk)).order_by("id"))
    assert events[0].actor is None and events[0].payload["deadline"] == str(
        add_working_days(timezone.localdate(), 10)
    )
    steps = events[1:]
    assert [(e.payload["from"], e.payload["to"]) for e in steps] == [
        ("open", "assigned"),
        ("assigned", "rectification_submitted"),
        ("rectification_submitted", "verified"),
        ("verified", "closed"),
    ]
    assert [e.actor for e in steps] == [regulator, alice, regulator, regulator]
    assert [e.organization for e in steps] == [
        bureau(regulator),
        producer,
        bureau(regulator),
        bureau(regulator),
    ]
    assert {e.subject_organization for e in events} == {producer}
    assert {e.division_code for e in events} == {"320602"}
    assert steps[1].payload["rectification"] == "已补录3月份台账，库存复核一致"


def test_a_rejected_rectification_goes_back_to_the_owner_with_the_reasons(finding, walk, regulator, producer):
    walk(finding, "rectification_submitted")
    later = add_working_days(finding.deadline, 5)

    finding_verify(
        actor=regulator, finding_id=finding.pk, decision="reject", note="缺少库存照片", deadline=later
    )

    finding.refresh_from_db()
    assert finding.status == FindingStatus.ASSIGNED
    assert (finding.verification_note, finding.deadline) == ("缺少库存照片", later)
    assert trail(finding)[-1] == "supervision.finding.rectification_rejected"
    told = Notification.objects.get(organization=producer, kind="supervision.rectification_rejected")
    assert "缺少库存照片" in told.message


def test_an_inspector_hands_a_finding_over_to_a_colleague(finding, walk, regulator, make_member):
    walk(finding, "assigned")
    colleague = make_member(bureau(regulator), Role.INSPECTOR, "colleague", "崇川执法二")

    finding_assign(actor=regulator, finding_id=finding.pk, assigned_to_id=colleague.pk)

    finding.refresh_from_db()
    assert finding.status == FindingStatus.ASSIGNED and finding.assigned_to == colleague
    event = Event.objects.filter(object_id=str(finding.pk)).order_by("id").last()
    assert event.action == "supervision.finding.reassigned"
    assert event.payload["previous_assignee"] == regulator.pk


def test_the_city_bureau_may_follow_up_a_district_finding(finding, regulator_city):
    finding_assign(actor=regulator_city, finding_id=finding.pk, assigned_to_id=regulator_city.pk)

    finding.refresh_from_db()
    assert finding.assigned_to == regulator_city


# --- illegal transitions --------------------------------------------------------------------------

# Which service call may start from which state (the rest are refused with 409 naming the state).
STEPS = {
    "assign": {"open", "assigned"},
    "rectify": {"assigned"},
    "accept": {"rectification_submitted"},
    "reject": {"rectification_submitted"},
    "close": {"verified"},
    "dismiss": {"open", "assigned", "rectification_submitted"},
}


def call(step, finding, regulator, alice):
    if step == "assign":
        return finding_assign(actor=regulator, finding_id=finding.pk, assigned_to_id=regulator.pk)
    if step == "rectify":
        return finding_rectify(actor=alice, finding_id=finding.pk, rectification="已整改")
    if step in ("accept", "reject"):
        return finding_verify(actor=regulator, finding_id=finding.pk, decision=step, note="意见")
    if step == "close":
        return finding_close(actor=regulator, finding_id=finding.pk)
    return finding_dismiss(actor=regulator, finding_id=finding.pk, reason="数据录入错误")


@pytest.mark.parametrize("state", FindingStatus.values)
@pytest.mark.parametrize("step", list(STEPS))
def test_each_step_is_taken_only_from_the_states_the_table_allows(finding, regulator, alice, state, step):
    Finding.objects.filter(pk=finding.pk).update(status=state, assigned_to=regulator)
    before = Event.objects.count()

    if state in STEPS[step]:
        assert call(step, finding, regulator, alice).status != state or step == "assign"
        assert Event.objects.count() == before + 1
    else:
        with pytest.raises(Conflict) as refused:
            call(step, finding, regulator, alice)
        assert refused.value.field == "status" and state in refused.value.message
        assert refused.value.code == "transition_not_allowed"
        finding.refresh_from_db()
        assert finding.status == state and Event.objects.count() == before


# --- who may act ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["alice", "dispatcher", "regulator_other", "bob", "facility_receiver"])
def test_only_the_bureau_of_the_division_assigns_verifies_closes_and_dismisses(
    finding, walk, request, persona
):
    someone = request.getfixturevalue(persona)
    regulator = request.getfixturevalue("regulator")
    request.getfixturevalue("contract")

    with pytest.raises(PermissionDenied):
        finding_assign(actor=someone, finding_id=finding.pk, assigned_to_id=regulator.pk)
    with pytest.raises(PermissionDenied):
        finding_dismiss(actor=someone, finding_id=finding.pk, reason="不成立")
    walk(finding, "rectification_submitted")
    with pytest.raises(PermissionDenied):
        finding_verify(actor=someone, finding_id=finding.pk, decision="accept")
    finding_verify(actor=regulator, finding_id=finding.pk, decision="accept")
    with pytest.raises(PermissionDenied):
        finding_close(actor=someone, finding_id=finding.pk)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.VERIFIED


def test_a_finding_is_assigned_only_to_an_inspector_of_a_bureau_covering_it(
    finding, regulator, regulator_other, alice
):
    for person in (regulator_other, alice):
        with pytest.raises(ServiceError) as refused:
            finding_assign(actor=regulator, finding_id=finding.pk, assigned_to_id=person.pk)
        assert refused.value.field == "assigned_to"
    regulator.is_active = False
    regulator.save(update_fields=["is_active"])
    with pytest.raises(ServiceError, match="assign to an inspector"):
        finding_assign(actor=regulator, finding_id=finding.pk, assigned_to_id=regulator.pk)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN


def test_a_deadline_in_the_past_is_refused(finding, regulator):
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    with pytest.raises(ServiceError) as refused:
        finding_assign(
            actor=regulator, finding_id=finding.pk, assigned_to_id=regulator.pk, deadline=yesterday
        )
    assert refused.value.field == "deadline"


def test_the_collector_rectifies_for_its_small_producer(finding, walk, contract, dispatcher, regulator):
    walk(finding, "assigned")

    finding_rectify(actor=dispatcher, finding_id=finding.pk, rectification="代为补录台账")

    finding.refresh_from_db()
    assert finding.status == FindingStatus.RECTIFICATION_SUBMITTED
    event = Event.objects.filter(object_id=str(finding.pk)).order_by("id").last()
    assert event.payload["role"] == "collector" and event.payload["on_behalf"] is True
    assert event.organization == contract.collector and event.subject_organization == contract.producer


@pytest.mark.parametrize("persona", ["regulator", "rival_dispatcher", "bob", "driver", "dispatcher"])
def test_nobody_else_rectifies(finding, walk, request, persona):
    # The dispatcher's collector has no contract with Alice's workshop here; the driver's has one but
    # a driver does not answer for a client.
    if persona == "driver":
        request.getfixturevalue("contract")
    walk(finding, "assigned")

    with pytest.raises(PermissionDenied):
        finding_rectify(actor=request.getfixturevalue(persona), finding_id=finding.pk, rectification="已整改")


def test_a_rectification_and_a_rejection_need_their_text(finding, walk, alice, regulator):
    walk(finding, "assigned")
    with pytest.raises(ServiceError) as refused:
        finding_rectify(actor=alice, finding_id=finding.pk, rectification="   ")
    assert refused.value.field == "rectification"
    with pytest.raises(ServiceError) as refused:
        finding_rectify(actor=alice, finding_id=finding.pk, rectification="长" * 2001)
    assert refused.value.field == "rectification"
    with pytest.raises(ServiceError, match="NUL") as refused:
        finding_rectify(actor=alice, finding_id=finding.pk, rectification="已整改\x00")
    assert refused.value.field == "rectification"

    walk(finding, "rectification_submitted")
    with pytest.raises(ServiceError) as refused:
        finding_verify(actor=regulator, finding_id=finding.pk, decision="reject", note="")
    assert refused.value.field == "note"
    with pytest.raises(ServiceError) as refused:
        finding_verify(actor=regulator, finding_id=finding.pk, decision="maybe")
    assert refused.value.field == "decision"
    finding.refresh_from_db()
    assert finding.status == FindingStatus.RECTIFICATION_SUBMITTED


def test_a_finding_owned_by_the_bureau_is_rectified_by_the_bureau(producer, regulator, alice, monkeypatch):
    import dataclasses

    from greenisle.supervision import rules

    info = dataclasses.replace(rules.RULES["ledger.mass_balance"], code="test.bureau", owner="regulator")
    monkeypatch.setitem(rules.RULES, "test.bureau", info)
    finding = raise_on(producer, rule="test.bureau")
    finding_assign(actor=regulator, finding_id=finding.pk, assigned_to_id=regulator.pk)

    with pytest.raises(PermissionDenied):
        finding_rectify(actor=alice, finding_id=finding.pk, rectification="已整改")
    finding_rectify(actor=regulator, finding_id=finding.pk, rectification="现场检查已完成")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.RECTIFICATION_SUBMITTED


# --- dismissal ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_dismissal_needs_a_reason(finding, regulator, reason):
    with pytest.raises(ServiceError) as refused:
        finding_dismiss(actor=regulator, finding_id=finding.pk, reason=reason)

    assert refused.value.field == "reason" and refused.value.status == 400
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN and trail(finding) == ["supervision.finding.raised"]


def test_a_dismissed_finding_keeps_its_reason_and_the_owner_is_told(finding, walk, regulator, producer):
    walk(finding, "rectification_submitted")

    finding_dismiss(actor=regulator, finding_id=finding.pk, reason="豁免清单第3项适用 ")

    finding.refresh_from_db()
    assert finding.status == FindingStatus.DISMISSED
    assert (finding.dismissed_reason, finding.dismissed_by) == ("豁免清单第3项适用", regulator)
    event = Event.objects.filter(object_id=str(finding.pk)).order_by("id").last()
    assert event.action == "supervision.finding.dismissed" and event.payload["reason"] == "豁免清单第3项适用"
    assert Notification.objects.filter(organization=producer, kind="supervision.finding_dismissed").exists()


# --- raising again: one active finding per rule and object; repeats linked --------------------------


@pytest.mark.parametrize("state", ["open", "assigned", "rectification_submitted", "verified"])
def test_no_second_finding_while_one_is_followed_up(finding, walk, producer, state):
    walk(finding, state)

    assert raise_on(producer) is None
    assert Finding.objects.count() == 1


def test_a_breach_raised_again_after_closing_is_a_repeat_linked_to_the_last_one(finding, walk, producer):
    walk(finding, "closed")

    second = raise_on(producer)
    assert second.repeat_of == finding and second.status == FindingStatus.OPEN
    assert Event.objects.filter(object_id=str(second.pk)).get().payload["repeat_of"] == str(finding.pk)
    walk(second, "closed")
    third = raise_on(producer)

    assert third.repeat_of == second
    assert list(finding.repeats.all()) == [second]


def test_the_same_rule_on_another_object_of_the_organisation_is_a_repeat_too(
    finding, walk, producer, producer_site
):
    walk(finding, "closed")

    other = raise_on(producer, producer_site)

    assert other.object_type == "organizations.site" and other.repeat_of == finding


def test_a_dismissed_finding_is_not_repeated_and_another_rule_is_not_a_repeat(finding, regulator, producer):
    finding_dismiss(actor=regulator, finding_id=finding.pk, reason="数据录入错误")

    again = raise_on(producer)
    other_rule = raise_on(producer, rule="storage.local_tonnes")

    assert again is not None and again.repeat_of is None
    assert other_rule.repeat_of is None


def test_another_organisations_closed_finding_is_not_a_repeat(finding, walk, producer_b):
    walk(finding, "closed")

    assert raise_on(producer_b).repeat_of is None


def test_the_regulator_of_a_division_is_its_own_branch_before_the_city(db, producer):
    from greenisle.supervision.services import _bureau_of

    city = RegulatorFactory(division=division("320600"))
    assert _bureau_of("320602") == city
    branch = RegulatorFactory(division=division("320602"))
    assert _bureau_of("320602") == branch
    assert _bureau_of("320612") == city
