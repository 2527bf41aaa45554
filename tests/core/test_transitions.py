"""The state-machine tables, checked for every (from, to, role) combination.

The expected tables are written out here on purpose: a change to a table in the code has to be
made twice, once here, so that it is deliberate.
"""

from __future__ import annotations

import itertools
import re

import pytest

from greenisle.core.transitions import Transition, TransitionRefused, TransitionTable
from greenisle.dispatch.choices import PlanStatus, RequestStatus
from greenisle.dispatch.transitions import PLAN_TRANSITIONS, REQUEST_TRANSITIONS
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.transitions import MANIFEST_TRANSITIONS

MANIFEST_EXPECTED = {
    ("draft", "producer_signed"): {"producer", "producer_code", "producer_delegated"},
    ("producer_signed", "in_transit"): {"carrier"},
    ("in_transit", "delivered"): {"carrier", "receiver"},
    ("delivered", "received"): {"receiver"},
    ("received", "treated"): {"receiver"},
    ("draft", "cancelled"): {"carrier", "producer"},
}
REQUEST_EXPECTED = {
    ("open", "assigned"): {"dispatcher"},
    ("assigned", "open"): {"dispatcher"},
    ("assigned", "collected"): {"system"},
    ("assigned", "closed"): {"system"},
    ("collected", "closed"): {"system"},
    ("open", "closed"): {"system"},
    ("open", "cancelled"): {"dispatcher", "producer"},
}
PLAN_EXPECTED = {
    ("queued", "solving"): {"system"},
    ("solving", "ready"): {"system"},
    ("solving", "failed"): {"system"},
    ("ready", "queued"): {"dispatcher"},
    ("ready", "published"): {"dispatcher"},
    ("ready", "superseded"): {"dispatcher"},
    ("failed", "superseded"): {"dispatcher"},
    ("queued", "superseded"): {"dispatcher"},
}
# Every role any table knows, plus people who appear in no row.
ROLES = sorted(
    {r for row in MANIFEST_TRANSITIONS.rows + REQUEST_TRANSITIONS.rows for r in row.roles}
    | {"regulator", "facility", "driver", "clerk", "admin", ""}
)


class _Lines:
    def __init__(self, present: bool, undecided: bool = False) -> None:
        self.present = present
        self.undecided = undecided

    def exists(self) -> bool:
        return self.present

    def filter(self, **_lookup: object) -> _Lines:
        # The receipt guard asks for lines without a decision.
        return _Lines(self.undecided)


class FakeManifest:
    """Enough of a manifest for the guards: lines, undecided lines, the receipt's outcome."""

    def __init__(self, *, lines: bool, undecided: bool = False, outcome: str = "accepted") -> None:
        self.lines = _Lines(lines, undecided)
        self.receipt_outcome = outcome


def _cases(states: list[str]) -> list[tuple[str, str, str]]:
    return list(itertools.product(states, states, ROLES))


@pytest.mark.parametrize(("source", "target", "role"), _cases(list(ManifestStatus.values)))
def test_manifest_transition_allowed_exactly_when_in_table(source, target, role):
    allowed = role in MANIFEST_EXPECTED.get((source, target), set())
    if allowed:
        row = MANIFEST_TRANSITIONS.check(
            source=source, target=target, role=role, obj=FakeManifest(lines=True)
        )
        assert (row.source, row.target) == (source, target)
    else:
        with pytest.raises(TransitionRefused) as refused:
            MANIFEST_TRANSITIONS.check(source=source, target=target, role=role, obj=FakeManifest(lines=True))
        expected = "role_not_allowed" if (source, target) in MANIFEST_EXPECTED else "transition_not_allowed"
        assert refused.value.code == expected


@pytest.mark.parametrize(("source", "target", "role"), _cases(list(RequestStatus.values)))
def test_request_transition_allowed_exactly_when_in_table(source, target, role):
    allowed = role in REQUEST_EXPECTED.get((source, target), set())
    if allowed:
        row = REQUEST_TRANSITIONS.check(source=source, target=target, role=role)
        assert (row.source, row.target) == (source, target)
    else:
        with pytest.raises(TransitionRefused) as refused:
            REQUEST_TRANSITIONS.check(source=source, target=target, role=role)
        expected = "role_not_allowed" if (source, target) in REQUEST_EXPECTED else "transition_not_allowed"
        assert refused.value.code == expected


