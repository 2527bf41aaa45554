"""``greenisle supervision_maintain``: the finding checks (one per rule, ``supervision.checks``), then
findings upkeep — reminders before rectification deadlines and the overdue mark after them."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from greenisle.core.periodic import run_every
from greenisle.supervision.checks import CHECKS, check_run, configuration_check
from greenisle.supervision.services import findings_remind

# The sweeps, in order: (name in the report, sweep). Each takes ``now`` and returns its counts.
STEPS: list[tuple[str, Callable[..., dict[str, int]]]] = [
    # One step per finding check, reported under its rule code; each runs in its own transaction and
    # a failing one is logged and reported {"failed": 1} without stopping the others. A check switched
    # off in GREENISLE["FINDING_RULES"] reports {"enabled": 0}.
    *((module.RULE.code, functools.partial(check_run, module)) for module in CHECKS),
    # FINDING_REMINDER_DAYS before a deadline (rules.py), once; overdue once the deadline has passed.
    ("findings", findings_remind),
]


class Command(BaseCommand):
    help = (
        "监管问题巡检 / Findings: run the finding checks (each rule of supervision.checks, configured in "
        'GREENISLE["FINDING_RULES"]), remind owners of rectification deadlines coming up '
        "(FINDING_REMINDER_DAYS) and mark findings past their deadline overdue (once, or --every N s "
        "until SIGTERM)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until stopped")

    def handle(self, *args: Any, every: float, **options: Any) -> None:
        # A mistake in FINDING_RULES (an unknown rule or parameter) stops here, before anything runs.
        configuration_check()

        def step() -> None:
            now = timezone.now()
            report: dict[str, Any] = {"at": now.isoformat()}
            for name, sweep in STEPS:
                report[name] = sweep(now=now)
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            self.stdout.flush()

        run_every(every, step)
