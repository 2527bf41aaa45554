"""JT/T 808 TCP listener: the trucks' terminals connect, register, authenticate and report locations; each
report is answered after its point is committed.

Design (protocols.md section 2 is our summary of the standard; section numbers below are JT/T 808-2019's):

- **Transport.** One asyncio TCP server (on uvloop when it is importable), one task per connection. A
  :class:`~greenisle.tracking.jt808.codec.Deframer` cuts the byte stream into frames (sticky and half
  frames, shared flags, garbage); every frame is unescaped, checked (XOR, 4.4) and decoded on its own by
  the pure codec. A frame that does not decode is counted and skipped; it never closes the connection.
  When its check code was right but its length or body was not, it is answered 0x8001 result 2 (bad
  message), echoing its serial number and id. Frames of one connection are handled in order.
- **Versions.** The header layout (2013 or 2019, body-attribute bit 14 with the codec's fallback for
  devices that set the bit on a 2013 header) is read per message; every answer is written in the layout
  and with the phone digits of the message it answers.
- **Messages.** 0x0100 register → 0x8100 (8.9: result 0 with a new auth code for a known, enabled
  terminal, or a new one when auto-registration is on and its plate is a vehicle of the platform; else 4
  no such terminal, 2 no such vehicle, 1 vehicle has another terminal). 0x0102 authenticate → 0x8001
  (8.11; 0 when the code matches, else 1). 0x0002 heartbeat → 0x8001 0 (8.3). 0x0200 location and
  0x0704 batch → one 0x8001 0 after the commit of all their points (2 when none of them can be stored:
  an invalid time or coordinates). 0x0003 logout → 0x8001 0 and the auth code stops working (8.10).
  0x0004 (2019) → 0x8004 UTC time (8.5). 0x0001 terminal replies are not answered. Anything else,
  encrypted bodies and sub-packages → 0x8001 result 3 (not supported).
- **Authentication first (6.1).** Until the connection has authenticated as the phone number in the
  header, heartbeats and locations are answered 0x8001 result 1 and nothing is stored. When a terminal
  authenticates on a new connection, its previous connection is closed (6.1: the same identity
  connecting again means the old link is dead).
- **Reply serial numbers.** The platform's own counter, per connection, from 0, wrapping at 0xFFFF;
  answers are written in the order of the messages they answer.
- **Batching and answers after commit.** Points from all connections go to one queue. A flush runs
  ``track_points_store`` (one transaction, ``bulk_create(ignore_conflicts=True)``: a resent point is
  stored once) in a single database thread when ``max_batch`` points are queued or ``max_delay`` after the
  oldest arrived. Only after it returned are the reports it held answered. If it raises (database down),
  none of them is answered, the terminals resend after their timeout (6.1), and the next flush waits
  ``retry_delay``. Heartbeats and reports move ``last_seen_at`` with the next flush. Register and
  authenticate run in the same database thread.
- **Back-pressure.** A connection stops being read while ``max_pending_per_connection`` of its answers
  are waiting (for a commit, or for the terminal to read what was written).
- **Time.** Terminal times are Beijing time (GMT+8) with no zone; points are stored in UTC with the raw
  digits beside them (:mod:`greenisle.tracking.points`).
- **Stopping.** SIGTERM/SIGINT (the management command) stop accepting, stop reading, flush what is
  queued, write its answers and close.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from greenisle.core.errors import ServiceError
from greenisle.tracking import partitions
from greenisle.tracking.jt808 import codec
from greenisle.tracking.jt808.codec import (
    Authenticate,
    DecodeError,
    Header,
    Heartbeat,
    Location,
    LocationBatch,
    Logout,
    Message,
    QueryTime,
    Register,
    TerminalReply,
)
from greenisle.tracking.models import ProtocolVersion
from greenisle.tracking.points import PointIn, PointRefused, ReplyResult, point_from_location
from greenisle.tracking.services import (
    RegisterOutcome,
    TerminalSession,
    terminal_authenticate,
    terminal_logout,
    terminal_register,
    track_points_store,
)

__all__ = [
    "Jt808Listener",
    "ListenerConfig",
    "ListenerStats",
    "ListenerThread",
    "config_from_settings",
    "new_event_loop",
    "run",
]

_log = logging.getLogger("greenisle.tracking.jt808")
_T = TypeVar("_T")
# Decode errors whose check code was right: the header can be trusted, and is answered "bad message".
_ANSWERED_ERRORS = frozenset({"bad_length", "bad_body"})


# --------------------------------------------------------------------------------------------------------
# Configuration and counters


@dataclasses.dataclass(frozen=True)
class ListenerConfig:
    """Tunables; :func:`config_from_settings` reads host, port and auto-registration from
    ``settings.GREENISLE`` (``JT808_HOST``, ``JT808_PORT``, ``JT808_AUTO_REGISTER``)."""

    host: str = "127.0.0.1"
    port: int = 7808
    #: Register an unknown terminal whose reported plate is a vehicle of the platform without a terminal.
    auto_register: bool = False
    #: Accept an unescaped 0x7D check code just before the closing flag (protocols.md 2.6).
    lenient: bool = False
    #: Flush when this many points are queued …
    max_batch: int = 500
    #: … or this many seconds after the oldest of them arrived.
    max_delay: float = 0.02
    #: Close a connection that sent nothing for this long (seconds); terminals heartbeat every minute or so.
    idle_timeout: float = 300.0
    #: Stop reading a connection while this many of its answers wait.
    max_pending_per_connection: int = 100
    #: After a failed commit, wait this long before the next one (seconds).
    retry_delay: float = 0.25
    #: How far ahead of the platform's clock a terminal's time may be (seconds).
    max_ahead: float = 3600.0
    #: Check the next months' partitions of the track table this often (seconds; PostgreSQL only).
    partition_interval: float = 6 * 3600.0
    #: Log the counters at INFO this often (seconds); 0 turns the periodic line off.
    stats_interval: float = 60.0
    #: On stopping, how long to wait for the last answers to be written (seconds).
    drain_timeout: float = 10.0
    max_frame: int = codec.MAX_FRAME
    read_size: int = 65536
    backlog: int = 1024


def config_from_settings(**overrides: Any) -> ListenerConfig:
    configured: Mapping[str, Any] = getattr(settings, "GREENISLE", {}) or {}
    base: dict[str, Any] = {
        "host": configured.get("JT808_HOST", ListenerConfig.host),
        "port": int(configured.get("JT808_PORT", ListenerConfig.port)),
        "auto_register": bool(configured.get("JT808_AUTO_REGISTER", False)),
    }
    base.update({key: value for key, value in overrides.items() if value is not None})
    return ListenerConfig(**base)


@dataclasses.dataclass
class ListenerStats:
    """Counters since start. ``messages`` counts decoded messages; ``decode_errors`` frames (or skipped
    bytes) that did not decode, ``bad_check`` those among them with a wrong check code."""

    connections: int = 0
    open_connections: int = 0
    messages: int = 0
    decode_errors: int = 0
    bad_check: int = 0
    registered: int = 0
    register_refused: int = 0
    authenticated: int = 0
    auth_refused: int = 0
    unauthenticated: int = 0
    heartbeats: int = 0
    points: int = 0
    points_refused: int = 0
    unsupported: int = 0
    replies: int = 0
    batches: int = 0
    batch_failures: int = 0
    db_failures: int = 0
    replaced_connections: int = 0
    idle_closed: int = 0
    #: Wall time spent committing points, milliseconds.
    commit_ms: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------------------
# Connections

_Build = Callable[[int], bytes]


@dataclasses.dataclass(slots=True)
class _Slot:
    """One answer in the connection's order: written once ``committed`` (if any) resolved True."""

    build: _Build
    committed: asyncio.Future[bool] | None = None


