"""``greenisle supervision_maintain``: findings upkeep — reminders before rectification deadlines and
the overdue mark after them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from greenisle.core.periodic import run_every
from greenisle.supervision.services import findings_remind

# The sweeps, in order: (name in the report, sweep). Each takes ``now`` and returns its counts.
STEPS: list[tuple[str, Callable[..., dict[str, int]]]] = [
    # FINDING_REMINDER_DAYS before a deadline (rules.py), once; overdue once the deadline has passed.
    ("findings", findings_remind),
]


class Command(BaseCommand):
    help = (
        "监管问题巡检 / Findings upkeep: remind owners of rectification deadlines coming up "
        "(FINDING_REMINDER_DAYS) and mark findings past their deadline overdue (once, or --every N s "
        "until SIGTERM)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until stopped")

    def handle(self, *args: Any, every: float, **options: Any) -> None:
        def step() -> None:
            now = timezone.now()
            report: dict[str, Any] = {"at": now.isoformat()}
            for name, sweep in STEPS:
                report[name] = sweep(now=now)
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            self.stdout.flush()

        run_every(every, step)
