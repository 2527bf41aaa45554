"""The steps a page offers on a finding (``supervision.actions.finding_actions``) are exactly the steps
the services accept: for every state and every persona, a step is offered if and only if its service
succeeds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from greenisle.core.errors import ServiceError
from greenisle.supervision import actions
from greenisle.supervision.models import Finding
from greenisle.supervision.services import (
    finding_assign,
    finding_close,
    finding_dismiss,
    finding_rectify,
    finding_verify,
)

PERSONAS = (
    "regulator",  # 崇川 branch: the finding's district
    "regulator_city",  # the city bureau above it
    "regulator_other",  # 通州 branch: another district
    "alice",  # clerk of the producer that must rectify
    "dispatcher",  # its collector, under contract
    "driver",  # the collector's driver: not one who files for a client
    "bob",  # another producer
    "rival_dispatcher",  # another collector, no contract with Alice's workshop
)
STATES = ("open", "assigned", "rectification_submitted", "verified", "closed", "dismissed")


class _Undo(Exception):
    pass


def _services(regulator: Any) -> dict[str, Callable[[Any, Finding], Any]]:
    return {
        actions.ASSIGN: lambda who, f: finding_assign(
            actor=who, finding_id=f.pk, assigned_to_id=regulator.pk
        ),
        actions.RECTIFY: lambda who, f: finding_rectify(actor=who, finding_id=f.pk, rectification="已整改"),
        actions.ACCEPT: lambda who, f: finding_verify(actor=who, finding_id=f.pk, decision="accept"),
        actions.SEND_BACK: lambda who, f: finding_verify(
            actor=who, finding_id=f.pk, decision="reject", note="照片不清晰"
        ),
        actions.CLOSE: lambda who, f: finding_close(actor=who, finding_id=f.pk),
        actions.DISMISS: lambda who, f: finding_dismiss(actor=who, finding_id=f.pk, reason="数据录入错误"),
    }


def _accepted(call: Callable[[], Any]) -> bool:
    try:
        with transaction.atomic():
            call()
            raise _Undo
    except _Undo:
        return True
    except ServiceError:
        return False


def _in_state(finding: Finding, state: str, walk: Any, regulator: Any) -> Finding:
    if state == "dismissed":
        finding_dismiss(actor=regulator, finding_id=finding.pk, reason="误报")
        finding.refresh_from_db()
        return finding
    return walk(finding, state)


@pytest.mark.parametrize("state", STATES)
def test_the_steps_offered_are_exactly_the_steps_the_services_accept(
    request, finding, walk, regulator, contract, contract_b, state
):
    finding = _in_state(finding, state, walk, regulator)
    services = _services(regulator)
    offered_anything = set()
    for persona in PERSONAS:
        person = request.getfixturevalue(persona)
        offered = actions.finding_actions(person, finding)
        for step, call in services.items():
            accepted = _accepted(lambda call=call, person=person: call(person, finding))
            assert (step in offered) == accepted, (state, persona, step)
            if accepted:
                offered_anything.add((persona, step))
        finding.refresh_from_db()
        assert finding.status == state
    expected = {
        "open": {"assign", "dismiss"},
        "assigned": {"assign", "rectify", "dismiss"},
        "rectification_submitted": {"accept", "send_back", "dismiss"},
        "verified": {"close"},
        "closed": set(),
        "dismissed": set(),
    }[state]
    assert {step for _persona, step in offered_anything} == expected


def test_roles_on_a_finding(
    finding, regulator, regulator_city, regulator_other, alice, dispatcher, driver, contract
):
    membership = lambda user: user.current_membership  # noqa: E731
    assert actions.finding_roles(membership(regulator), finding) == {"regulator"}
    assert actions.finding_roles(membership(regulator_city), finding) == {"regulator"}
    assert actions.finding_roles(membership(regulator_other), finding) == set()
    assert actions.finding_roles(membership(alice), finding) == {"owner"}
    assert actions.finding_roles(membership(dispatcher), finding) == {"collector"}
    assert actions.finding_roles(membership(driver), finding) == set()
    assert actions.finding_roles(None, finding) == set()


def test_the_assign_form_offers_the_acting_bureaus_inspectors_only(
    finding, regulator, regulator_city, regulator_other, alice, make_member
):
    bureau = regulator.current_membership.organization
    admin = make_member(bureau, "admin", "chongchuan_admin", "崇川局长")
    away = make_member(bureau, "inspector", "retired", "已离职")
    away.is_active = False
    away.save(update_fields=["is_active"])
    assert set(actions.finding_assignees(regulator, finding)) == {regulator, admin}
    assert actions.finding_assignees(regulator_city, finding) == [regulator_city]
    assert actions.finding_assignees(regulator_other, finding) == []
    assert actions.finding_assignees(alice, finding) == []
