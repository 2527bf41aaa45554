"""``greenisle hj212_listener``: the HJ 212 TCP listener (see greenisle.telemetry.hj212.server)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from greenisle.telemetry.hj212.config import config_from_settings
from greenisle.telemetry.hj212.runner import run
from greenisle.telemetry.hj212.server import Hj212Listener


class Command(BaseCommand):
    help = (
        "HJ 212 数采仪 TCP 接入，入库后应答 9014 / HJ 212 data-logger TCP listener; answers 9014 after commit. "
        "SIGTERM/SIGINT flush the pending batch and stop."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", help="address to listen on (default: GREENISLE HJ212_HOST)")
        parser.add_argument("--port", type=int, help="TCP port (default: GREENISLE HJ212_PORT, 9212)")
        parser.add_argument("--idle-timeout", type=float, help="close connections idle this long (s; 600)")
        parser.add_argument("--stats-interval", type=float, help="log counters every N s (60; 0 = off)")
        parser.add_argument("--max-batch", type=int, help="readings per commit (1000)")
        parser.add_argument("--max-delay", type=float, help="longest wait before a commit (s; 0.02)")

    def handle(self, *args: Any, **options: Any) -> None:
        config = config_from_settings(
            host=options["host"],
            port=options["port"],
            idle_timeout=options["idle_timeout"],
            stats_interval=options["stats_interval"],
            max_batch=options["max_batch"],
            max_delay=options["max_delay"],
        )
        listener = Hj212Listener(config)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            try:
                await listener.run(stop=stop)
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)

        run(main())
        self.stdout.write(
            "HJ 212 监听已停止 / HJ 212 listener stopped: "
            + " ".join(f"{k}={v}" for k, v in listener.stats.as_dict().items())
        )
