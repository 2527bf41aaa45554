"""The statistics' received lines (ADR 15): ``--check`` compares the table with the manifest lines and
exits 1 on any difference; ``--rebuild`` rewrites it from them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from greenisle.manifests.receipt_lines import receipt_lines_differences, receipt_lines_rebuild


class Command(BaseCommand):
    help = "Check or rebuild the received lines the statistics count (manifests.ReceiptLine)."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--check", action="store_true", help="compare with the manifest lines")
        group.add_argument("--rebuild", action="store_true", help="rewrite from the manifest lines")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            self.stdout.write(f"received lines rewritten: {receipt_lines_rebuild()}")
            return
        differences = receipt_lines_differences()
        if differences:
            for line in differences:
                self.stderr.write(line)
            raise CommandError("the received lines differ from the manifests: run receipt_lines --rebuild")
        self.stdout.write("received lines match the manifests")