class _Connection:
    __slots__ = (
        "deframer",
        "peer",
        "reader",
        "reading",
        "replies",
        "room",
        "serial",
        "session",
        "task",
        "writer",
        "writer_task",
    )

    def __init__(self, listener: Jt808Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer or "")
        self.deframer = codec.Deframer(listener.config.max_frame)
        self.session: TerminalSession | None = None
        self.reading = False
        self.serial = 0
        self.replies: asyncio.Queue[_Slot | None] = asyncio.Queue()
        self.room = asyncio.Semaphore(listener.config.max_pending_per_connection)
        self.task: asyncio.Task[Any] | None = None
        self.writer_task: asyncio.Task[None] | None = None

    def next_serial(self) -> int:
        serial = self.serial
        self.serial = (serial + 1) & 0xFFFF
        return serial

    def authorised(self, header: Header) -> bool:
        """Authenticated on this connection as the terminal the header names."""
        return self.session is not None and self.session.phone == header.identity


def _in_db(function: Callable[..., _T], kwargs: dict[str, Any]) -> _T:
    close_old_connections()
    try:
        return function(**kwargs)
    finally:
        close_old_connections()


def _store(points: Sequence[PointIn], seen: Mapping[Any, dt.datetime]) -> int:
    return _in_db(track_points_store, {"points": points, "seen": seen})


