"""``greenisle tracking_maintain``: truck upkeep — the truck alert sweep and the track partitions."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from greenisle.core.periodic import run_every
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
        def step() -> None:
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

        run_every(every, step)
