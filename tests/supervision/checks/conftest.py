"""Running one finding check the way ``supervision_maintain`` does (its own transaction, its settings)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from greenisle.supervision.checks import check_run


@pytest.fixture
def configure(settings: Any) -> Callable[..., None]:
    """``configure("rule.code", hours=24)`` or ``configure("rule.code", enabled=False)``."""

    def _configure(code: str, **values: Any) -> None:
        rules = {**(settings.GREENISLE.get("FINDING_RULES") or {}), code: values}
        settings.GREENISLE = {**settings.GREENISLE, "FINDING_RULES": rules}

    return _configure


@pytest.fixture
def run() -> Callable[[ModuleType, dt.datetime], dict[str, int]]:
    def _run(module: ModuleType, now: dt.datetime) -> dict[str, int]:
        return check_run(module, now=now)

    return _run
