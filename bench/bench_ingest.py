"""Ingest throughput: readings per second through the one ingest path and through HTTP JSON.

Runs on a throw-away database (SQLite in a temp dir unless DATABASE_URL is set) and prints one
JSON object. Usage: .venv/bin/python bench/bench_ingest.py [--bins 200] [--readings 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bins", type=int, default=200)
    parser.add_argument("--readings", type=int, default=2000)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="greenisle-bench-")
    os.environ.setdefault("GREENISLE_VAR_DIR", tmp)
    os.environ["GREENISLE_ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["GREENISLE_LOG_LEVEL"] = "ERROR"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from greenisle.catalog.models import WasteCode
    from greenisle.devices.models import Bin
    from greenisle.dispatch.models import PickupRequest
    from greenisle.organizations.identifiers import uscc_with_check_digit
    from greenisle.organizations.models import Organization, Site
    from greenisle.telemetry.services import reading_ingest, reading_validate

    call_command("migrate", verbosity=0)
    producer = Organization.objects.create(
        kind="producer",
        name="基准产废单位",
        division_id="320602",
        uscc=uscc_with_check_digit("91320602B00000001"),
    )
    collector = Organization.objects.create(
        kind="collector",
        name="基准收集单位",
        division_id="320602",
        uscc=uscc_with_check_digit("91320602B00000002"),
    )
    site = Site.objects.create(
        organization=producer,
        name="厂区",
        address="崇川区",
        latitude=32.0,
        longitude=120.86,
        division_id="320602",
    )
    code = WasteCode.objects.current().get(code="900-041-49")
    bins, keys = [], []
    for i in range(args.bins):
        b = Bin(
            serial=f"BENCH{i:05d}",
            name="bench",
            site=site,
            collector=collector,
            capacity_l=240,
            capacity_kg=200,
        )
        keys.append(b.rotate_key())
        b.save()
        b.waste_codes.add(code)
        bins.append(b)

    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    per_bin = max(1, args.readings // args.bins)

    def reading(i: int, j: int) -> dict[str, object]:
        return {
            "observed_at": start + dt.timedelta(seconds=60 * j + i % 60),
            "fill_pct": min(100.0, 5 + j * (90 / per_bin)),
            "net_weight_kg": 12.5,
            "temperature_c": 21.0,
            "door_open": False,
            "battery_pct": 90.0,
        }

    tracemalloc.start()
    t0 = time.perf_counter()
    n = 0
    for j in range(per_bin):
        for i, b in enumerate(bins):
            reading_ingest(device=b, reading=reading_validate(**reading(i, j)), transport="http")
            n += 1
    service_s = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    client = Client()
    t0 = time.perf_counter()
    m = 0
    for j in range(per_bin, per_bin + max(1, per_bin // 4)):
        for i, _b in enumerate(bins):
            body = reading(i, j)
            body["observed_at"] = body["observed_at"].isoformat()  # type: ignore[union-attr]
            body["fill_pct"] = 3.0
            response = client.post(
                "/api/v1/readings",
                data=json.dumps(body),
                content_type="application/json",
                HTTP_X_DEVICE_KEY=keys[i],
            )
            assert response.status_code == 201, response.content
            m += 1
    http_s = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "database": connection.vendor,
                "bins": args.bins,
                "service_readings": n,
                "service_readings_per_s": round(n / service_s, 1),
                "service_peak_python_mem_mb": round(peak / 1e6, 2),
                "http_readings": m,
                "http_readings_per_s": round(m / http_s, 1),
                "pickup_requests_opened": PickupRequest.objects.count(),
            }
        )
    )


if __name__ == "__main__":
    main()
