"""Data: Jiangsu / Nantong administrative divisions (GB/T 2260)."""

from django.db import migrations


def load(apps, schema_editor):
    from greenisle.organizations.divisions import DIVISIONS

    Division = apps.get_model("organizations", "Division")
    for code, name, parent in DIVISIONS:
        Division.objects.update_or_create(code=code, defaults={"name": name, "parent_id": parent})


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
