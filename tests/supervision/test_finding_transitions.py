"""The finding state machine, checked for every (from, to, role) combination.

The expected table is written out on purpose: a change to the table in the code has to be made
twice, once here, so that it is deliberate.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from greenisle.core.transitions import TransitionRefused
from greenisle.supervision.choices import ACTIVE_STATUSES, TERMINAL_STATUSES, FindingStatus
from greenisle.supervision.transitions import FINDING_TRANSITIONS

EXPECTED = {
    ("open", "assigned"): ({"regulator"}, "supervision.finding.assigned"),
    ("assigned", "assigned"): ({"regulator"}, "supervision.finding.reassigned"),
    ("assigned", "rectification_submitted"): (
        {"owner", "collector"},
        "supervision.finding.rectification_submitted",
    ),
    ("rectification_submitted", "verified"): ({"regulator"}, "supervision.finding.verified"),
    ("rectification_submitted", "assigned"): ({"regulator"}, "supervision.finding.rectification_rejected"),
    ("verified", "closed"): ({"regulator"}, "supervision.finding.closed"),
    ("open", "dismissed"): ({"regulator"}, "supervision.finding.dismissed"),
    ("assigned", "dismissed"): ({"regulator"}, "supervision.finding.dismissed"),
    ("rectification_submitted", "dismissed"): ({"regulator"}, "supervision.finding.dismissed"),
}
ROLES = ["regulator", "owner", "collector", "producer", "system", "driver", ""]
STATES = FindingStatus.values
# A finding that satisfies every guard.
COMPLETE = SimpleNamespace(
    assigned_to_id=1, rectification="已整改", verification_note="照片不清晰", dismissed_reason="数据录入错误"
)


def test_the_table_is_exactly_the_expected_one():
    rows = {(r.source, r.target): (set(r.roles), r.action) for r in FINDING_TRANSITIONS.rows}

    assert rows == EXPECTED
    assert FINDING_TRANSITIONS.states() == set(STATES)


def test_closed_and_dismissed_are_final_and_the_other_states_active():
    assert set(ACTIVE_STATUSES) | set(TERMINAL_STATUSES) == set(STATES)
    for state in TERMINAL_STATUSES:
        assert FINDING_TRANSITIONS.targets_from(state) == set()
    for state in ACTIVE_STATUSES:
        assert FINDING_TRANSITIONS.targets_from(state)


@pytest.mark.parametrize(("source", "target", "role"), list(itertools.product(STATES, STATES, ROLES)))
def test_every_combination_is_allowed_only_as_written(source, target, role):
    allowed = EXPECTED.get((source, target), (set(), ""))[0]
    if role in allowed:
        row = FINDING_TRANSITIONS.check(source=source, target=target, role=role, obj=COMPLETE)
        assert row.action == EXPECTED[(source, target)][1]
    else:
        with pytest.raises(TransitionRefused):
            FINDING_TRANSITIONS.check(source=source, target=target, role=role, obj=COMPLETE)


@pytest.mark.parametrize(
    ("source", "target", "role", "missing", "reason"),
    [
        ("open", "assigned", "regulator", {"assigned_to_id": None}, "inspector"),
        ("assigned", "rectification_submitted", "owner", {"rectification": "  "}, "rectification"),
        ("rectification_submitted", "assigned", "regulator", {"verification_note": ""}, "reasons"),
        ("open", "dismissed", "regulator", {"dismissed_reason": ""}, "reason"),
    ],
)
def test_guards_refuse_a_step_without_what_it_needs(source, target, role, missing, reason):
    finding = SimpleNamespace(**{**vars(COMPLETE), **missing})

    with pytest.raises(TransitionRefused, match=reason) as refused:
        FINDING_TRANSITIONS.check(source=source, target=target, role=role, obj=finding)
    assert refused.value.code == "guard_failed"
