"""The simulator's transports: HTTP batches, an MQTT publisher and HJ 212 data-logger connections.

No ORM here. Each sender takes :class:`~greenisle.demo.fill.Emission` lists and counts what became of
them in :class:`Counters` (thread-safe: the HTTP pool and the MQTT network thread count too):

``sent``
    good readings handed to the transport;
``accepted``
    good readings the other side confirmed: HTTP items stored (or already stored), MQTT messages
    acknowledged by the broker (PUBACK; the broker, not the listener, acknowledges), HJ 212 packets
    answered with a 9014 (the listener answers after the commit);
``rejected``
    good readings refused: HTTP items rejected, MQTT PUBACKs with a failure reason, HJ 212 packets not
    answered within the timeout or left unanswered when the listener closed the connection;
``failed``
    good readings never delivered (server, broker or listener unreachable);
``bad``
    deliberately bad packets sent (their fate is expected to be refusal and is not counted further);
``opened``
    pickup requests the HTTP answers report opened.

HTTP posts run on a small thread pool so that a slow server does not stall the pacing; when too many
posts are in flight, new readings are counted failed rather than queued without bound. MQTT uses one
paho client (its own network thread, reconnecting by itself; messages published while it is away are
queued and sent on reconnect). HJ 212 keeps one TCP connection per bin, at most ``max_connections``
(the least recently used idle one is closed to make room), all driven from the caller's thread by
:meth:`Hj212Sender.poll`, which also serves as the simulator's sleep.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import json
import os
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import paho.mqtt.client as mqtt
import requests
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from greenisle.demo.fill import CHINA, BadPacket, Emission, SimBin
from greenisle.demo.packets import (
    MALFORMED_JSON,
    hj212_bad_frame,
    hj212_frame,
    hj212_qn,
    json_reading,
    mqtt_bad_payload,
    mqtt_payload,
    out_of_range_reading,
)
from greenisle.telemetry.hj212.codec import CrcMode, DecodeError, Deframer, decode_frame, encode_packet
from greenisle.telemetry.mqtt_transport import readings_topic

__all__ = [
    "BATCH_PATH",
    "TRANSPORTS",
    "Counters",
    "Hj212Sender",
    "HttpSender",
    "MqttSender",
    "TransportCounts",
]

TRANSPORTS = ("http", "mqtt", "hj212")
BATCH_PATH = "/api/v1/readings/batch"
USER_AGENT = "greenisle-simulate/1"
HTTP_TIMEOUT = (3.05, 15.0)  # (connect, read) seconds


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


def _by_bin(emissions: Sequence[Emission]) -> dict[str, list[Emission]]:
    grouped: dict[str, list[Emission]] = {}
    for emission in emissions:
        if emission.reading is not None:
            grouped.setdefault(emission.bin.serial, []).append(emission)
    return grouped


def _short(exc: BaseException) -> str:
    """The innermost reason: requests' messages repeat the whole pool state."""
    reason: BaseException = exc
    while reason.__context__ is not None and reason.__context__ is not reason:
        reason = reason.__context__
    return f"{type(exc).__name__}: {(str(reason) or type(reason).__name__)[:160]}"


# --- HTTP -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Post:
    key: str
    body: bytes
    kinds: list[str]  # per item: "good" or "bad"; a malformed body is one "bad" item


