"""``greenisle webhooks_deliver``: turn manifest events into signed webhook deliveries and send them."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from greenisle.core.periodic import run_every
from greenisle.notifications.webhooks import webhooks_enqueue, webhooks_send_due


class Command(BaseCommand):
    help = "发送联单状态变更通知 / Send signed webhooks for manifest state changes (once, or --every N s)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until stopped")

    def handle(self, *args: Any, every: float, **options: Any) -> None:
        def step() -> None:
            queued = webhooks_enqueue()
            report = webhooks_send_due()
            if queued or any(report.values()) or not every:
                self.stdout.write(json.dumps({"at": timezone.now().isoformat(), "queued": queued, **report}))
                self.stdout.flush()

        run_every(every, step)
