"""``greenisle load_demo``: load the Nantong demo (registry, fleet, smart bins, first fills) once.

About 1,200 producers with sites, contracts and smart bins, 14 collectors with licences, trucks and
staff, a disposal facility and the eight ecology and environment bureaus, in one transaction of
about 13 s on SQLite. The audit chain gets one event per created object (not one per batch: at
~0.4 ms an event, 5,000 events cost 2 s). See :mod:`greenisle.demo.loading`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError

from greenisle.demo import nantong
from greenisle.demo.loading import (
    DEFAULT_PRODUCERS,
    credentials_path,
    demo_credentials_restore,
    demo_is_loaded,
    demo_load,
    demo_logins,
    keys_path,
)
from greenisle.demo.terminal import ProgressBar, logins_box


class Command(BaseCommand):
    help = "Load the Nantong demo data (idempotent: does nothing when it is already loaded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=nantong.DEFAULT_SEED, help="random seed (same seed, same data)"
        )
        parser.add_argument(
            "--producers",
            type=int,
            default=DEFAULT_PRODUCERS,
            help=f"small producers (default {DEFAULT_PRODUCERS})",
        )
        parser.add_argument("--no-logins", action="store_true", help="do not print the logins box at the end")

    def handle(self, *args: Any, **options: Any) -> None:
        if demo_is_loaded():
            self.stdout.write("demo already loaded")
            if not keys_path().exists() or not credentials_path().exists():
                # The simulator needs the raw secrets, and only their hashes are in the database.
                path = demo_credentials_restore()
                self.stdout.write(
                    f"设备凭据文件缺失，已补发 / device credentials file was missing: restored into {path}"
                )
            if not options["no_logins"]:
                self.print_logins()
            return
        bar = ProgressBar(lambda text: self.stdout.write(text, ending=""), self.stdout.flush)
        try:
            summary = demo_load(seed=options["seed"], producers=options["producers"], progress=bar)
        except (RuntimeError, ValueError) as exc:
            bar.finish()
            raise CommandError(str(exc)) from exc
        except IntegrityError as exc:
            bar.finish()
            raise CommandError(
                f"the database already holds some of the demo's rows (a username, USCC, plate or serial): {exc}."
                " Load the demo into a fresh database (GREENISLE_VAR_DIR=… greenisle migrate)."
            ) from exc
        bar.finish()
        counts = ", ".join(f"{name} {value}" for name, value in summary.counts.items())
        self.stdout.write(self.style.SUCCESS(f"loaded in {summary.seconds:.1f} s: {counts}"))
        if summary.round:
            self.stdout.write(
                f"a round walked: manifest {summary.round['manifest']} (received with a discrepancy and a "
                f"correction), onward manifest {summary.round['onward_manifest']} in transit to the facility"
            )
        self.stdout.write(f"device keys: {summary.keys_file}")
        self.stdout.write(f"device credentials (HTTP, MQTT, HJ 212): {summary.credentials_file}")
        if not options["no_logins"]:
            self.print_logins()

    def print_logins(self) -> None:
        logins = [(lg.role, lg.username, lg.organization, lg.note) for lg in demo_logins()]
        self.stdout.write(logins_box(logins, password=nantong.DEMO_PASSWORD))
