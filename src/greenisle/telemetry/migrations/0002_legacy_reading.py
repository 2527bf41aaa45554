from django.db import migrations


class Migration(migrations.Migration):
    """Readings move to a table keyed by (device, observed_at), partitioned by month on PostgreSQL:
    the old table is renamed here, copied into the new one and dropped in 0003."""

    dependencies = [
        ("telemetry", "0001_initial"),
    ]

    operations = [
        migrations.RenameModel("Reading", "LegacyReading"),
    ]
