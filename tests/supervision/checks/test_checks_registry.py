"""The checks package: every module is a rule (RULE, DEFAULTS, run) registered with its citation and
tested, its configuration is validated, and supervision_maintain runs each in its own transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from greenisle.supervision import checks, rules
from greenisle.supervision.checks import CHECKS, bin_uncollected, params_for, plan_overdue
from greenisle.supervision.models import Finding
from greenisle.supervision.rules import RULES, RuleInfo

PACKAGE = Path(checks.__file__).parent
TESTS = Path(__file__).parent
# Modules of the package that are not rules.
SUPPORT = {"__init__", "base"}


@pytest.mark.parametrize("module", CHECKS, ids=[m.RULE.code for m in CHECKS])
def test_each_check_has_its_rule_defaults_and_run_and_is_registered(module: Any) -> None:
    assert isinstance(module.RULE, RuleInfo)
    assert RULES[module.RULE.code] is module.RULE
    assert rules.rule_info(module.RULE.code) is module.RULE
    assert isinstance(module.DEFAULTS, dict) and "enabled" not in module.DEFAULTS
    for key, value in module.DEFAULTS.items():
        assert re.fullmatch(r"[a-z_]+", key)
        assert value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    signature = inspect.signature(module.run)
    assert list(signature.parameters) == ["now", "params"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())
    assert module.__doc__, "say what the rule finds and why"


def test_every_module_of_the_package_is_a_listed_check_and_each_has_its_own_tests() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - SUPPORT
    assert modules == {m.__name__.rsplit(".", 1)[1] for m in CHECKS}
    assert len({m.RULE.code for m in CHECKS}) == len(CHECKS)
    tests = "\n".join(
        p.read_text(encoding="utf-8") for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name
    )
    untested = [
        m.__name__
        for m in CHECKS
        if not re.search(rf"checks import [\w,\s()]*\b{m.__name__.rsplit('.', 1)[1]}\b", tests)
    ]
    assert not untested


def test_the_registry_loads_the_checks_when_first_read() -> None:
    """In a fresh process that never imported the checks, the rules of the checks are known."""
    code = (
        "import django; django.setup(); from greenisle.supervision import rules; import sys; "
        "assert 'greenisle.supervision.checks' not in sys.modules; "
        "print(rules.rule_info('device.offline').title_en, 'truck.overtime' in rules.RULES)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "Smart bin offline too long True"


def test_registering_another_rule_under_a_taken_code_is_refused() -> None:
    rules.register(bin_uncollected.RULE)  # the same entry again: nothing happens
    with pytest.raises(ValueError, match="registered twice"):
        rules.register(dataclasses.replace(bin_uncollected.RULE, severity="A"))


# --- configuration ---------------------------------------------------------------------------------


def test_params_are_the_defaults_merged_with_the_rules_settings(configure: Any) -> None:
    assert params_for(bin_uncollected) == {"enabled": True, "hours": 48}
    configure(bin_uncollected.RULE.code, hours=12)
    assert params_for(bin_uncollected) == {"enabled": True, "hours": 12}
    configure(bin_uncollected.RULE.code, enabled=False)
    assert params_for(bin_uncollected) == {"enabled": False, "hours": 48}


def test_a_whole_number_given_for_a_decimal_parameter_is_taken(configure: Any) -> None:
    from greenisle.supervision.checks import receipt_weight

    configure(receipt_weight.RULE.code, tolerance_pct=3)
    assert params_for(receipt_weight)["tolerance_pct"] == 3


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"houres": 12},
            r"unknown parameter 'houres' of rule bin\.over_threshold_uncollected \(it has: enabled, hours\)",
        ),
        ({"hours": "48"}, r'\["bin\.over_threshold_uncollected"\]\["hours"\] must be a number'),
        ({"hours": 1.5}, r'\["hours"\] must be a whole number'),
        ({"hours": -1}, r'\["hours"\] must not be negative'),
        ({"hours": True}, r'\["hours"\] must be a number'),
        ({"enabled": "no"}, r'\["enabled"\] must be true or false'),
    ],
)
def test_a_mistake_in_a_rules_settings_names_the_rule_and_the_key(
    configure: Any, given: dict[str, Any], message: str
) -> None:
    configure(bin_uncollected.RULE.code, **given)
    with pytest.raises(ImproperlyConfigured, match=message):
        params_for(bin_uncollected)


def test_settings_for_a_rule_no_check_has_are_refused(settings: Any) -> None:
    settings.GREENISLE = {**settings.GREENISLE, "FINDING_RULES": {"bin.over_treshold": {"hours": 1}}}
    with pytest.raises(
        ImproperlyConfigured, match=r"'bin\.over_treshold' is not the code of a finding check"
    ):
        params_for(bin_uncollected)


# --- supervision_maintain ------------------------------------------------------------------------


def maintain() -> dict[str, Any]:
    out = io.StringIO()
    call_command("supervision_maintain", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_supervision_maintain_runs_every_check_under_its_rule_code(
    producer_site: Any, configure: Any
) -> None:
    configure(bin_uncollected.RULE.code, enabled=False)

    report = maintain()

    assert set(report) == {"at", "findings", *(m.RULE.code for m in CHECKS)}
    assert report[bin_uncollected.RULE.code] == {"enabled": 0}
    for module in CHECKS:
        if module is not bin_uncollected:
            assert {"checked", "breaches", "raised"} <= set(report[module.RULE.code]), module.RULE.code
    # Today is past 31 March: Alice's site has no plan for the year.
    if dt.date.today() > dt.date(dt.date.today().year, 3, 31):
        assert report[plan_overdue.RULE.code]["raised"] == 1
        assert Finding.objects.filter(rule=plan_overdue.RULE.code).count() == 1


@pytest.mark.django_db
def test_a_failing_check_is_rolled_back_and_logged_and_the_others_still_run(
    producer_site: Any, monkeypatch: Any, caplog: Any
) -> None:
    def half_done(*, now: dt.datetime, params: Any) -> dict[str, int]:
        plan_overdue.run(now=now, params={"grace_days": 0})  # raises its findings, then fails
        raise RuntimeError("database went away")

    monkeypatch.setattr(bin_uncollected, "run", half_done)
    with caplog.at_level("ERROR", logger="greenisle.supervision.checks"):
        report = maintain()

    assert report[bin_uncollected.RULE.code] == {"failed": 1}
    assert "finding check bin.over_threshold_uncollected failed" in caplog.text
    assert "database went away" in caplog.text
    # What the failing check wrote is gone; the plan check itself ran and raised.
    assert (
        report[plan_overdue.RULE.code]["raised"]
        == Finding.objects.filter(rule=plan_overdue.RULE.code).count()
    )


@pytest.mark.django_db
def test_a_mistake_in_the_settings_stops_supervision_maintain_before_anything_runs(
    producer_site: Any, configure: Any
) -> None:
    configure(plan_overdue.RULE.code, grace=3)
    with pytest.raises(ImproperlyConfigured, match=r"unknown parameter 'grace' of rule plan\.overdue"):
        maintain()
    assert not Finding.objects.exists()
