"""Telemetry upkeep: partitions, hourly rollups, retention, forecasts, offline and door alerts."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from greenisle.telemetry.maintenance import maintain


class Command(BaseCommand):
    help = "Roll up readings, forecast fill, raise offline/door alerts and keep partitions (once or --every N s)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until stopped")

    def handle(self, *args: Any, every: float, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while True:
            close_old_connections()
            report = maintain()
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
            if not every or stop.wait(every):
                return
