"""Telemetry upkeep: partitions, hourly rollups, retention, forecasts, offline and door alerts."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from greenisle.core.periodic import run_every
from greenisle.telemetry.maintenance import maintain


class Command(BaseCommand):
    help = "Roll up readings, forecast fill, raise offline/door alerts and keep partitions (once or --every N s)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until stopped")

    def handle(self, *args: Any, every: float, **options: Any) -> None:
        def step() -> None:
            report = maintain()
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))

        run_every(every, step)