class HttpSender:
    """Each bin posts its readings of the moment as one batch with its own device key."""

    transport = "http"

    def __init__(
        self,
        base_url: str,
        counters: Counters,
        *,
        workers: int = 4,
        session_factory: Callable[[], Any] = requests.Session,
        timeout: Any = HTTP_TIMEOUT,
    ) -> None:
        self.url = base_url.rstrip("/") + BATCH_PATH
        self.counters = counters
        self.session_factory = session_factory
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="simulate-http")
        self.max_pending = max(1, workers) * 4
        self.pending: set[Future[None]] = set()
        self._local = threading.local()

    @staticmethod
    def posts(emissions: Sequence[Emission]) -> list[_Post]:
        """The requests for these emissions: one batch per bin, a malformed body on its own."""
        posts: list[_Post] = []
        for group in _by_bin(emissions).values():
            items: list[Any] = []
            kinds: list[str] = []
            key = group[0].bin.key
            for emission in group:
                assert emission.reading is not None
                if emission.bad is BadPacket.MALFORMED_JSON:
                    posts.append(_Post(key=key, body=MALFORMED_JSON, kinds=["bad"]))
                elif emission.bad is BadPacket.OUT_OF_RANGE:
                    items.append(out_of_range_reading(emission.reading))
                    kinds.append("bad")
                else:
                    items.append(json_reading(emission.reading))
                    kinds.append("good")
            if items:
                body = json.dumps({"readings": items}, separators=(",", ":")).encode("utf-8")
                posts.append(_Post(key=key, body=body, kinds=kinds))
        return posts

    def send(self, emissions: Sequence[Emission]) -> None:
        """Queue the posts; when the pool is saturated wait once (at most 0.5 s), then count failures."""
        waited = False
        for post in self.posts(emissions):
            good = post.kinds.count("good")
            bad = len(post.kinds) - good
            self.poll()
            if len(self.pending) >= self.max_pending and not waited:
                wait(self.pending, timeout=0.5, return_when=FIRST_COMPLETED)
                waited = True
                self.poll()
            if len(self.pending) >= self.max_pending:
                self.counters.add("http", sent=good, failed=good, bad=bad)
                self.counters.problem("http", "服务器太慢 / server too slow: too many posts in flight")
                continue
            self.counters.add("http", sent=good, bad=bad)
            self.pending.add(self.pool.submit(self.deliver, post))

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self.session_factory()
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
        return session

    def deliver(self, post: _Post) -> None:
        """Post one request and count its outcome (on a pool thread, or the caller's in tests)."""
        good = post.kinds.count("good")
        try:
            response = self._session().post(
                self.url,
                data=post.body,
                headers={"X-Device-Key": post.key, "Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            self.counters.add("http", failed=good)
            self.counters.problem("http", f"服务器无法访问 / server not reachable: {_short(exc)}")
            return
        if response.status_code != 200:
            self.counters.add("http", rejected=good)
            if good:
                self.counters.problem("http", f"HTTP {response.status_code}: {response.text[:200]}")
            return
        try:
            results = response.json()["results"]
        except (ValueError, KeyError, TypeError):
            self.counters.add("http", rejected=good)
            self.counters.problem("http", f"unexpected answer: {response.text[:200]}")
            return
        accepted = rejected = opened = 0
        for result in results:
            index = result.get("index")
            kind = post.kinds[index] if isinstance(index, int) and 0 <= index < len(post.kinds) else "good"
            ok = result.get("status") in ("accepted", "duplicate")
            if kind == "bad":
                if ok:
                    self.counters.problem("http", "坏读数被接受 / a deliberately bad reading was accepted")
                continue
            if ok:
                accepted += 1
                opened += 1 if result.get("request_opened") else 0
            else:
                rejected += 1
                self.counters.problem("http", f"rejected: {result.get('reason')} ({result.get('field')})")
        self.counters.add("http", accepted=accepted, rejected=rejected, opened=opened)

    def poll(self, timeout: float = 0.0) -> None:
        if timeout and self.pending:
            wait(self.pending, timeout=timeout)
        done = {f for f in self.pending if f.done()}
        for future in done:
            exc = future.exception()
            if exc is not None:  # a bug in _post: say so, keep going
                self.counters.problem("http", f"internal error: {_short(exc)}")
        self.pending -= done

    def close(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            self.poll(min(0.2, max(0.0, deadline - time.monotonic())))
        self.pool.shutdown(wait=False, cancel_futures=True)


# --- MQTT -----------------------------------------------------------------------------------------


class MqttSender:
    """One MQTT client publishes every MQTT bin's readings to its topic, QoS 1.

    The broker's PUBACK counts a message accepted. One connection speaks for all bins (the topic
    names the bin, as the listener reads it); pass ``username``/``password`` when the broker wants them.
    """

    transport = "mqtt"

    def __init__(
        self,
        host: str,
        port: int,
        counters: Counters,
        *,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
    ) -> None:
        self.host = host
        self.port = port
        self.counters = counters
        self.keepalive = keepalive
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"greenisle-simulate-{os.getpid()}",
            protocol=mqtt.MQTTv5,
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(20_000)
        self.client.reconnect_delay_set(1, 10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_publish = self._on_publish
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}  # mid → good readings in it
        self._early: dict[int, Any] = {}  # PUBACKs that beat publish() back to the caller
        self._started = False

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, self.keepalive)
        self.client.loop_start()
        self._started = True

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.counters.problem("mqtt", f"代理拒绝连接 / broker refused the connection: {reason}")
            return
        self.connected.set()

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self.counters.problem(
            "mqtt", f"MQTT 代理无法连接 / broker not reachable at {self.host}:{self.port} (retrying)"
        )

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self.connected.is_set():
            self.counters.problem("mqtt", f"与代理断开 / disconnected from the broker: {reason}")
        self.connected.clear()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        with self._lock:
            good = self._pending.pop(mid, None)
            if good is None:
                self._early[mid] = reason
                return
        self._resolve(good, reason)

    def _resolve(self, good: int, reason: Any) -> None:
        if reason is not None and getattr(reason, "is_failure", False):
            self.counters.add("mqtt", rejected=good)
            self.counters.problem("mqtt", f"PUBACK: {reason}")
        else:
            self.counters.add("mqtt", accepted=good)

    def _publish(self, topic: str, payload: bytes, *, good: int, bad: int) -> None:
        info = self.client.publish(topic, payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self.counters.add("mqtt", sent=good, failed=good, bad=bad)
            self.counters.problem("mqtt", f"publish: {mqtt.error_string(info.rc)}")
            return
        self.counters.add("mqtt", sent=good, bad=bad)
        with self._lock:
            reason = self._early.pop(info.mid, None)
            if reason is None:
                self._pending[info.mid] = good
                return
        self._resolve(good, reason)

    @staticmethod
    def messages(emissions: Sequence[Emission]) -> list[tuple[str, bytes, int, int]]:
        """(topic, payload, good readings, bad packets) per message: a bin's readings of the moment in
        one message (an array when there are several), each bad packet on its own."""
        messages = []
        for group in _by_bin(emissions).values():
            topic = readings_topic(group[0].bin.mqtt_username)
            good = [e.reading for e in group if e.bad is None and e.reading is not None]
            if good:
                messages.append((topic, mqtt_payload(good), len(good), 0))
            for emission in group:
                if emission.bad is not None and emission.reading is not None:
                    messages.append((topic, mqtt_bad_payload(emission.reading, emission.bad), 0, 1))
        return messages

    def send(self, emissions: Sequence[Emission]) -> None:
        for topic, payload, good, bad in self.messages(emissions):
            self._publish(topic, payload, good=good, bad=bad)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def poll(self, timeout: float = 0.0) -> None:
        """Nothing to drive: paho's thread does the work."""

    def close(self, timeout: float = 3.0) -> None:
        if not self._started:
            return
        deadline = time.monotonic() + timeout
        while self.in_flight() and self.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            lost = sum(self._pending.values())
            self._pending.clear()
        if lost:
            self.counters.add("mqtt", failed=lost)
        self.client.disconnect()
        self.client.loop_stop()


# --- HJ 212 ---------------------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class _Link:
    serial: str
    mn: str
    pw: str
    sock: socket.socket
    deframer: Deframer = dataclasses.field(default_factory=Deframer)
    pending: dict[str, float] = dataclasses.field(default_factory=dict)  # QN → answer deadline
    last_qn: str = ""


def _raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-files limit towards ``wanted``; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else wanted


class Hj212Sender:
    """Data loggers over TCP: one connection per bin, frames with Flag=5, 9014 answers matched by QN."""

    transport = "hj212"

    def __init__(
        self,
        host: str,
        port: int,
        counters: Counters,
        *,
        max_connections: int = 1000,
        answer_timeout: float = 10.0,
        connect_timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(CHINA),
    ) -> None:
        self.host = host
        self.port = port
        self.counters = counters
        limit = _raise_fd_limit(max_connections + 256)
        self.max_connections = max(1, min(max_connections, limit - 128))
        self.answer_timeout = answer_timeout
        self.connect_timeout = connect_timeout
        self.clock = clock
        self.wall = wall
        self.links: collections.OrderedDict[str, _Link] = collections.OrderedDict()
        self.selector = selectors.DefaultSelector()
        self.down_until = 0.0
        self.platform_requests = 0

    # -- connections ---------------------------------------------------------------------------

    def _link(self, b: SimBin) -> _Link | None:
        link = self.links.get(b.serial)
        if link is not None:
            self.links.move_to_end(b.serial)
            return link
        if self.clock() < self.down_until:
            return None
        if len(self.links) >= self.max_connections:
            idle = next((s for s, lk in self.links.items() if not lk.pending), next(iter(self.links)))
            self._close(self.links[idle], "")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            self.down_until = self.clock() + 2.0
            self.counters.problem(
                "hj212", f"HJ 212 监听无法连接 / listener not reachable at {self.host}:{self.port}: {exc}"
            )
            return None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(5.0)  # sendall; reads happen only when select says there is something
        link = _Link(serial=b.serial, mn=b.hj212_mn, pw=b.hj212_pw, sock=sock)
        self.links[b.serial] = link
        self.selector.register(sock, selectors.EVENT_READ, link)
        return link

    def _close(self, link: _Link, reason: str) -> None:
        if self.links.get(link.serial) is link:
            del self.links[link.serial]
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(link.sock)
        link.sock.close()
        if link.pending:
            self.counters.add("hj212", rejected=len(link.pending))
            link.pending.clear()
            if reason:
                self.counters.problem("hj212", f"{link.serial}: {reason}")

    # -- sending -------------------------------------------------------------------------------

    def _qn(self, link: _Link) -> str:
        """The send time to the millisecond, always later than this connection's previous QN."""
        qn = hj212_qn(self.wall())
        if qn <= link.last_qn:
            qn = str(int(link.last_qn) + 1)
        link.last_qn = qn
        return qn

    def send(self, emissions: Sequence[Emission]) -> None:
        for emission in emissions:
            reading = emission.reading
            if reading is None:
                continue
            b = emission.bin
            good = 0 if emission.bad is not None else 1
            bad = 1 - good
            link = self._link(b)
            if link is None:
                self.counters.add("hj212", sent=good, failed=good, bad=bad)
                continue
            qn = self._qn(link)
            if emission.bad is not None:
                frame = hj212_bad_frame(reading, emission.bad, mn=b.hj212_mn, pw=b.hj212_pw, qn=qn)
            else:
                frame = hj212_frame(reading, mn=b.hj212_mn, pw=b.hj212_pw, qn=qn, crc_mode=b.hj212_crc_mode)
            try:
                link.sock.sendall(frame)
            except OSError as exc:
                self._close(link, f"发送失败 / send failed: {exc}")
                self.counters.add("hj212", sent=good, failed=good, bad=bad)
                continue
            self.counters.add("hj212", sent=good, bad=bad)
            if good:
                link.pending[qn] = self.clock() + self.answer_timeout

    # -- answers -------------------------------------------------------------------------------

    def _answer_request(self, link: _Link, packet: Any) -> None:
        """A request from the platform (clock, intervals…): acknowledge it (9011) and report it done
        (9012). The simulated logger has nothing to change."""
        self.platform_requests += 1
        replies = [("9011", [("QnRtn", "1")]), ("9012", [("ExeRtn", "1")])]
        try:
            for cn, cp in replies:
                link.sock.sendall(
                    encode_packet(qn=packet.qn, st="91", cn=cn, pw=link.pw, mn=link.mn, flag=4, cp=cp)
                )
        except OSError as exc:
            self._close(link, f"发送失败 / send failed: {exc}")

    def _read(self, link: _Link) -> None:
        try:
            data = link.sock.recv(65536)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return
        except OSError as exc:
            self._close(link, f"连接出错 / connection error: {exc}")
            return
        if not data:
            self._close(link, "监听关闭了连接 / the listener closed the connection")
            return
        for frame in link.deframer.feed(data):
            if isinstance(frame, DecodeError):
                continue
            packet = decode_frame(frame, crc_modes=tuple(CrcMode))
            if isinstance(packet, DecodeError):
                self.counters.problem("hj212", f"bad answer from the listener: {packet.message}")
                continue
            if packet.cn == "9014":
                if packet.qn is not None and link.pending.pop(packet.qn, None) is not None:
                    self.counters.add("hj212", accepted=1)
            elif packet.need_ack and packet.cn not in ("9011", "9012", "9013", "9014"):
                self._answer_request(link, packet)

    def _expire(self) -> None:
        now = self.clock()
        for link in list(self.links.values()):
            late = [qn for qn, deadline in link.pending.items() if deadline <= now]
            for qn in late:
                del link.pending[qn]
            if late:
                self.counters.add("hj212", rejected=len(late))
                self.counters.problem(
                    "hj212", f"{link.serial}: 无 9014 应答 / no 9014 answer within {self.answer_timeout:g} s"
                )

    def poll(self, timeout: float = 0.0) -> None:
        """Read answers for up to ``timeout`` seconds (at least once), then expire the late ones."""
        deadline = self.clock() + timeout
        while True:
            remaining = max(0.0, deadline - self.clock())
            if self.links:
                for key, _ in self.selector.select(remaining):
                    self._read(key.data)
            elif remaining:
                time.sleep(remaining)
            self._expire()
            if self.clock() >= deadline:
                return

    def in_flight(self) -> int:
        return sum(len(link.pending) for link in self.links.values())

    def close(self, timeout: float = 3.0) -> None:
        deadline = self.clock() + timeout
        while self.in_flight() and self.clock() < deadline:
            self.poll(min(0.1, max(0.0, deadline - self.clock())))
        for link in list(self.links.values()):
            self._close(link, "")
        self.selector.close()
