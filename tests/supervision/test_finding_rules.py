"""The rule registry (supervision/rules.py): every rule code the platform raises is registered with its
regulation, grade, owner and deadline, and finding_raise takes its deadline and grade from it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone

from greenisle.core.workdays import add_working_days
from greenisle.ledger import storage
from greenisle.supervision import rules
from greenisle.supervision.rules import RULES, RuleInfo, UnknownRule, rule_info
from supervision.helpers import raise_on

SRC = Path(rules.__file__).resolve().parents[1]

# How source code names a rule code: a keyword argument, a RULE_* constant, a (code, Severity.X)
# pair of a per-kind table (ledger/storage.py), or the RuleInfo a check module carries
# (supervision/checks/*.py, registered when the checks package is imported).
RULE_PATTERNS = [
    re.compile(r"""\bRuleInfo\(\s*code\s*=\s*["']([a-z_]+\.[a-z_]+)["']"""),
    re.compile(r"""\brule\s*=\s*["']([a-z_]+\.[a-z_]+)["']"""),
    re.compile(r"""\bRULE_[A-Z_]+\s*(?::\s*[\w\[\], ]+)?=\s*["']([a-z_]+\.[a-z_]+)["']"""),
    re.compile(r"""["']([a-z_]+\.[a-z_]+)["']\s*,\s*(?:str\()?Severity\."""),
]
# The codes raised when the registry was written: the scan must find at least these, so that a
# pattern that stops matching cannot make the test pass on nothing.
KNOWN = {
    "ledger.mass_balance",
    "storage.over_one_year",
    "storage.collection_handover_overdue",
    "storage.local_days",
    "storage.local_tonnes",
    "manifest.receipt_overdue",
    "manifest.paper_entry_late",
    # supervision/checks
    "bin.over_threshold_uncollected",
    "bin.temperature_high",
    "device.offline",
    "truck.off_route",
    "truck.overtime",
    "licence.expired_operating",
    "licence.code_not_covered",
    "manifest.weight_discrepancy",
    "producer.no_transfer",
    "plan.overdue",
    "declaration.annual_overdue",
}

# Rules whose citation still lacks its article number (see the comment in rules.py).
ARTICLE_TO_CONFIRM = {"storage.collection_handover_overdue"}


def rule_codes_in_source() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts or path.name == "rules.py":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in RULE_PATTERNS:
            for code in pattern.findall(text):
                found.setdefault(code, set()).add(str(path.relative_to(SRC)))
    return found


def test_every_rule_code_raised_in_the_source_tree_is_registered():
    found = rule_codes_in_source()

    assert set(found) >= KNOWN
    unregistered = {code: sorted(paths) for code, paths in found.items() if code not in RULES}
    assert not unregistered, f"register these in supervision/rules.py: {unregistered}"


def test_the_storage_limit_rules_are_registered_with_the_grades_the_sweep_uses():
    for code, severity in storage.RULES.values():
        assert rule_info(code).severity == severity


@pytest.mark.parametrize("info", list(RULES.values()), ids=list(RULES))
def test_each_rule_cites_its_regulation_and_has_a_deadline(info):
    assert info.code.count(".") == 1
    assert info.title_zh and info.title_en and info.title.startswith(info.title_zh)
    # Chinese citations: a law or measures in 《》 or a standard number, with the article or section.
    assert re.search(r"《.+》|HJ \d+", info.regulation)
    if info.code not in ARTICLE_TO_CONFIRM:
        assert re.search(r"第.+条|第\d+章|§", info.regulation) or "试点" in info.regulation
    assert info.severity in ("A", "B", "C")
    assert info.owner in (rules.OWNER_ORGANIZATION, rules.OWNER_REGULATOR)
    assert info.deadline_from(dt.date(2026, 3, 2)) > dt.date(2026, 3, 2)


def test_an_unknown_rule_code_is_a_clear_error(producer):
    with pytest.raises(UnknownRule, match="'storage.no_such_rule' is not registered"):
        raise_on(producer, rule="storage.no_such_rule")


def test_a_rule_needs_exactly_one_kind_of_deadline_and_a_known_grade():
    base = RULES["ledger.mass_balance"]
    with pytest.raises(ValueError, match="exactly one"):
        dataclasses.replace(base, deadline_days=30)
    with pytest.raises(ValueError, match="exactly one"):
        dataclasses.replace(base, deadline_working_days=None)
    with pytest.raises(ValueError, match="severity"):
        dataclasses.replace(base, severity="D")
    with pytest.raises(ValueError, match="owner"):
        dataclasses.replace(base, owner="nobody")


def test_working_day_deadlines_skip_holidays_and_count_make_up_days():
    receipt = rule_info("manifest.receipt_overdue")  # 5 working days
    # National Day 2025: 1–8 October off, Saturday 11 October a make-up working day.
    assert receipt.deadline_from(dt.date(2025, 9, 30)) == dt.date(2025, 10, 14)
    calendar = RuleInfo(
        code="test.calendar",
        title_zh="测试",
        title_en="test",
        regulation="《测试》第一条",
        severity="C",
        owner="organization",
        deadline_days=30,
    )
    assert calendar.deadline_from(dt.date(2025, 9, 30)) == dt.date(2025, 10, 30)


def test_the_deadline_and_grade_of_a_raised_finding_come_from_the_registry(producer):
    finding = raise_on(producer)

    info = rule_info("ledger.mass_balance")
    assert finding.deadline == add_working_days(timezone.localdate(), info.deadline_working_days)
    assert finding.severity == info.severity == "B"
    assert finding.owner_organization == producer


def test_the_deadline_counts_from_the_day_given(producer):
    finding = raise_on(producer, rule="manifest.receipt_overdue", today=dt.date(2025, 9, 30))

    assert finding.deadline == dt.date(2025, 10, 14)


def test_a_grade_given_by_the_caller_overrides_the_default(producer):
    assert raise_on(producer, severity="A").severity == "A"


def test_a_rule_the_bureau_follows_up_itself_is_owned_by_the_bureau_of_the_division(
    producer, regulator, monkeypatch
):
    info = dataclasses.replace(RULES["ledger.mass_balance"], code="test.bureau", owner=rules.OWNER_REGULATOR)
    monkeypatch.setitem(RULES, "test.bureau", info)

    finding = raise_on(producer, rule="test.bureau")

    assert finding.organization == producer
    assert finding.owner_organization == regulator.current_membership.organization
