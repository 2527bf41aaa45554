"""What the senders share: the per-transport :class:`Counters` and two small helpers."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from greenisle.demo.fill import Emission

__all__ = ["TRANSPORTS", "Counters", "TransportCounts", "by_bin", "short_error"]

TRANSPORTS = ("http", "mqtt", "hj212")


@dataclasses.dataclass
class TransportCounts:
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    bad: int = 0
    opened: int = 0

    def __sub__(self, other: TransportCounts) -> TransportCounts:
        return TransportCounts(
            **{f.name: getattr(self, f.name) - getattr(other, f.name) for f in dataclasses.fields(self)}
        )


class Counters:
    """Per-transport counts and the latest problem per transport, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {t: TransportCounts() for t in TRANSPORTS}
        self._problems: dict[str, str] = {}

    def add(self, transport: str, **fields: int) -> None:
        with self._lock:
            counts = self._counts[transport]
            for name, value in fields.items():
                setattr(counts, name, getattr(counts, name) + value)

    def problem(self, transport: str, message: str) -> None:
        with self._lock:
            self._problems[transport] = message[:300]

    def snapshot(self) -> dict[str, TransportCounts]:
        with self._lock:
            return {t: dataclasses.replace(c) for t, c in self._counts.items()}

    def take_problems(self) -> dict[str, str]:
        with self._lock:
            problems, self._problems = self._problems, {}
            return problems


def by_bin(emissions: Sequence[Emission]) -> dict[str, list[Emission]]:
    grouped: dict[str, list[Emission]] = {}
    for emission in emissions:
        if emission.reading is not None:
            grouped.setdefault(emission.bin.serial, []).append(emission)
    return grouped


def short_error(exc: BaseException) -> str:
    """The innermost reason: requests' messages repeat the whole pool state."""
    reason: BaseException = exc
    while reason.__context__ is not None and reason.__context__ is not reason:
        reason = reason.__context__
    return f"{type(exc).__name__}: {(str(reason) or type(reason).__name__)[:160]}"
