import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from greenisle.catalog.loading import CatalogueFileError, load_edition


class Command(BaseCommand):
    help = (
        "Load an edition of the 国家危险废物名录 from CSV (same columns as catalog/data/catalogue_2021.csv)."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--edition", required=True, help="e.g. 2025")
        parser.add_argument("--title", required=True)
        parser.add_argument("--in-force-from", required=True, type=dt.date.fromisoformat)
        parser.add_argument("--catalogue", required=True, type=Path)
        parser.add_argument("--exemptions", type=Path)
        parser.add_argument("--current", action="store_true", help="make this the edition in force")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        try:
            counts = load_edition(
                code=opts["edition"],
                title=opts["title"],
                in_force_from=opts["in_force_from"],
                catalogue_csv=opts["catalogue"],
                exemptions_csv=opts["exemptions"],
                make_current=opts["current"],
            )
        except (CatalogueFileError, OSError, KeyError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"edition {opts['edition']}: {counts}"))
