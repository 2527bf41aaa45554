"""``greenisle ledger_maintain``: ledger upkeep — storage limits and the mass balance."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from greenisle.core.periodic import run_every
from greenisle.ledger.balance import mass_balance_sweep
from greenisle.ledger.storage import storage_sweep

# The sweeps, in order: (name in the report, sweep). Add a ledger sweep here; each takes ``now`` and
# returns its counts.
STEPS: list[tuple[str, Callable[..., dict[str, int]]]] = [
    # 固废法 Art. 81 one year, 90 working days of a collection licence, local caps (StoragePolicy).
    ("storage", storage_sweep),
    # Ledger vs containers vs manifests per waste code (MASS_BALANCE_TOLERANCE_PCT/KG).
    ("mass_balance", mass_balance_sweep),
]


class Command(BaseCommand):
    help = (
        "台账巡检 / Ledger upkeep: storage limits (固废法 Art. 81: one year; 90 working days for a collection "
        "licence; local caps) and the mass balance, with reminders and findings (once, or --every N s "
        "until SIGTERM)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until stopped")

    def handle(self, *args: Any, every: float, **options: Any) -> None:
        def step() -> None:
            now = timezone.now()
            report: dict[str, Any] = {"at": now.isoformat()}
            for name, sweep in STEPS:
                report[name] = sweep(now=now)
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            self.stdout.flush()

        run_every(every, step)
