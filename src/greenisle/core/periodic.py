"""The loop of the upkeep commands (``--every N``): run a step, wait, repeat until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from django.core.management.base import CommandError
from django.db import close_old_connections


def run_every(every: float, step: Callable[[], None]) -> None:
    """Run ``step`` once, or every ``every`` seconds until the process is asked to stop. A database
    connection that broke or aged while waiting is not reused."""
    if every < 0:
        raise CommandError("--every ≥ 0")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while True:
        step()
        if not every or stop.wait(every):
            return
        close_old_connections()
