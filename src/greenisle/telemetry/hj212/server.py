"""HJ 212 TCP listener: data loggers connect, upload bin readings, and get their 9014 after the commit.

Design (protocols.md section 1 is our summary of the standard):

- **Transport.** One asyncio TCP server built on :class:`asyncio.Protocol` (no streams), on uvloop when it
  is importable. Per connection a :class:`~greenisle.telemetry.hj212.framing.Deframer` splits the byte
  stream (HJ 212-2017 6.3.1/6.3.2, Table 2) and every frame is decoded on its own: a malformed frame is
  counted and skipped and never closes the connection or touches its other frames; an error on one
  connection never touches another. Connections idle for ``idle_timeout`` (10 min) are closed.
- **CRC (Appendix A).** Frames are decoded accepting every CRC variant; the standard "ANSI CRC16" is
  always accepted, a Modbus variant only when the device's ``hj212_crc_mode`` names it (protocols.md
  1.6). A variant the device is not configured for is rejected and counted against the device. A frame
  whose CRC verifies in no variant is a decode error: nothing in it can be trusted, so it is counted
  against the device the connection last authenticated as, if any, and never answered (6.5: on a CRC
  error the exchange ends). Answers to a device on a Modbus variant carry that variant's CRC, since
  such a device checks what it receives with the same function.
- **Devices.** MN → (bin id, PW hash, CRC variant, enabled) comes from the device directory
  (:mod:`.directory`: an in-memory cache with a TTL, batched database lookups). PW is compared as SHA-256
  digests with ``secrets.compare_digest``. Unknown MN, wrong PW and disabled devices are refused: counted
  in memory per MN and written to ``RefusedDevice`` with the next batch (one upsert per MN, not one per
  packet), and not answered, since HJ 212 has no negative answer to an upload (6.5, protocols.md 1.5).
- **Readings.** Packets whose CN is one of the metric map's data CNs (2011/2051/2061/3020 by default)
  become a :class:`~greenisle.telemetry.hj212.bins.BinSample` and then a ``ReadingIn`` through
  ``reading_validate`` (fill not required: a door event carries none). A bad value or time is a
  ``Rejection`` counted against the device, and is not answered. Heartbeats (9015) and other commands
  are answered when ``reply_for`` says so (Flag bit A, 6.1/6.5: 9014 data answer, 9013 notice answer)
  and store nothing.
- **Batching and answers after commit.** Readings from all connections go to one queue. A flush runs
  ``ingest_batch`` (one transaction, committed when it returns) in a single worker thread when 1,000
  items are queued or 20 ms after the oldest one arrived; flushes run one at a time and readings keep
  arriving meanwhile. Only after ``ingest_batch`` returned are the 9014 answers of the packets it
  accepted (or found already stored: a retry) written, to connections that are still open. If it
  raises (database down), nothing of that batch is answered, the devices resend after their timeout
  (HJ 212-2017 Table 1: 3 retries; a resent reading already stored is a duplicate and is answered),
  the next commit waits ``retry_delay`` and the listener keeps serving. A device that half-closes its
  side still gets the answers it is waiting for. Stopping flushes and answers what is pending.
- **Back-pressure.** A connection stops being read while it has ``max_pending_per_connection``
  packets waiting for a commit or a directory lookup, while its answers are not being read by the
  device (transport write buffer full) or while the global queue holds ``max_queued`` readings.
- **Stats.** Counters (connections, packets, accepted, duplicate, rejected, refused, decode errors,
  answers, …) are logged at INFO every ``stats_interval`` seconds and once at shutdown.

This module holds the connection protocol and :class:`Hj212Listener` (``port`` is the bound port once
it listens). :mod:`.config` has its settings and counters, and :mod:`.runner` the entry points
(:func:`~.runner.serve`, :func:`~.runner.run`, :class:`~.runner.ListenerThread`) used by the
``greenisle hj212_listener`` management command, tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import logging
import re
import secrets
import typing
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final

from django.db import close_old_connections, connections

from greenisle.core.errors import ServiceError
from greenisle.devices.models import Transport, hash_device_key
from greenisle.telemetry.hj212.bins import bin_sample
from greenisle.telemetry.hj212.codec import DecodeError, Packet, decode_frame, reply_for
from greenisle.telemetry.hj212.config import ListenerConfig, ListenerStats
from greenisle.telemetry.hj212.crc import CrcMode, crc16_hj212, crc16_modbus
from greenisle.telemetry.hj212.directory import (
    MISS,
    UNAVAILABLE,
    DeviceEntry,
    Directory,
    Lookup,
    load_devices,
)
from greenisle.telemetry.hj212.framing import Deframer
from greenisle.telemetry.ingest import IngestOutcome, Rejection, ingest_batch
from greenisle.telemetry.services import refusal_record
from greenisle.telemetry.validation import ReadingIn, reading_validate

__all__ = ["Hj212Listener"]

# The listener's logger keeps the name of the single module it grew out of, so log filters still match.
_log = logging.getLogger("greenisle.telemetry.hj212")

TRANSPORT: Final = Transport.HJ212.value
_ALL_CRC_MODES: Final = tuple(CrcMode)
# What a stored MN can look like (devices.models.validate_hj212_mn); anything else is refused unlooked-up.
_MN_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ANSWERED_STATUSES: Final = frozenset({"accepted", "duplicate"})
_ERROR_FIELDS: Final = {"bad_datatime": "observed_at", "bad_value": "value", "bad_crc": "crc"}
# Refusals beyond this many distinct identifiers per flush are counted under one catch-all identifier.
_OVERFLOW_IDENTIFIER: Final = "(其他 / other)"


# --------------------------------------------------------------------------------------------------------
# Connections


class _Connection(asyncio.Protocol):
    """One data logger's TCP connection; everything but the byte handling lives in the listener."""

    __slots__ = (
        "closed",
        "deframer",
        "device_id",
        "eof",
        "last_rx",
        "listener",
        "peer",
        "pending",
        "read_paused",
        "transport",
        "waiting",
        "write_paused",
    )

    def __init__(self, listener: Hj212Listener) -> None:
        self.listener = listener
        self.deframer = Deframer(listener.config.max_frame)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.device_id: uuid.UUID | None = None
        self.pending = 0  # packets queued for a commit, not yet answered
        self.waiting: collections.deque[Packet] = collections.deque()  # waiting for a directory lookup
        self.closed = False
        self.eof = False
        self.read_paused = False
        self.write_paused = False
        self.last_rx = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport implements asyncio.Transport without subclassing it.
        self.transport = typing.cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer or "")
        self.listener._connection_made(self)

    def data_received(self, data: bytes) -> None:
        listener = self.listener
        self.last_rx = listener.loop.time()
        try:
            listener._frames(self, self.deframer.feed(data))
        except Exception:  # pragma: no cover - a safety net: one bad packet must not end the connection
            _log.exception("HJ 212 报文处理出错 / unexpected error handling HJ 212 data from %s", self.peer)

    def eof_received(self) -> bool | None:
        # The device half-closed: keep our side open until the answers it still waits for are written.
        self.eof = True
        listener = self.listener
        try:
            listener._frames(self, self.deframer.flush())
        except Exception:  # pragma: no cover - see data_received
            _log.exception("HJ 212 报文处理出错 / unexpected error handling HJ 212 data from %s", self.peer)
        return bool(self.pending or self.waiting)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        listener = self.listener
        try:
            listener._frames(self, self.deframer.flush())
        except Exception:  # pragma: no cover - see data_received
            _log.exception("HJ 212 报文处理出错 / unexpected error handling HJ 212 data from %s", self.peer)
        listener._connection_lost(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.listener._flow(self)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.listener._flow(self)


# --------------------------------------------------------------------------------------------------------
# The listener

_Item = tuple[_Connection, uuid.UUID, ReadingIn, bytes | None]


def _with_crc(frame: bytes, mode: CrcMode) -> bytes:
    """``frame`` (as ``encode_frame`` builds it: standard CRC, CRLF) with the CRC of ``mode`` instead: a
    device that computes a Modbus variant checks our answers with the same function."""
    segment = frame[6:-6]
    if mode is CrcMode.STANDARD:
        crc = crc16_hj212(segment)
    else:
        crc = crc16_modbus(segment)
        if mode is CrcMode.MODBUS_SWAPPED:
            crc = (crc & 0xFF) << 8 | crc >> 8
    return b"%b%b%04X\r\n" % (frame[:6], segment, crc)


def _store(
    items: list[tuple[uuid.UUID, ReadingIn]],
    rejections: list[Rejection],
    refusals: dict[str, list[Any]],
) -> list[IngestOutcome]:
    """One flush (runs in the ingest thread): the batch, then the refusal counts."""
    close_old_connections()
    try:
        if items or rejections:
            return ingest_batch(items, transport=TRANSPORT, rejections=rejections)
        return []
    finally:
        for identifier, (count, reason, peer) in refusals.items():
            try:
                refusal_record(
                    transport=TRANSPORT, identifier=identifier, reason=reason, peer=peer, count=count
                )
            except Exception:
                _log.exception(
                    "记录拒收设备失败 / could not record %d refused HJ 212 packets from %s", count, identifier
                )
        close_old_connections()


def _close_db() -> None:
    connections.close_all()


class Hj212Listener:
    """The HJ 212 server. ``await listener.run(ready=…, stop=…)``; ``port`` is the bound port once
    ``ready`` is set. ``store`` and ``directory_load`` are the database calls (replaceable in tests)."""

    def __init__(
        self,
        config: ListenerConfig | None = None,
        *,
        store: Callable[
            [list[tuple[uuid.UUID, ReadingIn]], list[Rejection], dict[str, list[Any]]], list[IngestOutcome]
        ] = _store,
        directory_load: Callable[[list[str]], dict[str, DeviceEntry]] = load_devices,
    ) -> None:
        self.config = config or ListenerConfig()
        self.stats = ListenerStats()
        self.port: int | None = None
        self._store = store
        self._directory_load = directory_load
        self._connections: set[_Connection] = set()
        self._queue: list[_Item] = []
        self._rejections: list[Rejection] = []
        self._refusals: dict[str, list[Any]] = {}
        self._due: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._paused: set[_Connection] = set()
        self._draining = False
        self._retry_at = 0.0
        self._failure_logged_at = -1e9
        self._failures_unlogged = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.loop: asyncio.AbstractEventLoop

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self, *, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self._ingest_executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hj212-ingest")
        self._directory_executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="hj212-dir")
        self._directory = Directory(self.loop, self._directory_executor, self.config, self._directory_load)
        stop = stop or asyncio.Event()
        try:
            self._server = await self.loop.create_server(
                lambda: _Connection(self),
                self.config.host,
                self.config.port,
                backlog=self.config.backlog,
                reuse_address=True,
            )
            self.port = self._server.sockets[0].getsockname()[1]
            self._tasks.append(self.loop.create_task(self._sweep_idle()))
            if self.config.stats_interval > 0:
                self._tasks.append(self.loop.create_task(self._log_stats_every()))
            _log.info(
                "HJ 212 监听 %s:%s / HJ 212 listener on %s:%s (%s)",
                self.config.host,
                self.port,
                self.config.host,
                self.port,
                type(self.loop).__module__,
            )
            if ready is not None:
                ready.set()
            await stop.wait()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        for connection in list(self._connections):
            transport = connection.transport
            if transport is not None and not connection.read_paused and not transport.is_closing():
                connection.read_paused = True
                transport.pause_reading()
        # Packets already read: finish their lookups, then flush everything pending and answer it.
        self._draining = True
        if hasattr(self, "_directory"):
            await self._directory.drain()
            await asyncio.sleep(0)  # let the lookups' callbacks queue their packets
        while self._flushing is not None or self._queue or self._rejections or self._refusals:
            if self._flushing is None:
                self._start_flush()
            assert self._flushing is not None
            await asyncio.shield(self._flushing)
        if self._timer is not None:
            self._timer.cancel()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()
        await asyncio.sleep(0)
        for executor in (getattr(self, "_ingest_executor", None), getattr(self, "_directory_executor", None)):
            if executor is not None:
                try:
                    await self.loop.run_in_executor(executor, _close_db)
                finally:
                    executor.shutdown(wait=True)
        self._log_stats("停止 / stopped")

    # --- connections --------------------------------------------------------------------------------

    def _connection_made(self, connection: _Connection) -> None:
        connection.last_rx = self.loop.time()
        self._connections.add(connection)
        self.stats.connections += 1
        self.stats.open_connections += 1
        if self._draining and connection.transport is not None:
            connection.transport.close()

    def _connection_lost(self, connection: _Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
            self.stats.open_connections -= 1
        self._paused.discard(connection)

    def _flow(self, connection: _Connection) -> None:
        """Pause or resume reading from ``connection`` (back-pressure)."""
        transport = connection.transport
        if transport is None or connection.closed or self._draining:
            return
        limit = self.config.max_pending_per_connection
        load = connection.pending + len(connection.waiting)
        if connection.read_paused:
            if (
                not connection.write_paused
                and load <= limit // 2
                and len(self._queue) < self.config.max_queued
            ):
                connection.read_paused = False
                self._paused.discard(connection)
                transport.resume_reading()
        elif connection.write_paused or load >= limit or len(self._queue) >= self.config.max_queued:
            connection.read_paused = True
            self._paused.add(connection)
            transport.pause_reading()

    def _close_after_eof(self, connection: _Connection) -> None:
        """A half-closed connection is closed once nothing of it is waiting any more."""
        if connection.eof and not connection.pending and not connection.waiting:
            transport = connection.transport
            if transport is not None and not transport.is_closing():
                transport.close()

    async def _sweep_idle(self) -> None:
        timeout = self.config.idle_timeout
        period = min(max(timeout / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(period)
            cutoff = self.loop.time() - timeout
            for connection in [c for c in self._connections if c.last_rx < cutoff]:
                # Waiting for our answers is not idleness of the device.
                if connection.pending or connection.waiting or connection.transport is None:
                    continue
                self.stats.idle_closed += 1
                _log.info("HJ 212 连接空闲已关闭 / closing idle HJ 212 connection %s", connection.peer)
                connection.transport.close()

    # --- packets ------------------------------------------------------------------------------------

    def _frames(self, connection: _Connection, frames: Iterable[bytes | DecodeError]) -> None:
        for frame in frames:
            packet = (
                frame if isinstance(frame, DecodeError) else decode_frame(frame, crc_modes=_ALL_CRC_MODES)
            )
            if isinstance(packet, DecodeError):
                self._decode_error(connection, packet)
                continue
            self.stats.packets += 1
            if connection.waiting or not self._dispatch(connection, packet):
                connection.waiting.append(packet)
                self._flow(connection)

    def _decode_error(self, connection: _Connection, error: DecodeError) -> None:
        self.stats.decode_errors += 1
        _log.debug("HJ 212 %s from %s: %s %r", error.code, connection.peer, error.message, error.raw[:80])
        if connection.device_id is not None:
            self._reject(
                connection.device_id, error.message, _ERROR_FIELDS.get(error.code, "packet"), error.code
            )

    def _dispatch(self, connection: _Connection, packet: Packet) -> bool:
        """Handle ``packet``; False when its MN must be looked up first (a callback is then registered)."""
        mn = packet.mn
        if not mn or not _MN_RE.fullmatch(mn):
            identifier = mn[:64] if mn else f"(无 MN / no MN) {connection.peer.rpartition(':')[0]}"
            self._refuse(connection, identifier, "MN 缺失或格式无效 / MN missing or malformed")
            return True
        entry = self._directory.get(mn)
        if entry is MISS:
            self._directory.load(mn).add_done_callback(functools.partial(self._looked_up, connection))
            return False
        self._authorised(connection, packet, entry)
        return True

    def _looked_up(self, connection: _Connection, _future: asyncio.Future[None]) -> None:
        waiting = connection.waiting
        try:
            while waiting:
                if not self._dispatch(connection, waiting[0]):
                    return
                waiting.popleft()
        except Exception:  # pragma: no cover - a safety net, as in data_received
            _log.exception(
                "HJ 212 报文处理出错 / unexpected error handling HJ 212 data from %s", connection.peer
            )
            waiting.clear()
        self._flow(connection)
        self._close_after_eof(connection)

    def _authorised(self, connection: _Connection, packet: Packet, entry: Lookup) -> None:
        mn = packet.mn or ""
        if entry is UNAVAILABLE:
            self.stats.dropped += 1
            return
        if entry is None:
            self._refuse(connection, mn, "未知的 MN / unknown MN")
            return
        assert isinstance(entry, DeviceEntry)
        if not entry.enabled:
            self._refuse(connection, mn, "设备已停用 / device is disabled")
            return
        if not entry.pw_hash:
            self._refuse(connection, mn, "设备未设置 HJ 212 密码 / no HJ 212 PW set for this device")
            return
        if not secrets.compare_digest(entry.pw_hash, hash_device_key(packet.pw or "")):
            self._refuse(connection, mn, "PW 错误 / wrong PW")
            return
        device_id = entry.device_id
        connection.device_id = device_id
        if packet.crc_mode is not CrcMode.STANDARD:
            if packet.crc_mode.value != entry.crc_mode:
                self._reject(
                    device_id,
                    f"校验码为 {packet.crc_mode.value} 变体，本设备未启用 / "
                    f"{packet.crc_mode.value} CRC variant not enabled for this device",
                    "crc",
                    "bad_crc",
                )
                return
            self.stats.nonstandard_crc += 1
        sample = bin_sample(packet, self.config.metrics)
        answer = reply_for(packet)
        if answer is not None and packet.crc_mode is not CrcMode.STANDARD:
            answer = _with_crc(answer, packet.crc_mode)
        if sample is None:
            # Heartbeat (9015), notice or another command: nothing to store, answer at once if asked.
            if answer is not None:
                self._write(connection, answer)
            return
        if isinstance(sample, DecodeError):
            self._reject(device_id, sample.message, _ERROR_FIELDS.get(sample.code, "packet"), sample.code)
            return
        try:
            reading = reading_validate(
                observed_at=sample.observed_at,
                fill_pct=sample.fill_pct,
                net_weight_kg=sample.net_weight_kg,
                temperature_c=sample.temperature_c,
                door_open=sample.door_open,
                battery_pct=sample.battery_pct,
                sequence=sample.sequence,
                quality=sample.quality,
                device_time_raw=sample.device_time_raw,
                require_fill=False,
            )
        except ServiceError as exc:
            self._reject(device_id, exc.message, exc.field, exc.code)
            return
        self._queue.append((connection, device_id, reading, answer))
        connection.pending += 1
        self._queued()
        if (
            connection.pending >= self.config.max_pending_per_connection
            or len(self._queue) >= self.config.max_queued
        ):
            self._flow(connection)

    def _reject(self, device_id: uuid.UUID, reason: str, field: str | None, code: str) -> None:
        self.stats.rejected += 1
        self._rejections.append(Rejection(device_id, reason, field, code))
        self._queued()

    def _refuse(self, connection: _Connection, identifier: str, reason: str) -> None:
        self.stats.refused += 1
        refusals = self._refusals
        record = refusals.get(identifier)
        if record is None:
            if len(refusals) >= self.config.max_refusal_identifiers:
                identifier = _OVERFLOW_IDENTIFIER
                record = refusals.get(identifier)
            if record is None:
                record = refusals[identifier] = [0, reason, connection.peer]
        record[0] += 1
        record[1] = reason
        record[2] = connection.peer
        self._queued()
        _log.debug("HJ 212 拒收 / refused %s from %s: %s", identifier, connection.peer, reason)

    def _write(self, connection: _Connection, data: bytes) -> None:
        transport = connection.transport
        if transport is None or connection.closed or transport.is_closing():
            return
        transport.write(data)
        self.stats.answers += 1

    # --- batching -----------------------------------------------------------------------------------

    def _queued(self) -> None:
        """Something was queued: flush now if the batch is full or due, else make sure a flush is timed."""
        now = self.loop.time()
        if self._due is None:
            self._due = now + self.config.max_delay
        if self._flushing is not None:
            return
        due = max(self._due, self._retry_at)
        full = len(self._queue) + len(self._rejections) >= self.config.max_batch
        if due <= now or (full and self._retry_at <= now):
            self._start_flush()
        elif self._timer is None:
            self._timer = self.loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._flushing is None and (self._queue or self._rejections or self._refusals):
            self._start_flush()

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        limit = self.config.max_batch
        items = self._queue[:limit]
        del self._queue[:limit]
        room = max(limit - len(items), 0)
        rejections = self._rejections[:room] if len(self._rejections) > room else self._rejections
        self._rejections = self._rejections[len(rejections) :]
        refusals, self._refusals = self._refusals, {}
        # What is left over has waited already: it is due as soon as this flush ends.
        self._due = self.loop.time() if (self._queue or self._rejections) else None
        self._flushing = self.loop.create_task(self._flush(items, rejections, refusals))

    async def _flush(
        self, items: list[_Item], rejections: list[Rejection], refusals: dict[str, list[Any]]
    ) -> None:
        stats = self.stats
        try:
            batch = [(device_id, reading) for _, device_id, reading, _ in items]
            started = self.loop.time()
            try:
                outcomes = await self.loop.run_in_executor(
                    self._ingest_executor, self._store, batch, rejections, refusals
                )
                if len(outcomes) != len(items):  # pragma: no cover - ingest_batch returns one per item
                    raise RuntimeError(f"ingest returned {len(outcomes)} outcomes for {len(items)} items")
            except Exception:
                stats.commit_ms += round((self.loop.time() - started) * 1000)
                stats.batch_failures += 1
                stats.dropped += len(items)
                now = self.loop.time()
                # Back off a little (a database that is down refuses every attempt) and log with the
                # traceback at most every 10 s.
                self._retry_at = 0.0 if self._draining else now + self.config.retry_delay
                if now - self._failure_logged_at >= 10:
                    _log.exception(
                        "HJ 212 批量入库失败，%d 条未应答（设备将重发；此前另有 %d 批失败未记录）/ "
                        "HJ 212 batch of %d readings failed; none answered, devices will resend "
                        "(%d more failed batches not logged before this one)",
                        len(items),
                        self._failures_unlogged,
                        len(items),
                        self._failures_unlogged,
                    )
                    self._failure_logged_at = now
                    self._failures_unlogged = 0
                else:
                    self._failures_unlogged += 1
                for connection, _, _, _ in items:
                    connection.pending -= 1
            else:
                stats.commit_ms += round((self.loop.time() - started) * 1000)
                stats.batches += 1
                self._retry_at = 0.0
                answers: dict[_Connection, list[bytes]] = {}
                for (connection, _, _, answer), outcome in zip(items, outcomes, strict=True):
                    connection.pending -= 1
                    status = outcome.status
                    if status == "accepted":
                        stats.accepted += 1
                    elif status == "duplicate":
                        stats.duplicate += 1
                    else:
                        stats.rejected += 1
                    if answer is not None and status in _ANSWERED_STATUSES:
                        answers.setdefault(connection, []).append(answer)
                for connection, data in answers.items():
                    transport = connection.transport
                    if transport is None or connection.closed or transport.is_closing():
                        continue
                    transport.write(data[0] if len(data) == 1 else b"".join(data))
                    stats.answers += len(data)
            for connection in {item[0] for item in items} | self._paused:
                if connection.read_paused:
                    self._flow(connection)
                self._close_after_eof(connection)
        finally:
            self._flushing = None
            if self._queue or self._rejections or self._refusals:
                self._queued()

    # --- stats --------------------------------------------------------------------------------------

    async def _log_stats_every(self) -> None:
        while True:
            await asyncio.sleep(self.config.stats_interval)
            self._log_stats("")

    def _log_stats(self, note: str) -> None:
        text = " ".join(f"{key}={value}" for key, value in self.stats.as_dict().items())
        _log.info("HJ 212 统计 / HJ 212 stats %s queued=%d %s", text, len(self._queue), note)
