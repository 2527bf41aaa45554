"""``greenisle manifests_maintain``: manifest deadlines — receipt reminders and overdue findings."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from greenisle.core.periodic import run_every
from greenisle.manifests.receipt import manifest_deadlines_sweep


class Command(BaseCommand):
    help = (
        "联单期限巡检 / Remind receivers of receipts due (办法 Art. 18: 5 working days after delivery) and "
        "raise findings for overdue ones (once, or --every N s until SIGTERM)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until stopped")

    def handle(self, *args: Any, every: float, **options: Any) -> None:
        def step() -> None:
            now = timezone.now()
            report = manifest_deadlines_sweep(now=now)
            self.stdout.write(json.dumps({"at": now.isoformat(), **report}, ensure_ascii=False))
            self.stdout.flush()

        run_every(every, step)
