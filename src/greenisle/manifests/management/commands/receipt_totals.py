"""The statistics' receipt totals (ADR 15): ``--check`` compares the table with the manifest lines and
exits 1 on any difference; ``--rebuild`` rewrites it from them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from greenisle.manifests.receipt_totals import receipt_totals_differences, receipt_totals_rebuild


class Command(BaseCommand):
    help = "Check or rebuild the receipt totals the statistics count (manifests.ReceiptTotal)."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--check", action="store_true", help="compare with the manifest lines")
        group.add_argument("--rebuild", action="store_true", help="rewrite from the manifest lines")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rebuild"]:
            self.stdout.write(f"receipt totals rewritten: {receipt_totals_rebuild()}")
            return
        differences = receipt_totals_differences()
        if differences:
            for line in differences:
                self.stderr.write(line)
            raise CommandError("the receipt totals differ from the manifests: run receipt_totals --rebuild")
        self.stdout.write("receipt totals match the manifests")
