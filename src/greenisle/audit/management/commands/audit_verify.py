from django.core.management.base import BaseCommand, CommandError

from greenisle.audit.models import Event
from greenisle.audit.services import chain_verify


class Command(BaseCommand):
    help = "Recompute the audit hash chain; exit non-zero naming the first broken event."

    def handle(self, *args: object, **options: object) -> None:
        broken = chain_verify()
        if broken is not None:
            raise CommandError(f"audit chain broken at event #{broken.ident}: {broken.reason}")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {Event.objects.count()} events"))
