"""``greenisle simulate_bins``: drive the core loop live by posting smart-bin readings to a running server.

Reads the device keys ``load_demo`` wrote (var/demo/device_keys.json) and the bins' current fills
(telemetry.BinState), then every ``--interval`` seconds posts a reading for ``--batch`` bins. Bins
whose pickup request has been collected report empty, so requests open and close while you watch.
Stops cleanly on SIGINT/SIGTERM; a server that is down or a busy database is logged and retried.

The HTTP-only predecessor of ``greenisle simulate`` (all three transports, fill curves, faults), kept
for scripts that call it: it posts for every demo bin over HTTP, whatever transport the bin is set to.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.models import Max
from django.utils import timezone

from greenisle.demo.loading import keys_path
from greenisle.demo.simulation import SimulatedBin, Simulator, TickResult
from greenisle.devices.models import Bin
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.telemetry.models import Reading


class Command(BaseCommand):
    help = "Post simulated smart-bin readings to a running greenisle server (the demo's live loop)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="server address")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between ticks (default 5)")
        parser.add_argument("--batch", type=int, default=50, help="bins reporting per tick (default 50)")
        parser.add_argument(
            "--ticks", type=int, default=0, help="stop after this many ticks (0: run until stopped)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed for the fill increments")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] <= 0 or options["batch"] < 1 or options["ticks"] < 0:
            raise CommandError("--interval must be > 0, --batch ≥ 1, --ticks ≥ 0")
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            self.log(f"{signal.Signals(signum).name}: stopping after the current reading")
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        bins = self.load_bins()
        serials = [b.serial for b in bins]
        simulator = Simulator(
            bins=bins,
            base_url=options["base_url"],
            batch=options["batch"],
            rng=random.Random(options["seed"]),
            should_stop=stop.is_set,
        )
        self.log(
            f"simulating {len(bins)} bins → {simulator.url}, {options['batch']} per {options['interval']:g} s"
            " (Ctrl-C to stop)"
        )
        tick = 0
        while not stop.is_set() and (options["ticks"] == 0 or tick < options["ticks"]):
            tick += 1
            started = time.monotonic()
            collected = self.collected(serials)
            if collected is not None:
                result = simulator.tick(collected)
                self.report(tick, result, self.open_requests())
            # Sleep the rest of the interval, waking at once on a signal.
            if options["ticks"] == 0 or tick < options["ticks"]:
                stop.wait(max(0.0, options["interval"] - (time.monotonic() - started)))
        self.log(f"stopped after {tick} ticks")

    def log(self, message: str) -> None:
        self.stdout.write(f"{timezone.localtime():%H:%M:%S} simulate_bins: {message}")
        self.stdout.flush()

    def load_bins(self) -> list[SimulatedBin]:
        path = keys_path()
        if not path.exists():
            raise CommandError(f"{path} not found: run `greenisle load_demo` first")
        keys: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        rows = Bin.objects.filter(serial__in=keys, enabled=True).values(
            "pk", "serial", "capacity_kg", "threshold_pct", "state__fill_pct", "state__battery_pct"
        )
        last_sequence = dict(
            Reading.objects.filter(device__serial__in=keys)
            .values("device_id")
            .annotate(last=Max("sequence"))
            .values_list("device_id", "last")
        )
        bins = [
            SimulatedBin(
                serial=row["serial"],
                key=keys[row["serial"]],
                capacity_kg=float(row["capacity_kg"]),
                threshold_pct=float(row["threshold_pct"]),
                fill_pct=float(row["state__fill_pct"] if row["state__fill_pct"] is not None else 5),
                sequence=int(last_sequence.get(row["pk"]) or 0),
                battery_pct=float(
                    row["state__battery_pct"] if row["state__battery_pct"] is not None else 100
                ),
            )
            for row in rows
        ]
        if not bins:
            raise CommandError(f"none of the bins in {path} is in this database: run `greenisle load_demo`")
        bins.sort(key=lambda b: b.serial)
        return bins

    def collected(self, serials: list[str]) -> set[str] | None:
        """Bins whose waste is on a truck: they report empty next. None when the database is busy."""
        try:
            return set(
                PickupRequest.objects.filter(
                    status=RequestStatus.COLLECTED, bin__serial__in=serials
                ).values_list("bin__serial", flat=True)
            )
        except DatabaseError as exc:
            self.log(f"database busy, skipping this tick: {exc}")
            connection.close()
            return None

    def open_requests(self) -> int | None:
        try:
            return PickupRequest.objects.filter(status=RequestStatus.OPEN).count()
        except DatabaseError:
            connection.close()
            return None

    def report(self, tick: int, result: TickResult, open_requests: int | None) -> None:
        if result.connection_error and not result.sent:
            self.log(f"tick {tick}: server not reachable, retrying next tick ({result.connection_error})")
            return
        parts = [
            f"tick {tick}: {result.sent} sent ({result.accepted} accepted, {result.duplicate} duplicate,"
            f" {result.rejected} rejected)"
        ]
        if result.crossed:
            parts.append(f"{result.crossed} crossed the threshold")
        if result.emptied:
            parts.append(f"{result.emptied} emptied after collection")
        if open_requests is not None:
            parts.append(f"{open_requests} open requests")
        self.log("; ".join(parts))
        if result.first_rejection:
            self.log(f"rejected: {result.first_rejection}")
        if result.connection_error:
            self.log(f"server stopped answering mid-tick, retrying next tick ({result.connection_error})")
