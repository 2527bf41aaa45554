"""``greenisle demo_logins``: print the demo's URL and logins in a box (``scripts/demo.sh`` ends with it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from greenisle.demo import nantong
from greenisle.demo.loading import demo_is_loaded, demo_logins
from greenisle.demo.terminal import logins_box


class Command(BaseCommand):
    help = "Print the Nantong demo's logins (and the URL to open)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="the address the demo is served on")

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_is_loaded():
            raise CommandError("the demo is not loaded: run `greenisle load_demo` first")
        logins = [(lg.role, lg.username, lg.organization, lg.note) for lg in demo_logins()]
        self.stdout.write(logins_box(logins, password=nantong.DEMO_PASSWORD, url=options["url"] or None))
