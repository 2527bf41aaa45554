"""The HJ 212 listener's device directory: MN → (bin id, PW hash, CRC variant, enabled).

It is an in-memory cache with a TTL (``directory_ttl``, 30 s) over the ``Bin`` table: a miss is looked
up in the database in a batch with the other misses of that moment (the connection's later packets wait
behind it, so order is kept), an expired entry is served while it is refreshed in the background, and
unknown MNs are cached too (``negative_ttl``, 10 s) so that a stranger cannot make us query the database
per packet. When a lookup fails (database down) the MNs it was for are :data:`UNAVAILABLE` for
``unavailable_ttl``; known devices keep their stale entries.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import uuid
from collections.abc import Callable
from typing import Final

from django.db import close_old_connections

from greenisle.devices.models import Bin
from greenisle.telemetry.hj212.config import ListenerConfig
from greenisle.telemetry.hj212.crc import CrcMode

__all__ = ["DeviceEntry"]

# The listener's logger keeps the name of the single module it grew out of, so log filters still match.
_log = logging.getLogger("greenisle.telemetry.hj212")


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceEntry:
    device_id: uuid.UUID
    pw_hash: str
    crc_mode: str
    enabled: bool


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Not in the directory (or expired and unknown): look it up.
MISS: Final = _Sentinel("MISS")
#: The last lookup failed (database down): drop the packet, the device resends.
UNAVAILABLE: Final = _Sentinel("UNAVAILABLE")

Lookup = DeviceEntry | None | _Sentinel


def load_devices(mns: list[str]) -> dict[str, DeviceEntry]:
    """The devices among ``mns`` (runs in the directory thread)."""
    close_old_connections()
    found: dict[str, DeviceEntry] = {}
    try:
        for start in range(0, len(mns), 500):
            rows = (
                Bin.objects.filter(hj212_mn__in=mns[start : start + 500])
                .order_by()
                .values_list("hj212_mn", "pk", "hj212_pw_hash", "hj212_crc_mode", "enabled")
            )
            for mn, pk, pw_hash, crc_mode, enabled in rows:
                found[mn] = DeviceEntry(pk, pw_hash or "", crc_mode or CrcMode.STANDARD.value, enabled)
    finally:
        close_old_connections()
    return found


class Directory:
    """MN → DeviceEntry with a TTL. Misses are looked up in rounds: every MN wanted while a round is in
    flight goes into the next one (one query for all of them)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: concurrent.futures.Executor,
        config: ListenerConfig,
        load: Callable[[list[str]], dict[str, DeviceEntry]] = load_devices,
    ) -> None:
        self._loop = loop
        self._executor = executor
        self._config = config
        self._load = load
        self._entries: dict[str, tuple[float, DeviceEntry | None | _Sentinel]] = {}
        self._next: set[str] = set()
        self._next_future: asyncio.Future[None] | None = None
        self._inflight: set[str] = set()
        self._inflight_future: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    def get(self, mn: str) -> Lookup:
        hit = self._entries.get(mn)
        if hit is None:
            return MISS
        expires, entry = hit
        if self._loop.time() < expires:
            return entry
        if isinstance(entry, DeviceEntry):
            # Stale but known: serve it and refresh in the background (no stall for a known device).
            self._want(mn)
            return entry
        return MISS

    def load(self, mn: str) -> asyncio.Future[None]:
        """A future that is done once ``mn`` has been looked up (never fails)."""
        if mn in self._inflight and self._inflight_future is not None:
            return self._inflight_future
        return self._want(mn)

    def _want(self, mn: str) -> asyncio.Future[None]:
        self._next.add(mn)
        if self._next_future is None:
            self._next_future = self._loop.create_future()
        future = self._next_future
        if self._task is None:
            self._task = self._loop.create_task(self._rounds())
        return future

    async def _rounds(self) -> None:
        try:
            while self._next:
                mns, self._next = self._next, set()
                future, self._next_future = self._next_future, None
                self._inflight, self._inflight_future = mns, future
                await self._round(sorted(mns))
                self._inflight, self._inflight_future = set(), None
                if future is not None and not future.done():
                    future.set_result(None)
        finally:
            self._task = None

    async def _round(self, mns: list[str]) -> None:
        try:
            found = await self._loop.run_in_executor(self._executor, self._load, mns)
        except Exception:
            _log.exception(
                "HJ 212 设备查询失败，%d 个 MN 的报文暂不处理 / HJ 212 device lookup failed; "
                "packets of %d MNs are dropped unanswered for now",
                len(mns),
                len(mns),
            )
            until = self._loop.time() + self._config.unavailable_ttl
            for mn in mns:
                hit = self._entries.get(mn)
                # A known device stays usable on its stale entry; only the unknown ones are unavailable.
                if hit is None or not isinstance(hit[1], DeviceEntry):
                    self._entries[mn] = (until, UNAVAILABLE)
            return
        now = self._loop.time()
        for mn in mns:
            entry = found.get(mn)
            ttl = self._config.directory_ttl if entry is not None else self._config.negative_ttl
            self._entries[mn] = (now + ttl, entry)
        if len(self._entries) > self._config.max_directory_entries:
            self._prune(now)

    def _prune(self, now: float) -> None:
        self._entries = {mn: hit for mn, hit in self._entries.items() if hit[0] > now}
        if len(self._entries) > self._config.max_directory_entries:
            self._entries = {mn: hit for mn, hit in self._entries.items() if isinstance(hit[1], DeviceEntry)}

    async def drain(self) -> None:
        """Wait for the lookups in flight and those queued behind them."""
        while self._task is not None:
            await asyncio.shield(self._task)