@pytest.mark.parametrize(("source", "target", "role"), _cases(list(PlanStatus.values)))
def test_route_plan_transition_allowed_exactly_when_in_table(source, target, role):
    if role in PLAN_EXPECTED.get((source, target), set()):
        row = PLAN_TRANSITIONS.check(source=source, target=target, role=role)
        assert (row.source, row.target) == (source, target)
    else:
        with pytest.raises(TransitionRefused) as refused:
            PLAN_TRANSITIONS.check(source=source, target=target, role=role)
        expected = "role_not_allowed" if (source, target) in PLAN_EXPECTED else "transition_not_allowed"
        assert refused.value.code == expected


@pytest.mark.parametrize(
    ("table", "expected", "statuses"),
    [
        (MANIFEST_TRANSITIONS, MANIFEST_EXPECTED, set(ManifestStatus.values)),
        (REQUEST_TRANSITIONS, REQUEST_EXPECTED, set(RequestStatus.values)),
        (PLAN_TRANSITIONS, PLAN_EXPECTED, set(PlanStatus.values)),
    ],
    ids=["manifest", "request", "route_plan"],
)
def test_table_rows_are_the_expected_ones_over_known_states(table, expected, statuses):
    assert {(r.source, r.target): set(r.roles) for r in table.rows} == expected
    assert table.states() <= statuses


@pytest.mark.parametrize(
    "row", MANIFEST_TRANSITIONS.rows + REQUEST_TRANSITIONS.rows + PLAN_TRANSITIONS.rows, ids=str
)
def test_every_transition_has_a_dotted_audit_action(row):
    assert re.fullmatch(r"[a-z_]+\.[a-z_]+\.[a-z_]+", row.action)
    assert row.action.split(".")[0] in {"manifests", "dispatch"}


def test_signing_refused_for_a_manifest_without_containers():
    with pytest.raises(TransitionRefused) as refused:
        MANIFEST_TRANSITIONS.check(
            source="draft", target="producer_signed", role="producer", obj=FakeManifest(lines=False)
        )
    assert refused.value.code == "guard_failed"
    assert "container" in refused.value.message


def test_treated_and_cancelled_manifests_are_final():
    assert MANIFEST_TRANSITIONS.targets_from("treated") == set()
    assert MANIFEST_TRANSITIONS.targets_from("cancelled") == set()


def test_receipt_refused_while_a_line_has_no_decision():
    # 办法 Art. 18: every line accepted, partly accepted or rejected.
    with pytest.raises(TransitionRefused) as refused:
        MANIFEST_TRANSITIONS.check(
            source="delivered",
            target="received",
            role="receiver",
            obj=FakeManifest(lines=True, undecided=True),
        )
    assert refused.value.code == "guard_failed"


def test_treatment_refused_for_a_rejected_manifest():
    with pytest.raises(TransitionRefused) as refused:
        MANIFEST_TRANSITIONS.check(
            source="received",
            target="treated",
            role="receiver",
            obj=FakeManifest(lines=True, outcome="rejected"),
        )
    assert refused.value.code == "guard_failed"


def test_duplicate_rows_are_refused_when_building_a_table():
    row = Transition("a", "b", frozenset({"x"}), "t.t.t")
    with pytest.raises(ValueError, match="duplicate"):
        TransitionTable("t", [row, row])


def test_guard_reason_is_reported():
    table = TransitionTable("t", [Transition("a", "b", frozenset({"x"}), "t.t.moved", (lambda obj: obj,))])
    assert table.check(source="a", target="b", role="x", obj=None).action == "t.t.moved"
    with pytest.raises(TransitionRefused, match="not today") as refused:
        table.check(source="a", target="b", role="x", obj="not today")
    assert refused.value.code == "guard_failed"
