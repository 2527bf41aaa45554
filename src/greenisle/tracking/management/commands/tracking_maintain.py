"""``greenisle tracking_maintain``: truck upkeep — the truck alert sweep and the track partitions."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from greenisle.tracking.partitions import partitions_ensure_around
from greenisle.tracking.services import truck_alerts_sweep


class Command(BaseCommand):
    help = (
        "车辆告警巡检与轨迹分区维护 / Judge today's truck tracks against their plans (open and clear truck "
        "alerts) and keep the track partitions (once, or --every N s until SIGTERM)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until stopped")

    def handle(self, *args: Any, every: float, **options: Any) -> None:
        if every < 0:
            raise CommandError("--every ≥ 0")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        while True:
            now = timezone.now()
            # Partitions are UTC months (tracking.partitions).
            created = partitions_ensure_around(now.date())
            report = truck_alerts_sweep(now=now)
            self.stdout.write(
                json.dumps(
                    {"at": now.isoformat(), "partitions_created": created, **report.as_dict()},
                    ensure_ascii=False,
                )
            )
            self.stdout.flush()
            if not every or stop.wait(every):
                return
            # A connection that broke or aged while waiting is not reused.
            close_old_connections()
