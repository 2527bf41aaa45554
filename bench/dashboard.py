"""Benchmark: the regulator's command-centre and statistics endpoints on a full-scale Nantong dataset.

    .venv/bin/python bench/dashboard.py [--producers 9100] [--bins 10000] [--reading-days 30]
                                        [--repeat 30] [--reuse]

Builds the dataset on PostgreSQL (database ``greenisle_bench_dashboard`` on 127.0.0.1 unless
``--database-url``): the Nantong demo at ``--producers`` (registry, a year and more of pickups,
onward shipments, ledgers, plans, declarations, findings from the sweeps), topped up to ``--bins``
bins, then ``--reading-days`` of 15-minute readings for every bin with their hourly rollups, written
by set-based SQL into the monthly partitions. A full year is 10,000 × 96 × 365 ≈ 350 million readings
(about 50 GB with the primary key); the default slice is one month. No command-centre or statistics
endpoint reads the raw readings or their rollups (the bins' hot state is one row per bin), and the
benchmark checks this: ``queries_touching_readings`` counts the endpoint queries that name either
table. Endpoint times therefore do not depend on how many readings are stored, which is the stated
extrapolation from the slice to the full year.

Each endpoint is requested ``--repeat`` times (after one warm-up) in-process through Django's test
client, logged in as the city bureau's inspector (the whole city: the largest scope), and once more
as a district inspector. Prints one JSON object: ``readings`` (rows in the dataset), the dataset's
counts, and ``endpoints``: path → ``p50_ms``, ``p95_ms``, ``queries`` (SQL statements per request).
Target: p95 ≤ 300 ms for every endpoint. The monthly report's PDF, a document for download whose time
goes to embedding a CJK font subset, is timed apart under ``documents`` (fewer repeats). ``--reuse``
keeps an existing dataset (only the timings run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/greenisle_bench_dashboard"
# API paths (under /api/v1) and page URL names that make up the command centre and its statistics.
API_PREFIXES = ("/api/v1/map", "/api/v1/statistics", "/api/v1/findings")
PAGES = (
    "web:regulator",
    "web:overview_json",
    "web:supervision_map",
    "web:statistics",
    "web:statistics_xlsx",
    "web:monthly_report",
    "web:monthly_report_xlsx",
    "web:findings",
    "web:regulator_obligations",
)
# Documents made for download, timed and printed apart (``documents``): the monthly report's PDF embeds
# a subset of a CJK font, which fpdf2 parses and subsets on every request; the 300 ms target is for
# the screens and the data they read.
DOCUMENTS = ("web:monthly_report_pdf",)


def _database_reset(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _bins_top_up(target: int, seed: int) -> int:
    """Give producers a second bin until there are ``target`` bins (the demo has one a producer)."""
    import random

    from greenisle.devices.models import Bin
    from greenisle.telemetry.models import BinState

    have = Bin.objects.count()
    if have >= target:
        return 0
    rng = random.Random(seed)
    templates = list(Bin.objects.prefetch_related("waste_codes").order_by("serial")[: target - have])
    now = dt.datetime.now(dt.UTC)
    fresh = [
        Bin(
            site_id=template.site_id,
            serial=f"{template.serial}-2",
            name=f"{template.name} 2",
            transport=template.transport,
            capacity_l=template.capacity_l,
            capacity_kg=template.capacity_kg,
            threshold_pct=template.threshold_pct,
            reporting_interval_s=template.reporting_interval_s,
            collector_id=template.collector_id,
            enabled=True,
        )
        for template in templates
    ]
    Bin.objects.bulk_create(fresh, batch_size=1000)
    through = Bin.waste_codes.through
    through.objects.bulk_create(
        [
            through(bin_id=b.pk, wastecode_id=code.pk)
            for b, template in zip(fresh, templates, strict=True)
            for code in template.waste_codes.all()
        ],
        batch_size=5000,
    )
    BinState.objects.bulk_create(
        [
            BinState(
                device=b,
                observed_at=now,
                received_at=now,
                transport=b.transport,
                fill_pct=round(rng.uniform(0, 100), 2),
            )
            for b in fresh
        ],
        batch_size=1000,
    )
    return len(fresh)


def _readings_write(days: int) -> tuple[int, int]:
    """``days`` of 15-minute readings for every bin up to now, and their hourly rollups (set-based SQL)."""
    from django.db import connection

    from greenisle.telemetry.partitions import partitions_ensure

    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    partitions_ensure(start.date(), end.date() + dt.timedelta(days=31))
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        day = start
        while day < end:
            upto = min(day + dt.timedelta(days=1), end)
            # A sawtooth fill per bin (phase from its id), one day per statement to keep memory flat.
            cursor.execute(
                """
                INSERT INTO telemetry_reading
                    (device_id, observed_at, device_time_raw, received_at, transport, fill_pct,
                     net_weight_kg, temperature_c, door_open, battery_pct, quality, sequence)
                SELECT b.id, ts, '', ts, b.transport,
                       round(((extract(epoch FROM ts) / 86400.0 + (hashtext(b.id::text) & 255))::numeric
                              %% 100), 2),
                       NULL, 20.0, false, 90.0, 'N', NULL
                FROM devices_bin b
                CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz - interval '15 minutes',
                                           interval '15 minutes') AS ts
                ON CONFLICT DO NOTHING
                """,
                [day, upto],
            )
            day = upto
        cursor.execute(
            """
            INSERT INTO telemetry_readinghourly
                (device_id, hour, readings, fill_min, fill_max, fill_avg, fill_last, weight_last_kg,
                 temperature_max_c, door_open_readings, faulty_readings)
            SELECT device_id, date_trunc('hour', observed_at), count(*), min(fill_pct), max(fill_pct),
                   round(avg(fill_pct), 2), max(fill_pct), NULL, max(temperature_c), 0, 0
            FROM telemetry_reading
            WHERE observed_at >= %s
            GROUP BY device_id, date_trunc('hour', observed_at)
            ON CONFLICT DO NOTHING
            """,
            [start],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM telemetry_reading")
        readings = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM telemetry_readinghourly")
        hourly = int(cursor.fetchone()[0])
    return readings, hourly


def _endpoints() -> list[str]:
    from django.urls import NoReverseMatch, reverse

    from greenisle.api.api import api

    paths: list[str] = []
    for path, item in api.get_openapi_schema()["paths"].items():
        if "get" in item and "{" not in path and path.startswith(API_PREFIXES):
            paths.append(path)
    for name in PAGES:
        try:
            paths.append(reverse(name))
        except NoReverseMatch:
            continue
    return sorted(set(paths))


def _time(client: Any, path: str, repeat: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(path)  # warm-up
    if response.status_code != 200:
        return {"status": response.status_code}
    samples: list[float] = []
    queries = 0
    touching = 0
    for n in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            samples.append((time.perf_counter() - started) * 1000)
        if n == 0:
            queries = len(captured.captured_queries)
            touching = sum(
                1
                for q in captured.captured_queries
                if "telemetry_reading" in q["sql"]  # also matches telemetry_readinghourly
            )
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))], 1),
        "queries": queries,
        "queries_touching_readings": touching,
        "bytes": len(response.content) if not getattr(response, "streaming", False) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=9100)
    parser.add_argument("--bins", type=int, default=10000)
    parser.add_argument("--reading-days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DASHBOARD_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reuse", action="store_true", help="keep the database; build only what is missing")
    parser.add_argument("--build-only", action="store_true", help="build the dataset, time nothing")
    args = parser.parse_args()

    if not args.reuse:
        _database_reset(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("GREENISLE_VAR_DIR", str(ROOT / "var" / "bench-dashboard"))
    Path(os.environ["GREENISLE_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from greenisle.accounts.models import User
    from greenisle.demo.loading import demo_load

    build: dict[str, Any] = {}
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    from greenisle.demo.loading import demo_is_loaded

    # Each step runs only if its part of the dataset is missing, so an interrupted build resumes.
    if not demo_is_loaded():
        summary = demo_load(producers=args.producers, seed=args.seed)
        build["demo_load_s"] = round(summary.seconds, 1)
    t = time.monotonic()
    build["bins_added"] = _bins_top_up(args.bins, args.seed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_reading")
        have = int(cursor.fetchone()[0])
    if have < 0.9 * args.bins * 96 * args.reading_days:
        _readings_write(args.reading_days)
        build["readings_s"] = round(time.monotonic() - t, 1)
    from greenisle.supervision.models import Finding

    if not Finding.objects.exists():
        t = time.monotonic()
        with open(os.devnull, "w") as sink:
            for command in ("ledger_maintain", "supervision_maintain"):
                call_command(command, stdout=sink)
        build["sweeps_s"] = round(time.monotonic() - t, 1)
    build["total_s"] = round(time.monotonic() - started, 1)
    if args.build_only:
        print(json.dumps({"benchmark": "dashboard", "build": build}))
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM telemetry_reading")
        readings = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM telemetry_readinghourly")
        hourly = int(cursor.fetchone()[0])
        cursor.execute("SELECT pg_database_size(current_database())")
        size_mb = round(int(cursor.fetchone()[0]) / 1e6)

    from greenisle.devices.models import Bin
    from greenisle.manifests.models import Manifest
    from greenisle.organizations.models import Organization
    from greenisle.supervision.models import Finding

    counts = {
        "producers": Organization.objects.filter(kind="producer").count(),
        "bins": Bin.objects.count(),
        "manifests": Manifest.objects.count(),
        "findings": Finding.objects.count(),
        "hourly_rollups": hourly,
    }
    city = User.objects.get(username="city")
    district = User.objects.get(username="inspector")
    from django.urls import reverse

    results: dict[str, Any] = {}
    documents: dict[str, Any] = {}
    worst = 0.0
    with override_settings(ALLOWED_HOSTS=["*"], DEBUG=False):
        for label, user in (("city", city), ("district", district)):
            client = Client()
            client.force_login(user)
            for path in _endpoints():
                figures = _time(client, path, args.repeat)
                key = path if label == "city" else f"{path} (district)"
                results[key] = figures
                worst = max(worst, figures.get("p95_ms", 0.0))
            for name in DOCUMENTS:
                path = reverse(name)
                documents[path if label == "city" else f"{path} (district)"] = _time(
                    client, path, max(5, args.repeat // 3)
                )
    print(
        json.dumps(
            {
                "benchmark": "dashboard",
                "database": "postgresql",
                "readings": readings,
                "reading_days": args.reading_days,
                "readings_full_year_estimate": counts["bins"] * 96 * 365,
                "database_mb": size_mb,
                "counts": counts,
                "build": build,
                "repeat": args.repeat,
                "target_p95_ms": 300,
                "worst_p95_ms": worst,
                "queries_touching_readings": sum(
                    r.get("queries_touching_readings", 0) for r in results.values()
                ),
                "endpoints": results,
                "documents": documents,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
