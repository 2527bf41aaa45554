"""``greenisle jt808_listener``: the JT/T 808 TCP listener for truck terminals (greenisle.tracking.server)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from greenisle.tracking.server import Jt808Listener, config_from_settings, run


class Command(BaseCommand):
    help = (
        "JT/T 808 车载终端 TCP 接入，入库后应答 0x8001 / JT/T 808 terminal TCP listener; locations are "
        "answered after commit. SIGTERM/SIGINT flush what is pending and stop."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", help="address to listen on (default: GREENISLE JT808_HOST, 127.0.0.1)")
        parser.add_argument("--port", type=int, help="TCP port (default: GREENISLE JT808_PORT, 7808)")
        parser.add_argument(
            "--auto-register",
            action="store_true",
            default=None,
            help="register unknown terminals whose plate is a vehicle without a terminal",
        )
        parser.add_argument(
            "--lenient", action="store_true", default=None, help="accept an unescaped 0x7D check code"
        )
        parser.add_argument("--idle-timeout", type=float, help="close connections idle this long (s; 300)")
        parser.add_argument("--stats-interval", type=float, help="log counters every N s (60; 0 = off)")
        parser.add_argument("--max-batch", type=int, help="points per commit (500)")
        parser.add_argument("--max-delay", type=float, help="longest wait before a commit (s; 0.02)")

    def handle(self, *args: Any, **options: Any) -> None:
        config = config_from_settings(
            host=options["host"],
            port=options["port"],
            auto_register=options["auto_register"],
            lenient=options["lenient"],
            idle_timeout=options["idle_timeout"],
            stats_interval=options["stats_interval"],
            max_batch=options["max_batch"],
            max_delay=options["max_delay"],
        )
        listener = Jt808Listener(config)

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
            "JT/T 808 监听已停止 / JT/T 808 listener stopped: "
            + " ".join(f"{k}={v}" for k, v in listener.stats.as_dict().items())
        )
