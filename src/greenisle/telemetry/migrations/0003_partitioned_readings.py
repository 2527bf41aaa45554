import datetime as dt

import django.db.models.deletion
from django.db import migrations, models

from greenisle.telemetry import partitions


def create_reading_table(apps, schema_editor):
    partitions.create_table(schema_editor, apps.get_model("telemetry", "Reading"))


def drop_reading_table(apps, schema_editor):
    schema_editor.execute("DROP TABLE telemetry_reading")


def copy_readings(apps, schema_editor):
    connection = schema_editor.connection
    today = dt.datetime.now(dt.UTC).date()
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(observed_at), MAX(observed_at) FROM telemetry_legacyreading")
        low, high = cursor.fetchone()
    if isinstance(low, str):  # SQLite
        low, high = dt.date.fromisoformat(low[:10]), dt.date.fromisoformat(high[:10])
    elif low is not None:
        low, high = low.date(), high.date()
    start = min(low or today, today - dt.timedelta(days=62))
    end = max(high or today, today + dt.timedelta(days=92))
    partitions.partitions_ensure(start, end, connection)
    schema_editor.execute(
        "INSERT INTO telemetry_reading (device_id, observed_at, device_time_raw, received_at, transport, "
        "fill_pct, net_weight_kg, temperature_c, door_open, battery_pct, quality, sequence) "
        "SELECT device_id, observed_at, device_time_raw, received_at, transport, fill_pct, net_weight_kg, "
        "temperature_c, door_open, battery_pct, 'N', sequence FROM telemetry_legacyreading"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0002_bin_transport_credentials"),
        ("telemetry", "0002_legacy_reading"),
    ]

    operations = [
        migrations.CreateModel(
            name="RollupWatermark",
            fields=[
                ("name", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("received_before", models.DateTimeField()),
            ],
        ),
        migrations.RenameField("binstate", "readings_accepted", "accepted"),
        migrations.RenameField("binstate", "readings_duplicate", "duplicate"),
        migrations.AlterField(
            model_name="binstate",
            name="accepted",
            field=models.PositiveBigIntegerField(default=0, verbose_name="accepted"),
        ),
        migrations.AddField(
            model_name="binstate",
            name="door_opened_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="binstate",
            name="duplicate",
            field=models.PositiveBigIntegerField(default=0, verbose_name="duplicate"),
        ),
        migrations.AddField(
            model_name="binstate",
            name="fill_rate_pct_per_day",
            field=models.FloatField(blank=True, null=True, verbose_name="fill rate (%/day)"),
        ),
        migrations.AddField(
            model_name="binstate",
            name="forecast_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="binstate",
            name="last_rejected_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="binstate",
            name="last_rejected_reason",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="binstate",
            name="offline_since",
            field=models.DateTimeField(blank=True, null=True, verbose_name="offline since"),
        ),
        migrations.AddField(
            model_name="binstate",
            name="predicted_full_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="predicted to reach threshold"),
        ),
        migrations.AddField(
            model_name="binstate",
            name="quality",
            field=models.CharField(default="N", max_length=1),
        ),
        migrations.AddField(
            model_name="binstate",
            name="received_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="binstate",
            name="rejected",
            field=models.PositiveBigIntegerField(default=0, verbose_name="rejected"),
        ),
        migrations.AddField(
            model_name="binstate",
            name="transport",
            field=models.CharField(
                blank=True,
                choices=[("http", "HTTP JSON"), ("mqtt", "MQTT"), ("hj212", "HJ 212 over TCP")],
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="binstate",
            name="fill_pct",
            field=models.DecimalField(decimal_places=2, max_digits=5, null=True),
        ),
        migrations.AlterField(
            model_name="binstate",
            name="observed_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.CreateModel(
            name="Alert",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("offline", "offline"),
                            ("door_open", "door open too long"),
                            ("temperature", "temperature over limit"),
                        ],
                        max_length=20,
                        verbose_name="kind",
                    ),
                ),
                ("opened_at", models.DateTimeField(verbose_name="opened at")),
                ("cleared_at", models.DateTimeField(blank=True, null=True, verbose_name="cleared at")),
                ("value", models.CharField(blank=True, max_length=60, verbose_name="value")),
                ("detail", models.CharField(blank=True, max_length=200, verbose_name="detail")),
                (
                    "device",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="alerts", to="devices.bin"
                    ),
                ),
            ],
            options={
                "verbose_name": "device alert",
                "verbose_name_plural": "device alerts",
                "ordering": ["-opened_at"],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Reading",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "device",
                                "observed_at",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("observed_at", models.DateTimeField(verbose_name="observed at")),
                        ("device_time_raw", models.CharField(blank=True, max_length=40)),
                        ("received_at", models.DateTimeField(verbose_name="received at")),
                        (
                            "transport",
                            models.CharField(
                                choices=[
                                    ("http", "HTTP JSON"),
                                    ("mqtt", "MQTT"),
                                    ("hj212", "HJ 212 over TCP"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "fill_pct",
                            models.DecimalField(
                                blank=True, decimal_places=2, max_digits=5, null=True, verbose_name="fill (%)"
                            ),
                        ),
                        (
                            "net_weight_kg",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                max_digits=9,
                                null=True,
                                verbose_name="net weight (kg)",
                            ),
                        ),
                        (
                            "temperature_c",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                max_digits=5,
                                null=True,
                                verbose_name="temperature (°C)",
                            ),
                        ),
                        ("door_open", models.BooleanField(blank=True, null=True, verbose_name="door open")),
                        (
                            "battery_pct",
                            models.DecimalField(
                                blank=True,
                                decimal_places=2,
                                max_digits=5,
                                null=True,
                                verbose_name="battery (%)",
                            ),
                        ),
                        ("quality", models.CharField(default="N", max_length=1, verbose_name="quality")),
                        ("sequence", models.BigIntegerField(blank=True, null=True)),
                        (
                            "device",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="readings",
                                to="devices.bin",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "reading",
                        "verbose_name_plural": "readings",
                        "ordering": ["device", "-observed_at"],
                    },
                ),
            ],
            database_operations=[],
        ),
        # After the state exists, so that the function sees the model.
        migrations.RunPython(create_reading_table, drop_reading_table),
        migrations.RunPython(copy_readings, migrations.RunPython.noop),
        migrations.CreateModel(
            name="ReadingHourly",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "device", "hour", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("hour", models.DateTimeField(verbose_name="hour (UTC)")),
                ("readings", models.PositiveIntegerField()),
                ("fill_min", models.DecimalField(decimal_places=2, max_digits=5, null=True)),
                ("fill_max", models.DecimalField(decimal_places=2, max_digits=5, null=True)),
                ("fill_avg", models.DecimalField(decimal_places=2, max_digits=5, null=True)),
                ("fill_last", models.DecimalField(decimal_places=2, max_digits=5, null=True)),
                ("weight_last_kg", models.DecimalField(decimal_places=2, max_digits=9, null=True)),
                ("temperature_max_c", models.DecimalField(decimal_places=2, max_digits=5, null=True)),
                ("door_open_readings", models.PositiveIntegerField(default=0)),
                ("faulty_readings", models.PositiveIntegerField(default=0)),
                (
                    "device",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="hourly",
                        to="devices.bin",
                    ),
                ),
            ],
            options={
                "verbose_name": "hourly reading",
                "verbose_name_plural": "hourly readings",
                "ordering": ["device", "-hour"],
            },
        ),
        migrations.CreateModel(
            name="RefusedDevice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "transport",
                    models.CharField(
                        choices=[("http", "HTTP JSON"), ("mqtt", "MQTT"), ("hj212", "HJ 212 over TCP")],
                        max_length=10,
                    ),
                ),
                ("identifier", models.CharField(max_length=100)),
                ("refused", models.PositiveBigIntegerField(default=0)),
                ("first_refused_at", models.DateTimeField()),
                ("last_refused_at", models.DateTimeField()),
                ("last_reason", models.CharField(max_length=200)),
                ("last_peer", models.CharField(blank=True, max_length=100)),
            ],
            options={
                "verbose_name": "refused device",
                "verbose_name_plural": "refused devices",
                "ordering": ["-last_refused_at"],
                "constraints": [
                    models.UniqueConstraint(fields=("transport", "identifier"), name="uniq_refused_device")
                ],
            },
        ),
        migrations.DeleteModel(
            name="LegacyReading",
        ),
        migrations.AddConstraint(
            model_name="alert",
            constraint=models.UniqueConstraint(
                condition=models.Q(("cleared_at__isnull", True)),
                fields=("device", "kind"),
                name="uniq_open_alert_per_kind",
            ),
        ),
        migrations.AddIndex(
            model_name="readinghourly",
            index=models.Index(fields=["hour"], name="telemetry_hourly_hour"),
        ),
    ]
