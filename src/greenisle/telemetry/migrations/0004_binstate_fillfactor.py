"""Room on every page of the bin-state table for its next versions (PostgreSQL).

Each ingest batch rewrites the state row of every bin it carries, thousands of times a minute on a
small table. With pages left half empty the new version goes on the same page (a HOT update: no
index entry) and the old ones are pruned when the page is next read, so the table stays small and
fast between vacuums, even where autovacuum lags. Rewritten once here so existing pages get the room.
"""

from django.db import migrations


def fillfactor_set(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE telemetry_binstate SET (fillfactor = 30)")
        schema_editor.execute("CLUSTER telemetry_binstate USING telemetry_binstate_pkey")


def fillfactor_reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE telemetry_binstate RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0003_partitioned_readings")]

    operations = [migrations.RunPython(fillfactor_set, fillfactor_reset)]
