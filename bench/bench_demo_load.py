"""Benchmark: load the Nantong demo into a fresh SQLite database and time each stage.

    .venv/bin/python bench/bench_demo_load.py [--producers 1200]

Prints one JSON object: total seconds, seconds per stage, rows created, audit events and the
database size. Runs in a temporary GREENISLE_VAR_DIR, so the working database is not touched.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


class StageTimer:
    """A progress callback that adds up the time spent under each label."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._label = ""
        self._since = time.monotonic()

    def __call__(self, fraction: float, label: str) -> None:
        if label == self._label:
            return
        now = time.monotonic()
        if self._label:
            self.stages[self._label] = self.stages.get(self._label, 0.0) + now - self._since
        self._label, self._since = label, now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=1200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="greenisle-bench-") as var_dir:
        # Settings read the var directory at import: set it before Django starts.
        os.environ["GREENISLE_VAR_DIR"] = var_dir
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.core.management import call_command

        from greenisle.audit.models import Event
        from greenisle.audit.services import chain_verify
        from greenisle.demo.loading import demo_load

        started = time.monotonic()
        call_command("migrate", verbosity=0)
        migrate_s = time.monotonic() - started

        timer = StageTimer()
        summary = demo_load(producers=args.producers, progress=timer)
        verify_started = time.monotonic()
        broken = chain_verify()
        verify_s = time.monotonic() - verify_started
        database = Path(var_dir) / "greenisle.sqlite3"
        print(
            json.dumps(
                {
                    "benchmark": "demo_load",
                    "database": "sqlite",
                    "producers": args.producers,
                    "load_s": round(summary.seconds, 2),
                    "migrate_s": round(migrate_s, 2),
                    "stages_s": {
                        name.split(" ", 1)[-1]: round(value, 3) for name, value in timer.stages.items()
                    },
                    "counts": summary.counts,
                    "audit_events": Event.objects.count(),
                    "audit_verify_s": round(verify_s, 2),
                    "audit_chain_intact": broken is None,
                    "database_mb": round(
                        sum(p.stat().st_size for p in database.parent.glob("greenisle.sqlite3*")) / 1e6, 1
                    ),
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
