"""The pure core: checklists, thresholds, veto items and the suggestion rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from greenisle.assessment import checklists as c


def scores(kind: str, value: int, **overrides: int | None) -> dict[str, int | None]:
    return {**{i.code: value for i in c.checklist(kind)}, **overrides}


def test_every_item_cites_its_basis_and_guidance_for_each_score() -> None:
    for kind in c.KINDS:
        for item in c.checklist(kind):
            assert item.basis and item.requirement and item.title_zh and item.title_en
            assert [item.guidance_for(s) for s in (2, 1, 0)] == list(item.guidance)


def test_the_producer_checklist_has_the_national_items() -> None:
    codes = {i.code for i in c.checklist(c.PRODUCER)}
    assert codes >= {
        "responsibility",
        "labels",
        "plan",
        "ledger",
        "declaration",
        "classification",
        "manifests",
        "emergency",
        "storage",
        "training",
    }
    assert not c.item_of(c.PRODUCER, "training").prefill
    assert c.item_of(c.PRODUCER, "manifests").veto
    assert c.item_of(c.COLLECTOR, "licence").veto


def test_full_marks_meet_the_standard() -> None:
    result = c.outcome(c.PRODUCER, scores(c.PRODUCER, 2))
    assert (result.total, result.maximum, result.pct, result.result) == (
        22,
        22,
        Decimal("100.0"),
        c.RESULT_PASS,
    )


def test_thresholds_pass_at_90_and_basic_at_75() -> None:
    assert c.grade(Decimal("90.0"), vetoed=False) == c.RESULT_PASS
    assert c.grade(Decimal("89.9"), vetoed=False) == c.RESULT_BASIC
    assert c.grade(Decimal("75.0"), vetoed=False) == c.RESULT_BASIC
    assert c.grade(Decimal("74.9"), vetoed=False) == c.RESULT_FAIL


def test_two_items_partly_met_is_still_a_pass_three_is_basic() -> None:
    # 20/22 = 90.9 % and 19/22 = 86.4 %.
    two = c.outcome(c.PRODUCER, scores(c.PRODUCER, 2, training=1, emergency=1))
    three = c.outcome(c.PRODUCER, scores(c.PRODUCER, 2, training=1, emergency=1, labels=1))
    assert (two.pct, two.result) == (Decimal("90.9"), c.RESULT_PASS)
    assert (three.pct, three.result) == (Decimal("86.4"), c.RESULT_BASIC)


def test_a_veto_item_at_zero_fails_whatever_the_total() -> None:
    vetoed = c.outcome(c.PRODUCER, scores(c.PRODUCER, 2, manifests=0))
    assert vetoed.pct == Decimal("90.9")
    assert vetoed.result == c.RESULT_FAIL
    assert vetoed.vetoed == ("manifests",)
    # The same points lost on an ordinary item: still a pass.
    ordinary = c.outcome(c.PRODUCER, scores(c.PRODUCER, 2, training=0))
    assert ordinary.result == c.RESULT_PASS and not ordinary.vetoed


def test_unscored_items_count_as_zero_and_are_listed() -> None:
    result = c.outcome(c.PRODUCER, scores(c.PRODUCER, 2, training=None))
    assert result.unscored == ("training",) and not result.complete
    assert result.total == 20


@pytest.mark.parametrize("value", [3, -1, "x", True, 1.5, "2.0"])
def test_a_score_is_0_1_or_2(value: object) -> None:
    with pytest.raises(ValueError):
        c.valid_score(value)


def test_scores_as_text_are_accepted() -> None:
    assert [c.valid_score(v) for v in ("0", " 1", "2")] == [0, 1, 2]


def test_label_share_full_partial_and_none() -> None:
    assert c.suggest_labels(labelled=10, containers=10) == 2
    assert c.suggest_labels(labelled=8, containers=10) == 1
    assert c.suggest_labels(labelled=7, containers=10) == 0
    assert c.suggest_labels(labelled=0, containers=0) is None


def test_plan_on_time_late_missing() -> None:
    due = dt.date(2025, 3, 31)
    assert c.suggest_plan(filed_on=due, due_on=due) == 2
    assert c.suggest_plan(filed_on=dt.date(2025, 4, 1), due_on=due) == 1
    assert c.suggest_plan(filed_on=None, due_on=due) == 0


def test_manifests_without_a_manifest_is_zero_late_is_one() -> None:
    assert c.suggest_manifests(transfers=3, off_manifest=0, late=0) == 2
    assert c.suggest_manifests(transfers=3, off_manifest=0, late=1) == 1
    assert c.suggest_manifests(transfers=3, off_manifest=1, late=0) == 0
    assert c.suggest_manifests(transfers=0, off_manifest=0, late=0) is None


def test_declaration_on_time_late_missing() -> None:
    assert c.suggest_declaration(owed=2, submitted_on_time=2, submitted_late=0) == 2
    assert c.suggest_declaration(owed=2, submitted_on_time=1, submitted_late=1) == 1
    assert c.suggest_declaration(owed=2, submitted_on_time=1, submitted_late=0) == 0
    assert c.suggest_declaration(owed=0, submitted_on_time=0, submitted_late=0) is None


def test_storage_over_a_year_is_zero_even_with_facilities() -> None:
    assert c.suggest_storage(sites=1, sites_with_storage=1, over_one_year=0) == 2
    assert c.suggest_storage(sites=1, sites_with_storage=1, over_one_year=1) == 0
    assert c.suggest_storage(sites=2, sites_with_storage=1, over_one_year=0) == 1
    assert c.suggest_storage(sites=1, sites_with_storage=1, over_one_year=0, over_handover=1) == 1


def test_licence_scope() -> None:
    assert (
        c.suggest_licence(valid_through_period=True, valid_at_all=True, codes_outside=0, over_capacity=False)
        == 2
    )
    assert (
        c.suggest_licence(valid_through_period=False, valid_at_all=True, codes_outside=0, over_capacity=False)
        == 1
    )
    assert (
        c.suggest_licence(valid_through_period=True, valid_at_all=True, codes_outside=1, over_capacity=False)
        == 0
    )
    assert (
        c.suggest_licence(valid_through_period=True, valid_at_all=True, codes_outside=0, over_capacity=True)
        == 0
    )


def test_findings_cap_a_suggestion() -> None:
    assert c.cap_for_findings(2, []) == 2
    assert c.cap_for_findings(2, ["B"]) == 1
    assert c.cap_for_findings(2, ["C", "A"]) == 0
    assert c.cap_for_findings(None, ["A"]) is None
    assert c.item_for_rule("storage.over_one_year") == "storage"
    assert c.item_for_rule("bin.offline") is None