def _version(header: Header) -> int:
    return ProtocolVersion.V2019 if header.is_2019 else ProtocolVersion.V2013


# --------------------------------------------------------------------------------------------------------
# The listener


class Jt808Listener:
    """The JT/T 808 server. ``await listener.run(ready=…, stop=…)``; ``port`` is the bound port once
    ``ready`` is set. ``store`` is the database call of a flush (replaceable in tests)."""

    def __init__(
        self,
        config: ListenerConfig | None = None,
        *,
        store: Callable[[Sequence[PointIn], Mapping[Any, dt.datetime]], int] = _store,
    ) -> None:
        self.config = config or ListenerConfig()
        self.stats = ListenerStats()
        self.port: int | None = None
        self._store = store
        self._connections: set[_Connection] = set()
        self._sessions: dict[Any, _Connection] = {}
        self._batch: list[tuple[list[PointIn], asyncio.Future[bool]]] = []
        self._batch_points = 0
        self._seen: dict[Any, dt.datetime] = {}
        self._due: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._failure_logged_at = -1e9
        self._stopping = False
        self._server: asyncio.AbstractServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._db: concurrent.futures.ThreadPoolExecutor | None = None
        self.loop: asyncio.AbstractEventLoop

    # --- lifecycle ----------------------------------------------------------------------------------

    async def run(self, *, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self._db = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jt808-db")
        stop = stop or asyncio.Event()
        try:
            await self._partitions_upkeep()
            self._server = await asyncio.start_server(
                self._serve,
                self.config.host,
                self.config.port,
                backlog=self.config.backlog,
                reuse_address=True,
                limit=self.config.read_size,
            )
            self.port = self._server.sockets[0].getsockname()[1]
            self._tasks.append(self.loop.create_task(self._partitions_every()))
            if self.config.stats_interval > 0:
                self._tasks.append(self.loop.create_task(self._log_stats_every()))
            _log.info(
                "JT/T 808 监听 %s:%s / JT/T 808 listener on %s:%s (%s)",
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
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Stop reading: what was read is handled, its points flushed and answered, then each closes. A
        # connection busy with a message stops at its next read.
        for connection in list(self._connections):
            if connection.reading and connection.task is not None:
                connection.task.cancel()
        if self._batch or self._seen:
            self._queued()
        handlers = {c.task: c for c in self._connections if c.task is not None}
        if handlers:
            _, late = await asyncio.wait(handlers, timeout=self.config.drain_timeout)
            # Answers that could not be written in time (a terminal that does not read) are given up.
            for task in late:
                task.cancel()
                writer_task = handlers[task].writer_task
                if writer_task is not None:
                    writer_task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        while self._flushing is not None:
            await self._flushing
        if self._db is not None:
            try:
                await self.loop.run_in_executor(self._db, connections.close_all)
            finally:
                self._db.shutdown(wait=True)
        self._log_stats("停止 / stopped")

    async def _db_call(self, function: Callable[..., _T], **kwargs: Any) -> _T:
        assert self._db is not None
        return await self.loop.run_in_executor(self._db, _in_db, function, kwargs)

    async def _partitions_upkeep(self) -> None:
        try:
            created = await self._db_call(partitions.partitions_ensure_around, today=timezone.now().date())
        except Exception:
            _log.exception("轨迹分区维护失败 / could not create the track-point partitions")
            return
        if created:
            _log.info("轨迹分区已创建 / track-point partitions created: %s", ", ".join(created))

    async def _partitions_every(self) -> None:
        while True:
            await asyncio.sleep(self.config.partition_interval)
            await self._partitions_upkeep()

    # --- connections --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, reader, writer)
        connection.task = asyncio.current_task()
        if self._stopping:
            writer.close()
            return
        self._connections.add(connection)
        self.stats.connections += 1
        self.stats.open_connections += 1
        connection.writer_task = self.loop.create_task(self._write_answers(connection))
        try:
            await self._read(connection)
        finally:
            connection.replies.put_nowait(None)
            try:
                await connection.writer_task
            finally:
                self._connections.discard(connection)
                self.stats.open_connections -= 1
                session = connection.session
                if session is not None and self._sessions.get(session.terminal_id) is connection:
                    del self._sessions[session.terminal_id]
                if not writer.is_closing():
                    writer.close()

    async def _read(self, connection: _Connection) -> None:
        reader = connection.reader
        config = self.config
        while not self._stopping:
            connection.reading = True
            try:
                data = await asyncio.wait_for(reader.read(config.read_size), config.idle_timeout)
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                # Stopping interrupts a connection only while it waits for bytes (see _shutdown).
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                return
            except TimeoutError:
                self.stats.idle_closed += 1
                _log.info("JT/T 808 连接空闲已关闭 / closing idle connection %s", connection.peer)
                break
            except OSError:
                break
            finally:
                connection.reading = False
            if not data:
                break
            await self._frames(connection, connection.deframer.feed(data))
        await self._frames(connection, connection.deframer.flush())

    async def _frames(self, connection: _Connection, frames: Iterable[bytes | DecodeError]) -> None:
        for frame in frames:
            try:
                await self._frame(connection, frame)
            except Exception:  # a safety net: one bad message must not end the connection
                _log.exception(
                    "JT/T 808 报文处理出错 / unexpected error handling a message from %s", connection.peer
                )

    async def _write_answers(self, connection: _Connection) -> None:
        """Write the answers in the order of the messages; one waiting for a commit holds back the rest."""
        writer = connection.writer
        while True:
            slot = await connection.replies.get()
            if slot is None:
                return
            try:
                if slot.committed is not None and not await slot.committed:
                    continue
                if writer.is_closing():
                    continue
                writer.write(slot.build(connection.next_serial()))
                self.stats.replies += 1
                await writer.drain()
            except OSError:
                pass  # the terminal went away; what it did not get it will resend
            finally:
                connection.room.release()

    async def _answer(
        self, connection: _Connection, build: _Build, committed: asyncio.Future[bool] | None = None
    ) -> None:
        await connection.room.acquire()
        connection.replies.put_nowait(_Slot(build, committed))

    async def _general(self, connection: _Connection, header: Header, result: int) -> None:
        await self._answer(connection, functools.partial(_platform_reply, header, result))

    # --- messages -----------------------------------------------------------------------------------

    async def _frame(self, connection: _Connection, frame: bytes | DecodeError) -> None:
        message = (
            frame if isinstance(frame, DecodeError) else codec.decode(frame, lenient=self.config.lenient)
        )
        if isinstance(message, DecodeError):
            await self._decode_error(connection, message)
            return
        self.stats.messages += 1
        header = message.header
        body = message.body
        if isinstance(body, Location):
            await self._locations(connection, message, [body], backfill=False, refused=0)
        elif isinstance(body, Heartbeat):
            if connection.authorised(header):
                self.stats.heartbeats += 1
                self._touch(connection)
                await self._general(connection, header, ReplyResult.OK)
            else:
                self.stats.unauthenticated += 1
                await self._general(connection, header, ReplyResult.FAILURE)
        elif isinstance(body, LocationBatch):
            await self._locations(
                connection, message, list(body.items), backfill=body.kind == 1, refused=len(body.errors)
            )
        elif isinstance(body, Authenticate):
            await self._authenticate(connection, header, body)
        elif isinstance(body, Register):
            await self._register(connection, header, body)
        elif isinstance(body, Logout):
            await self._logout(connection, header)
        elif isinstance(body, QueryTime):
            await self._answer(connection, functools.partial(_server_time_reply, header, timezone.now()))
        elif isinstance(body, TerminalReply):
            pass  # an answer to the platform is not answered (6.1)
        else:
            # Unknown ids, platform-to-terminal ids, encrypted bodies, sub-packages.
            self.stats.unsupported += 1
            await self._general(connection, header, ReplyResult.UNSUPPORTED)

    async def _decode_error(self, connection: _Connection, error: DecodeError) -> None:
        self.stats.decode_errors += 1
        if error.code == "bad_check":
            self.stats.bad_check += 1
        _log.debug("JT/T 808 %s from %s: %s %r", error.code, connection.peer, error.message, error.raw[:64])
        if error.code in _ANSWERED_ERRORS and error.header is not None:
            await self._general(connection, error.header, ReplyResult.BAD_MESSAGE)

    async def _register(self, connection: _Connection, header: Header, body: Register) -> None:
        try:
            outcome: RegisterOutcome = await self._db_call(
                terminal_register,
                phone=header.phone,
                plate_color=body.plate_color,
                plate=body.plate,
                manufacturer=body.maker,
                model_number=body.model,
                terminal_number=body.terminal_id,
                province_code=body.province,
                city_code=body.city,
                protocol_version=_version(header),
                auto_register=self.config.auto_register,
            )
        except Exception:
            self._db_failed("注册 / register", header)
            return
        if outcome.result:
            self.stats.register_refused += 1
            _log.info(
                "JT/T 808 注册被拒 / register refused: %s from %s: %s (%d)",
                header.identity,
                connection.peer,
                outcome.reason,
                outcome.result,
            )
        else:
            self.stats.registered += 1
        await self._answer(
            connection, functools.partial(_register_reply, header, int(outcome.result), outcome.auth_code)
        )

    async def _authenticate(self, connection: _Connection, header: Header, body: Authenticate) -> None:
        try:
            session: TerminalSession = await self._db_call(
                terminal_authenticate,
                phone=header.phone,
                auth_code=body.auth_code,
                imei=body.imei,
                software_version=body.software_version,
                protocol_version=_version(header),
            )
        except ServiceError as exc:
            self.stats.auth_refused += 1
            if connection.session is not None and connection.session.phone == header.identity:
                self._logged_out(connection)
            _log.info(
                "JT/T 808 鉴权失败 / authentication refused: %s from %s: %s",
                header.identity,
                connection.peer,
                exc.message,
            )
            await self._general(connection, header, ReplyResult.FAILURE)
            return
        except Exception:
            self._db_failed("鉴权 / authenticate", header)
            return
        self.stats.authenticated += 1
        if connection.session is not None:
            self._logged_out(connection)
        previous = self._sessions.get(session.terminal_id)
        if previous is not None and previous is not connection:
            # 6.1: the same identity connecting again means the old link is dead.
            self.stats.replaced_connections += 1
            previous.session = None
            previous.writer.close()
        connection.session = session
        self._sessions[session.terminal_id] = connection
        await self._general(connection, header, ReplyResult.OK)

    async def _logout(self, connection: _Connection, header: Header) -> None:
        if not connection.authorised(header):
            self.stats.unauthenticated += 1
            await self._general(connection, header, ReplyResult.FAILURE)
            return
        assert connection.session is not None
        try:
            await self._db_call(terminal_logout, terminal_id=connection.session.terminal_id)
        except Exception:
            self._db_failed("注销 / logout", header)
            return
        self._logged_out(connection)
        await self._general(connection, header, ReplyResult.OK)

    def _logged_out(self, connection: _Connection) -> None:
        session = connection.session
        connection.session = None
        if session is not None and self._sessions.get(session.terminal_id) is connection:
            del self._sessions[session.terminal_id]

    async def _locations(
        self,
        connection: _Connection,
        message: Message,
        items: list[Location],
        *,
        backfill: bool,
        refused: int,
    ) -> None:
        header = message.header
        session = connection.session
        if session is None or not connection.authorised(header):
            self.stats.unauthenticated += 1
            await self._general(connection, header, ReplyResult.FAILURE)
            return
        now = timezone.now()
        max_ahead = dt.timedelta(seconds=self.config.max_ahead)
        points: list[PointIn] = []
        for location in items:
            point = point_from_location(
                location,
                terminal_id=session.terminal_id,
                vehicle_id=session.vehicle_id,
                received_at=now,
                backfill=backfill,
                max_ahead=max_ahead,
            )
            if isinstance(point, PointRefused):
                refused += 1
                _log.debug("JT/T 808 点位被拒 / point refused from %s: %s", header.identity, point.message)
            else:
                points.append(point)
        self.stats.points_refused += refused
        self._touch(connection)
        if not points:
            # Nothing storable: "bad message" stops the terminal resending what would be refused again.
            await self._general(connection, header, ReplyResult.BAD_MESSAGE if refused else ReplyResult.OK)
            return
        self.stats.points += len(points)
        committed: asyncio.Future[bool] = self.loop.create_future()
        await self._answer(connection, functools.partial(_platform_reply, header, ReplyResult.OK), committed)
        self._batch.append((points, committed))
        self._batch_points += len(points)
        self._queued()

    def _touch(self, connection: _Connection) -> None:
        if connection.session is not None:
            self._seen[connection.session.terminal_id] = timezone.now()
            self._queued()

    def _db_failed(self, what: str, header: Header) -> None:
        self.stats.db_failures += 1
        now = self.loop.time()
        if now - self._failure_logged_at >= 10:
            self._failure_logged_at = now
            _log.exception(
                "JT/T 808 %s 数据库调用失败，未应答（终端将重发）/ database call failed, not answered "
                "(the terminal resends): %s",
                what,
                header.identity,
            )

    # --- batching -----------------------------------------------------------------------------------

    def _queued(self) -> None:
        """Something was queued: flush now if the batch is full or due, else make sure a flush is timed."""
        now = self.loop.time()
        if self._due is None:
            self._due = now + self.config.max_delay
        if self._flushing is not None:
            return
        due = max(self._due, self._retry_at)
        full = self._batch_points >= self.config.max_batch
        if self._stopping or due <= now or (full and self._retry_at <= now):
            self._start_flush()
        elif self._timer is None:
            self._timer = self.loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._flushing is None and (self._batch or self._seen):
            self._start_flush()

    def _start_flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items: list[tuple[list[PointIn], asyncio.Future[bool]]] = []
        taken = 0
        # A report's points stay together: its one answer covers them all.
        while self._batch and (not items or taken + len(self._batch[0][0]) <= self.config.max_batch):
            item = self._batch.pop(0)
            items.append(item)
            taken += len(item[0])
        self._batch_points -= taken
        seen, self._seen = self._seen, {}
        self._due = self.loop.time() if self._batch else None
        self._flushing = self.loop.create_task(self._flush(items, seen))

    async def _flush(
        self, items: list[tuple[list[PointIn], asyncio.Future[bool]]], seen: dict[Any, dt.datetime]
    ) -> None:
        stats = self.stats
        points = [point for item_points, _ in items for point in item_points]
        started = self.loop.time()
        ok = False
        try:
            assert self._db is not None
            await self.loop.run_in_executor(self._db, self._store, points, seen)
            ok = True
        except Exception:
            stats.batch_failures += 1
            now = self.loop.time()
            self._retry_at = 0.0 if self._stopping else now + self.config.retry_delay
            if now - self._failure_logged_at >= 10:
                self._failure_logged_at = now
                _log.exception(
                    "JT/T 808 批量入库失败，%d 个点位未应答（终端将重发）/ "
                    "JT/T 808 batch of %d points failed; not answered, terminals resend",
                    len(points),
                    len(points),
                )
        else:
            stats.batches += 1
            self._retry_at = 0.0
        finally:
            stats.commit_ms += round((self.loop.time() - started) * 1000)
            for _, committed in items:
                if not committed.done():
                    committed.set_result(ok)
            self._flushing = None
            if self._batch or self._seen:
                self._queued()

    # --- stats --------------------------------------------------------------------------------------

    async def _log_stats_every(self) -> None:
        while True:
            await asyncio.sleep(self.config.stats_interval)
            self._log_stats("")

    def _log_stats(self, note: str) -> None:
        text = " ".join(f"{key}={value}" for key, value in self.stats.as_dict().items())
        _log.info("JT/T 808 统计 / JT/T 808 stats %s queued=%d %s", text, self._batch_points, note)


def _platform_reply(header: Header, result: int, serial: int) -> bytes:
    return codec.platform_reply(header, result, serial=serial)


def _register_reply(header: Header, result: int, auth_code: str | None, serial: int) -> bytes:
    return codec.register_reply(header, result, auth_code, serial=serial)


def _server_time_reply(header: Header, now: dt.datetime, serial: int) -> bytes:
    return codec.server_time_reply(header, now, serial=serial)


# --------------------------------------------------------------------------------------------------------
# Entry points


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop when uvloop is installed, else the standard one."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Any) -> Any:
    """Run a coroutine on a fresh (uv)loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


class ListenerThread:
    """A listener on its own event loop in a background thread: ``port = thread.start()``, then
    ``thread.stop()`` (flushes, answers and closes, like SIGTERM)."""

    def __init__(self, config: ListenerConfig | None = None, **kwargs: Any) -> None:
        self.listener = Jt808Listener(config or config_from_settings(host="127.0.0.1", port=0), **kwargs)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="jt808-listener", daemon=True)

    @property
    def stats(self) -> ListenerStats:
        return self.listener.stats

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            waiter = self._loop.create_task(ready.wait())
            waiter.add_done_callback(lambda _: self._ready.set())
            await self.listener.run(ready=ready, stop=self._stop)

        try:
            run(main())
        except BaseException as exc:  # noqa: BLE001 - reported by start()/stop()
            self._error = exc
            _log.exception("JT/T 808 监听线程出错 / JT/T 808 listener thread failed")
        finally:
            self._ready.set()

    def start(self, timeout: float = 10.0) -> int:
        self._thread.start()
        if not self._ready.wait(timeout) or self.listener.port is None:
            raise RuntimeError(f"JT/T 808 listener did not start: {self._error!r}")
        return self.listener.port

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("JT/T 808 listener did not stop")
        if self._error is not None:
            raise RuntimeError("JT/T 808 listener failed") from self._error

    def __enter__(self) -> ListenerThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
