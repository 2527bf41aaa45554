"""Findings raised before the lifecycle are followed up by the organisation they are about."""

from django.db import migrations
from django.db.models import F


def owner_is_the_organization(apps, schema_editor):
    Finding = apps.get_model("supervision", "Finding")
    Finding.objects.filter(owner_organization__isnull=True).update(owner_organization=F("organization"))


class Migration(migrations.Migration):

    dependencies = [
        ("supervision", "0002_finding_lifecycle"),
    ]

    operations = [
        migrations.RunPython(owner_is_the_organization, migrations.RunPython.noop),
    ]
