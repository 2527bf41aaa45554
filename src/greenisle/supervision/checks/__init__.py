"""The finding checks: one module per rule, run by ``greenisle supervision_maintain``.

Each module in ``CHECKS`` defines

- ``RULE``: its ``RuleInfo`` (code, titles, the regulation with its article, grade, owner, deadline),
  registered in ``supervision.rules`` when this package is imported;
- ``DEFAULTS``: its parameters and their default values;
- ``run(*, now, params) -> dict[str, int]``: finds the breaches with set-based queries, raises a
  finding with its evidence on each (``finding_raise``), and returns its counts (``checked``,
  ``breaches``, ``raised``).

Configuration: ``settings.GREENISLE["FINDING_RULES"]`` maps a rule code to overrides of its parameters,
``{"enabled": false}`` switching the rule off. A key the rule does not have, a value of the wrong type
or a code of no check is refused (``ImproperlyConfigured``, naming the rule and the key).

Adding a rule: docs/findings-rules.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from greenisle.supervision import rules
from greenisle.supervision.checks import (
    bin_temperature,
    bin_uncollected,
    declaration_overdue,
    device_offline,
    licence_code,
    licence_expired,
    plan_overdue,
    producer_no_transfer,
    receipt_weight,
    truck_off_route,
    truck_overtime,
)

log = logging.getLogger(__name__)

# In the order supervision_maintain runs them.
CHECKS: Final[tuple[ModuleType, ...]] = (
    bin_uncollected,
    device_offline,
    bin_temperature,
    truck_off_route,
    truck_overtime,
    licence_expired,
    licence_code,
    receipt_weight,
    producer_no_transfer,
    plan_overdue,
    declaration_overdue,
)

rules.register(*(module.RULE for module in CHECKS))

ENABLED = "enabled"


def _configured() -> Mapping[str, Any]:
    overrides = settings.GREENISLE.get("FINDING_RULES") or {}
    if not isinstance(overrides, Mapping):
        raise ImproperlyConfigured('GREENISLE["FINDING_RULES"] must map rule codes to their settings')
    unknown = sorted(set(overrides) - {module.RULE.code for module in CHECKS})
    if unknown:
        raise ImproperlyConfigured(
            f'GREENISLE["FINDING_RULES"]: {", ".join(map(repr, unknown))} is not the code of a finding check; '
            f"the checks are {', '.join(module.RULE.code for module in CHECKS)}"
        )
    return overrides


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _checked(code: str, key: str, default: Any, value: Any) -> Any:
    """``value`` for parameter ``key`` if it has the default's type (a number where the default is a
    number or null)."""
    where = f'GREENISLE["FINDING_RULES"]["{code}"]["{key}"]'
    if default is None or _is_number(default):
        if value is None and default is None:
            return None
        if not _is_number(value):
            raise ImproperlyConfigured(f"{where} must be a number, not {value!r}")
        if value < 0:
            raise ImproperlyConfigured(f"{where} must not be negative, not {value!r}")
        if isinstance(default, int) and not float(value).is_integer():
            raise ImproperlyConfigured(f"{where} must be a whole number, not {value!r}")
        return type(default)(value) if default is not None else value
    if not isinstance(value, type(default)):
        raise ImproperlyConfigured(f"{where} must be a {type(default).__name__}, not {value!r}")
    return value


def params_for(module: ModuleType) -> dict[str, Any]:
    """The module's ``DEFAULTS`` with the overrides of its rule in ``FINDING_RULES``, and ``enabled``."""
    code = module.RULE.code
    given = _configured().get(code) or {}
    if not isinstance(given, Mapping):
        raise ImproperlyConfigured(f'GREENISLE["FINDING_RULES"]["{code}"] must be an object of parameters')
    params: dict[str, Any] = {ENABLED: True, **module.DEFAULTS}
    for key, value in given.items():
        if key == ENABLED:
            if not isinstance(value, bool):
                raise ImproperlyConfigured(
                    f'GREENISLE["FINDING_RULES"]["{code}"]["enabled"] must be true or false'
                )
            params[key] = value
        elif key in module.DEFAULTS:
            params[key] = _checked(code, key, module.DEFAULTS[key], value)
        else:
            known = ", ".join(["enabled", *module.DEFAULTS])
            raise ImproperlyConfigured(
                f'GREENISLE["FINDING_RULES"]["{code}"]: unknown parameter {key!r} of rule {code} (it has: {known})'
            )
    return params


def check_run(module: ModuleType, *, now: dt.datetime) -> dict[str, int]:
    """Run one check in its own transaction. A disabled check reports ``{"enabled": 0}``; one that
    fails is rolled back, logged and reported ``{"failed": 1}`` so that the others still run."""
    params = params_for(module)
    if not params.pop(ENABLED):
        return {ENABLED: 0}
    try:
        with transaction.atomic():
            counts: dict[str, int] = module.run(now=now, params=params)
    except Exception:
        log.exception("finding check %s failed", module.RULE.code)
        return {"failed": 1}
    return counts


def configuration_check() -> None:
    """Read the configuration of every check: a mistake in it stops a sweep before anything runs."""
    for module in CHECKS:
        params_for(module)


def checks_run(*, now: dt.datetime) -> dict[str, dict[str, int]]:
    """Every check, each in its own transaction, by rule code."""
    configuration_check()
    return {module.RULE.code: check_run(module, now=now) for module in CHECKS}
