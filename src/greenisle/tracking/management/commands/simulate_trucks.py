"""``greenisle simulate_trucks``: the trucks of a day's published trips drive their planned paths and
report to the JT/T 808 listener as real terminals do (greenisle.tracking.simulator).

    greenisle simulate_trucks [--date YYYY-MM-DD] [--speed-up 60] [--speed KMH] [--interval 30]
                              [--stray auto|none|PLATE] [--plan-as USERNAME] [--follow] [--host H --port P]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import signal
import threading
import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from greenisle.tracking.fleet import Truck, demo_plan_ensure, fleet_load
from greenisle.tracking.server import run
from greenisle.tracking.simulator import FleetConfig, FleetRunner

_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}  # noqa: S104


def _default_speed() -> float:
    """The straight-line speed that keeps the planned timetable: the planner's road speed over its
    circuity (road distance = straight distance × circuity)."""
    cfg = settings.GREENISLE
    return round(float(cfg["ROUTING_SPEED_KMH"]) / float(cfg["ROUTING_CIRCUITY"]), 1)


class Command(BaseCommand):
    help = (
        "模拟车辆经 JT/T 808 上报位置 / Simulate the trucks of a day's published trips over JT/T 808: "
        "register, authenticate, drive the planned path, report 0x0200 (one truck strays)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=dt.date.fromisoformat, help="service date (default today)")
        parser.add_argument(
            "--speed-up",
            type=float,
            default=60.0,
            help="simulated seconds per real second while the simulated clock is behind the wall clock "
            "(default 60); it never runs ahead of it",
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=None,
            help="driving speed on the straight legs, km/h (default: the plan's)",
        )
        parser.add_argument(
            "--interval", type=int, default=30, help="simulated seconds between location reports (default 30)"
        )
        parser.add_argument(
            "--heartbeat",
            type=float,
            default=30.0,
            help="real seconds between heartbeats when idle (default 30)",
        )
        parser.add_argument(
            "--stray",
            default="auto",
            help="the truck that leaves its route: a plate, 'none', or 'auto' (the first truck of the "
            "--plan-as collector, else of all; default)",
        )
        parser.add_argument(
            "--plan-as",
            default=None,
            help="a dispatcher's username: plan and publish the day for that dispatcher's collector when it "
            "has no published trips",
        )
        parser.add_argument(
            "--plan-seconds", type=int, default=5, help="search time of that plan (default 5)"
        )
        parser.add_argument(
            "--follow",
            action="store_true",
            help="keep running after the trips: stay parked, pick up trips published later (until SIGTERM)",
        )
        parser.add_argument(
            "--poll", type=float, default=30.0, help="with --follow: re-read the trips every N s"
        )
        parser.add_argument("--host", default=None, help="JT/T 808 listener (default GREENISLE JT808_HOST)")
        parser.add_argument("--port", type=int, default=None, help="its port (default GREENISLE JT808_PORT)")
        parser.add_argument(
            "--reply-timeout", type=float, default=5.0, help="first answer timeout, s (default 5)"
        )
        parser.add_argument("--report-every", type=float, default=10.0, help="seconds between summary lines")

    def handle(self, *args: Any, **options: Any) -> None:
        problems = []
        if not (options["speed_up"] >= 1 and math.isfinite(options["speed_up"])):
            problems.append("--speed-up ≥ 1")
        if options["speed"] is not None and not options["speed"] > 0:
            problems.append("--speed > 0")
        if options["interval"] < 1:
            problems.append("--interval ≥ 1")
        if options["heartbeat"] <= 0 or options["poll"] <= 0 or options["report_every"] <= 0:
            problems.append("--heartbeat, --poll, --report-every > 0")
        if options["reply_timeout"] <= 0:
            problems.append("--reply-timeout > 0")
        if problems:
            raise CommandError("参数无效 / invalid options: " + "; ".join(problems))
        day: dt.date = options["date"] or timezone.localdate()
        speed = options["speed"] or _default_speed()
        cfg = settings.GREENISLE
        host = options["host"] or cfg.get("JT808_HOST", "127.0.0.1")
        config = FleetConfig(
            host=_WILDCARD_HOSTS.get(host, host),
            port=options["port"] or int(cfg.get("JT808_PORT", 7808)),
            speed_up=options["speed_up"],
            interval_s=options["interval"],
            heartbeat_s=options["heartbeat"],
            reply_timeout=options["reply_timeout"],
            follow=options["follow"],
            poll_s=options["poll"],
            report_every=options["report_every"],
        )
        collector: uuid.UUID | None = None
        if options["plan_as"]:
            collector = demo_plan_ensure(
                username=options["plan_as"], day=day, seconds=options["plan_seconds"], log=self.log
            )

        def load() -> list[Truck]:
            return fleet_load(
                day=day, speed_kmh=speed, stray=options["stray"], stray_collector=collector, log=self.log
            )

        trucks = load()
        if not trucks and not config.follow:
            self.log(f"{day} 没有已发布的出车任务 / no published trips on {day}: nothing to drive")
            return
        self.log(
            f"{len(trucks)} 辆车 / trucks on {day}, {speed:g} km/h, a report every {config.interval_s} s"
        )
        runner = FleetRunner(trucks, config, log=self.log, reload=load)

        async def main() -> Any:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            handled = []
            if threading.current_thread() is threading.main_thread():
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signum, stop.set)
                    handled.append(signum)
            try:
                return await runner.run(stop)
            finally:
                for signum in handled:
                    loop.remove_signal_handler(signum)

        report = run(main())
        self.log(
            "已停止 / stopped: "
            + " ".join(f"{key}={value}" for key, value in report.as_dict().items() if key != "link")
            + " "
            + " ".join(f"{key}={value}" for key, value in report.as_dict()["link"].items())
        )

    def log(self, message: str) -> None:
        self.stdout.write(f"{timezone.localtime():%H:%M:%S} simulate_trucks: {message}")
        self.stdout.flush()
