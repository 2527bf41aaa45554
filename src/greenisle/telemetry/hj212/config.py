"""Configuration and counters of the HJ 212 listener (:mod:`.server`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from greenisle.telemetry.hj212.bins import DEFAULT_BIN_METRICS, BinMetricMap

__all__ = ["ListenerConfig", "ListenerStats", "config_from_settings", "metrics_from_settings"]


@dataclasses.dataclass(frozen=True)
class ListenerConfig:
    """Tunables; :func:`config_from_settings` fills host, port and metrics from ``settings.GREENISLE``."""

    host: str = "127.0.0.1"
    port: int = 9212
    metrics: BinMetricMap = DEFAULT_BIN_METRICS
    #: Flush when this many readings (and rejections) are queued …
    max_batch: int = 1000
    #: … or this many seconds after the oldest of them arrived.
    max_delay: float = 0.02
    #: Close a connection that sent nothing for this long (seconds).
    idle_timeout: float = 600.0
    #: How long a device looked up in the database is trusted before it is refreshed (seconds).
    directory_ttl: float = 30.0
    #: How long an unknown MN is remembered as unknown (seconds).
    negative_ttl: float = 10.0
    #: After a failed lookup (database down), packets of that MN are dropped unanswered this long.
    unavailable_ttl: float = 1.0
    #: Stop reading a connection while this many of its packets wait for a commit or a lookup.
    max_pending_per_connection: int = 100
    #: Stop reading every connection while this many readings are queued (the database is behind).
    max_queued: int = 50_000
    #: After a failed commit, wait this long before the next one (seconds).
    retry_delay: float = 0.25
    #: Log the counters at INFO this often (seconds); 0 turns the periodic line off.
    stats_interval: float = 60.0
    max_frame: int = 10_000
    backlog: int = 2048
    max_directory_entries: int = 200_000
    max_refusal_identifiers: int = 10_000


def metrics_from_settings() -> BinMetricMap:
    """The bin-metric convention of ``settings.GREENISLE["HJ212_METRICS"]`` (protocols.md 1.8)."""
    configured: Mapping[str, Any] = settings.GREENISLE.get("HJ212_METRICS") or {}
    names = {f.name for f in dataclasses.fields(BinMetricMap)}
    values = {key: value for key, value in configured.items() if key in names}
    if "data_cns" in values:
        values["data_cns"] = frozenset(values["data_cns"])
    return BinMetricMap(**values)


def config_from_settings(**overrides: Any) -> ListenerConfig:
    base: dict[str, Any] = {
        "host": settings.GREENISLE["HJ212_HOST"],
        "port": settings.GREENISLE["HJ212_PORT"],
        "metrics": metrics_from_settings(),
    }
    base.update({key: value for key, value in overrides.items() if value is not None})
    return ListenerConfig(**base)


@dataclasses.dataclass
class ListenerStats:
    """Counters since start. ``packets`` counts decoded packets; ``decode_errors`` frames (or skipped
    bytes) that did not decode; ``dropped`` packets not handled because the database was unreachable."""

    connections: int = 0
    open_connections: int = 0
    packets: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    refused: int = 0
    decode_errors: int = 0
    answers: int = 0
    batches: int = 0
    batch_failures: int = 0
    dropped: int = 0
    nonstandard_crc: int = 0
    idle_closed: int = 0
    #: Wall time spent in the ingest thread (commits and refusal counts), milliseconds.
    commit_ms: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)
