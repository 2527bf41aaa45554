"""MQTT transport for smart-bin readings: a batching QoS 1 subscriber that acknowledges after commit.

No Django imports; the ingest listener passes a callback that commits a batch of readings.

Topic scheme
    A device publishes its readings to ``greenisle/v1/bins/{device}/readings`` where ``{device}`` is
    its MQTT username: one topic level of 1..64 characters without ``/``, ``+``, ``#`` or NUL
    (``readings_topic`` refuses anything else). Listeners subscribe to ``READINGS_FILTER``
    (``greenisle/v1/bins/+/readings``) and read the device back with ``device_from_topic``. The broker
    ACL should let a device publish only below its own username, so the level identifies the sender.

QoS and acknowledge-after-commit
    Readings are published with QoS 1. The client runs with paho's ``manual_ack``: a message's PUBACK
    is sent only after ``on_batch`` returned, i.e. after the batch was committed; an acknowledged
    message is never lost. Delivery is *at least once*: a batch committed whose PUBACKs did not reach
    the broker (crash, lost connection) comes again with DUP set, so ``on_batch`` must be idempotent
    (the ingest path stores a reading once per device and observation time). If ``on_batch`` raises,
    nothing of that batch is acknowledged; the subscriber disconnects and resumes its persistent
    session, and the broker resends every unacknowledged QoS 1 message with DUP=1. Messages received
    on that connection but not yet handed to ``on_batch`` are dropped locally (also unacknowledged,
    also resent). QoS 0 messages are handed over and never acknowledged.

Sessions
    MQTT v5, ``clean_start=False``, a stable client id and a Session Expiry Interval: while a listener
    is down the broker keeps its subscription and queues QoS 1 messages for it (at most
    ``max_queued_messages``, see below); in-flight messages are resent when it comes back. Because the
    recovery paths above rely on the session outliving a connection, the CONNECT asks for at least
    10 s; a shorter ``session_expiry`` (e.g. 0) is applied by the DISCONNECT of a clean stop.

Shared subscriptions (``share_group``)
    Several listener processes join ``$share/<group>/greenisle/v1/bins/+/readings``, each with its own
    stable client id; the broker gives each message to one member (round robin in Mosquitto).
    Measured on Mosquitto 2.0.11 (tests/telemetry/test_mqtt_transport.py covers the first point):

    - 2,000 messages to two live members: 1,000 each, none to both, none missing.
    - Mosquitto keeps choosing a member whose persistent session is offline: with one of two members
      down, the live member got 2,500 of 5,000 messages; the offline session queued 1,000
      (``max_queued_messages``) and 1,500 were dropped ("Outgoing messages are being dropped" in the
      broker log). A member that leaves with Session Expiry 0 in its DISCONNECT is out of the group at
      once (the other member then got 2,000 of 2,000).
    - Unacknowledged messages in flight to a member that disconnects stay in that member's session;
      they are not given to another member but resent, with DUP, when it reconnects.

    So a dead listener holds its share of the stream until it reconnects or its session expires, and
    beyond ``max_queued_messages`` that share is lost: restart listeners quickly, keep the session
    expiry short (default 300 s), and raise the broker's queue limits (below).

Flow control: what limits in-flight messages (Mosquitto 2.0.11, default config: ``max_inflight_messages``
20, ``max_queued_messages`` 1000; a subscriber that reads but never acknowledges, 5,000 published)
    - MQTT 3.1.1 subscriber: 20 delivered (``max_inflight_messages``). MQTT v5 subscriber without a
      Receive Maximum property: also 20 (Mosquitto does not use the protocol default of 65,535).
      Receive Maximum 100: 100. Receive Maximum 65,535: all 5,000, and 65,535 of 70,000. For v5
      clients the announced Receive Maximum replaces ``max_inflight_messages``, also upwards. This
      client is v5 and announces ``receive_maximum`` (default 65,535) so that batches of 1,000 fill up
      while the previous batch is being committed.
    - Beyond the window the broker queues per client up to ``max_queued_messages`` and then *drops*,
      QoS 1 included (the publisher has already had its PUBACK): Receive Maximum 100 -> 100 + 1,000 of
      5,000 delivered; 65,535 -> 65,535 + 1,000 of 70,000. Offline persistent session: 1,000 of 5,000
      kept (the in-flight window does not count for an offline client). Dropped messages use up packet
      ids: after 1,100 delivered, the next message had packet id 5,001.
    - The same 1,000 limit applies to the broker's write queue of a connection. When the subscriber
      reads slower than messages arrive and the socket buffers are full, further PUBLISH packets are
      dropped from the wire but stay "in flight" in the session: not lost, but stuck until the client
      reconnects, and they use up the Receive Maximum. A subscriber that did not read while 20,000
      messages were published got 18,658 of them; the other 1,342 came only after a reconnect (DUP).
      This client therefore (1) keeps reading while a batch is committed (received messages wait in
      memory, at most Receive Maximum of them), (2) watches packet ids, which Mosquitto assigns per
      client in sending order (1..65535, then 1 again), and (3) notes a read that found a backlog of
      1,000 or more messages. After a skipped id (a stuck or a dropped message; the two look alike) or
      a backlog followed by silence, it *resyncs*: once everything received is acknowledged (or 1 s
      after the skipped id), it disconnects and resumes the session; the broker resends the stuck
      messages (``stats.resyncs``, ``stats.skipped_ids``).
    - Mosquitto reuses the packet id of a message still in flight once its counter wraps around, and
      a PUBACK removes the oldest in-flight message with that id. 40,000 messages published while a
      plain paho subscriber did not read (17,147 delivered, the rest stuck), then 60,000 more, each
      acknowledged on arrival: 17,318 stuck messages were removed by PUBACKs meant for newer ones, i.e.
      lost. This client remembers the skipped ids of a connection; if one comes again it sends no more
      PUBACKs on that connection and resyncs at once. The same scenario through this client: 99,932
      and 99,937 of 100,000 delivered; the rest was dropped by the broker's queue limit (stuck messages
      count against the Receive Maximum).
    - The broker handles a connection's packets in order but may lag behind in reading them: with two
      publishers sending flat out, ~4,600 PUBACKs waited in the broker's receive queue of the
      subscriber's socket, and 4,000-40,000 were still unread when the subscriber closed the socket
      at once (paho's ``disconnect()``) and the next connection with the same client id took the
      session over, so those messages were delivered again. This client sends DISCONNECT and reads
      until the broker closes the connection before it reconnects or stops: then every PUBACK sent
      before has been processed.
    - Overload is lost at the broker: two publishers offering 52,000-60,000 msg/s to one subscriber
      (more than this 2-core machine passes through broker and subscriber) lost ~85,000 of 300,000
      messages to the queue limit. For production set ``max_queued_messages 0`` (no count limit; it
      also removes the write-queue limit) with a ``max_queued_bytes`` cap, and add listeners.

Threads and manual acknowledgement in paho-mqtt 2.2.0
    ``Client(manual_ack=True)`` / ``manual_ack_set(True)`` stops the automatic PUBACK after
    ``on_message``; ``client.ack(mid, qos)`` queues the PUBACK (``_send_puback`` -> ``_packet_queue``). It
    is not safe to call from an arbitrary thread: ``_packet_queue`` appends to paho's outgoing deque and,
    when no ``loop_start()`` thread exists (``loop()``/``loop_forever()`` driven from a thread of our own)
    and no callback is running, calls ``loop_write()`` right away from the calling thread, racing the
    network thread's writes of partially sent packets. With ``loop_start()`` it only appends and wakes the
    loop, but an ack can then still cross a reconnect and acknowledge, with a packet id the broker has
    reused, a different message. Design here: one network thread owns the client and drives it with the
    external-loop API (``socket()``, ``loop_read()``, ``loop_write()``, ``loop_misc()``) and ``select``;
    it passes received messages to the caller's thread in bursts; the caller's thread batches, calls
    ``on_batch`` and returns the packet ids through a deque tagged with the connection generation; the
    network thread sends the PUBACKs (one write for a whole batch when paho's queue is empty) and only for
    the connection the messages came from.

    The client (``mqtt_wire.WireClient``) replaces paho 2.2's receive path for QoS 0/1 PUBLISH with
    a leaner one; that module has the figures.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import queue
import random
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from greenisle.telemetry.mqtt_wire import FAST_PATH, WireClient

__all__ = [
    "MAX_DEVICE_ID_LENGTH",
    "READINGS_FILTER",
    "READINGS_QOS",
    "READINGS_TOPIC_TEMPLATE",
    "BatchingSubscriber",
    "MqttMessage",
    "SubscriberStats",
    "device_from_topic",
    "is_valid_device_id",
    "readings_topic",
    "shared_filter",
]

READINGS_TOPIC_TEMPLATE = "greenisle/v1/bins/{device}/readings"
READINGS_FILTER = "greenisle/v1/bins/+/readings"
READINGS_QOS = 1
MAX_DEVICE_ID_LENGTH = 64

_TOPIC_PREFIX = "greenisle/v1/bins/"
_TOPIC_SUFFIX = "/readings"
_FORBIDDEN = frozenset("/+#\x00")
_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS

_log = logging.getLogger(__name__)


def is_valid_device_id(device: object) -> bool:
    """A device id (the MQTT username) fits one topic level: 1..64 chars, no ``/``, ``+``, ``#``, NUL."""
    return (
        isinstance(device, str) and 0 < len(device) <= MAX_DEVICE_ID_LENGTH and _FORBIDDEN.isdisjoint(device)
    )


def readings_topic(device: str) -> str:
    """The topic a device publishes its readings to; ValueError for an unusable device id."""
    if not is_valid_device_id(device):
        raise ValueError(f"invalid device id for an MQTT topic level: {device!r}")
    return _TOPIC_PREFIX + device + _TOPIC_SUFFIX


def device_from_topic(topic: str) -> str | None:
    """The device of a readings topic, or None if the topic is not a valid readings topic."""
    if not (topic.startswith(_TOPIC_PREFIX) and topic.endswith(_TOPIC_SUFFIX)):
        return None
    device = topic[len(_TOPIC_PREFIX) : len(topic) - len(_TOPIC_SUFFIX)]
    return device if is_valid_device_id(device) else None


def shared_filter(group: str, topic_filter: str) -> str:
    """``$share/<group>/<filter>``; the group name is one topic level without wildcards."""
    if not group or not _FORBIDDEN.isdisjoint(group):
        raise ValueError(f"invalid shared subscription group: {group!r}")
    return f"$share/{group}/{topic_filter}"


@dataclasses.dataclass(frozen=True, slots=True)
class MqttMessage:
    topic: str
    payload: bytes
    mid: int  # MQTT packet identifier, unique only among this connection's unacknowledged messages
    qos: int
    retain: bool
    dup: bool  # set on redelivery: the message may have been handed to on_batch before


@dataclasses.dataclass(slots=True)
class SubscriberStats:
    """Counters; each is written by one thread. ``BatchingSubscriber.stats`` returns a copy."""

    received: int = 0  # PUBLISH packets received, redeliveries included
    acked: int = 0  # PUBACKs sent
    batches: int = 0  # on_batch calls that returned
    callback_errors: int = 0  # on_batch calls that raised
    discarded: int = 0  # received, then dropped unacknowledged (the broker redelivers them)
    redelivered: int = 0  # received with DUP set
    connects: int = 0  # successful CONNACKs
    resyncs: int = 0  # reconnects to recover messages stuck in the broker (see "Flow control")
    skipped_ids: int = 0  # packet ids the broker skipped: messages it dropped, or stuck ones


# The receive path of each new client (``mqtt_wire``); paho's own code runs when it is off.
_FAST_PATH = FAST_PATH
_MIN_SESSION_EXPIRY = 10  # seconds


_Burst = tuple[int, list[MqttMessage]]  # (connection generation, messages in arrival order)


class BatchingSubscriber:
    """Receive QoS 1 messages, hand them to ``on_batch`` in batches, PUBACK them after it returned.

    ``run_forever`` blocks the calling thread, which runs ``on_batch``; a daemon thread owns the
    connection. A batch closes at ``max_batch`` messages or ``max_delay`` seconds after its first
    message. See the module docstring for the delivery guarantees.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        share_group: str | None,
        topic_filter: str,
        on_batch: Callable[[list[MqttMessage]], None],
        max_batch: int = 1000,
        max_delay: float = 0.05,
        receive_maximum: int = 65535,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
        session_expiry: int = 300,
        reconnect_delay: tuple[float, float] = (0.1, 10.0),
        logger: logging.Logger = _log,
    ) -> None:
        if not client_id:
            raise ValueError("a stable client_id is required for a persistent session")
        if max_batch < 1 or max_delay < 0:
            raise ValueError("max_batch must be >= 1 and max_delay >= 0")
        if not 0 <= session_expiry <= 0xFFFFFFFF:
            raise ValueError("session_expiry must be within 0..4294967295 seconds")
        if not 1 <= receive_maximum <= 65535:
            raise ValueError("receive_maximum must be within 1..65535")
        self.host = host
        self.port = port
        self.client_id = client_id
        self.subscription = shared_filter(share_group, topic_filter) if share_group else topic_filter
        self.on_batch = on_batch
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.receive_maximum = receive_maximum
        self.username = username
        self.password = password
        self.keepalive = keepalive
        self.session_expiry = session_expiry
        self.reconnect_delay = reconnect_delay
        self.log = logger
        # Resync (see "Flow control"): wait this long for the local pipeline to drain first.
        self.resync_after = 1.0
        self.idle_resync_after = max(0.5, 10 * max_delay)

        self._stats = SubscriberStats()
        self._connected = threading.Event()
        self._running = False
        # Shared between the worker (run_forever's thread) and the network thread:
        self._gen = 0  # connection generation, written by the network thread only
        self._inbox: queue.SimpleQueue[_Burst] = queue.SimpleQueue()  # network -> worker
        self._acks: collections.deque[tuple[int, list[int]]] = collections.deque()  # worker -> network
        self._resets: collections.deque[tuple[int, str]] = collections.deque()  # (gen, why): drop that gen
        self._net_stop = threading.Event()
        self._net_error: BaseException | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        # Worker only:
        self._carry: _Burst | None = None
        self._failures = 0
        # Network thread only:
        self._burst: list[MqttMessage] = []
        self._expect_mid = 0  # next packet id the broker should use, 0 = unknown
        self._gap_at: float | None = None  # when a skipped packet id was seen
        self._skipped_now = 0
        self._holes: set[int] = set()  # skipped packet ids of this connection
        self._id_reused = False  # a skipped packet id came again: no more PUBACKs on this connection
        self._behind = False  # a read burst found a large backlog in the socket
        self._conn_due = 0  # QoS 1 messages received on this connection
        self._conn_acked = 0
        self._net_discarded = 0  # SubscriberStats.discarded is the worker's
        self._last_publish_at = 0.0

    # -- public ------------------------------------------------------------------------------------

    @property
    def stats(self) -> SubscriberStats:
        stats = dataclasses.replace(self._stats)
        stats.discarded += self._net_discarded
        return stats

    @property
    def connected(self) -> threading.Event:
        """Set while connected with the subscription acknowledged by the broker."""
        return self._connected

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Consume until ``stop`` is set; then finish the batch in progress, ack it and disconnect.

        Reconnects with jittered exponential backoff while the broker is unreachable. An exception
        from ``on_batch`` is logged and leads to a redelivery; it does not end the loop.
        """
        if self._running:
            raise RuntimeError("run_forever is already running")
        self._running = True
        stop = stop if stop is not None else threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._net_stop.clear()
        self._net_error = None
        net = threading.Thread(target=self._net_main, name=f"mqtt-{self.client_id}", daemon=True)
        net.start()
        try:
            while not stop.is_set() and net.is_alive():
                item = self._next_batch(stop)
                if item is not None:
                    self._process(item[0], item[1], stop)
        finally:
            self._net_stop.set()
            self._wake()
            net.join()
            self._wake_r.close()
            self._wake_w.close()
            self._wake_r = self._wake_w = None
            self._carry = None
            while not self._inbox.empty():
                self._stats.discarded += len(self._inbox.get_nowait()[1])
            self._acks.clear()
            self._resets.clear()
            self._running = False
        if self._net_error is not None:
            raise RuntimeError("MQTT network thread failed") from self._net_error

    # -- worker side (the thread that called run_forever) --------------------------------------------

    def _next_batch(self, stop: threading.Event) -> _Burst | None:
        """The next batch of the current connection, or None to let the caller check ``stop``."""
        batch: list[MqttMessage] = []
        gen = -1
        deadline = 0.0
        max_batch = self.max_batch
        while True:
            if self._carry is not None:
                item, self._carry = self._carry, None
            else:
                if stop.is_set():  # not started yet: leave it unacknowledged, it is redelivered
                    self._stats.discarded += len(batch)
                    return None
                if batch:
                    timeout = deadline - time.monotonic()
                    if timeout <= 0:
                        return gen, batch
                else:
                    timeout = 0.1
                try:
                    item = self._inbox.get(timeout=min(timeout, 0.1))
                except queue.Empty:
                    if not batch:
                        return None
                    continue
            item_gen, msgs = item
            if item_gen != self._gen:  # from a connection that is gone: redelivered on the new one
                self._stats.discarded += len(msgs)
                continue
            if item_gen != gen:  # a newer connection: the batch so far is stale
                self._stats.discarded += len(batch)
                batch, gen, deadline = [], item_gen, time.monotonic() + self.max_delay
            room = max_batch - len(batch)
            if len(msgs) > room:
                batch.extend(msgs[:room])
                self._carry = (item_gen, msgs[room:])
                return gen, batch
            batch.extend(msgs)
            if len(batch) >= max_batch:
                return gen, batch

    def _process(self, gen: int, batch: list[MqttMessage], stop: threading.Event) -> None:
        if gen != self._gen:
            self._stats.discarded += len(batch)
            return
        try:
            self.on_batch(batch)
        except Exception:
            self._stats.callback_errors += 1
            self._stats.discarded += len(batch)
            self.log.exception(
                "mqtt on_batch failed for %d messages; not acknowledged, reconnecting to get them again",
                len(batch),
            )
            self._resets.append((gen, "on_batch failed"))
            self._wake()
            # Back off while the callback keeps failing (e.g. database down): 0.1 s, 0.2 s, ... 5 s.
            self._failures += 1
            stop.wait(min(0.1 * 2 ** (self._failures - 1), 5.0))
            return
        self._failures = 0
        self._stats.batches += 1
        mids = [m.mid for m in batch if m.qos]
        if mids:
            self._acks.append((gen, mids))
            self._wake()

    def _wake(self) -> None:
        wake_w = self._wake_w
        if wake_w is not None:
            with contextlib.suppress(OSError):  # BlockingIOError: a wake-up is pending anyway
                wake_w.send(b"\0")

    # -- network thread ------------------------------------------------------------------------------

    def _new_client(self) -> WireClient:
        client = WireClient(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        client.manual_ack_set(True)
        client.fast_path = _FAST_PATH
        client._sink = self._sink
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message  # QoS 2, or paho versions without the fast path
        return client

    def _sink(self, topic: str, payload: bytes, mid: int, qos: int, retain: bool, dup: bool) -> None:
        self._burst.append(MqttMessage(topic, payload, mid, qos, retain, dup))
        if qos:
            self._conn_due += 1  # to be acknowledged
            # Mosquitto numbers a client's outgoing QoS>0 messages 1, 2, ... 65535, 1, ... in the order
            # it sends them; a skipped number means a message never reached this socket.
            expect = self._expect_mid
            if mid != expect and expect:
                self._note_gap(mid, expect)
            elif self._holes and mid in self._holes:
                # The broker reuses packet ids of messages still in flight, and a PUBACK removes the
                # oldest in-flight message with that id: acking this one would drop the stuck one.
                self._id_reused = True
            self._expect_mid = mid % 65535 + 1

    def _note_gap(self, mid: int, expect: int) -> None:
        skipped = (mid - expect) % 65535
        self._skipped_now += skipped
        self._stats.skipped_ids += skipped
        if self._holes and mid in self._holes:
            self._id_reused = True
        self._holes.update((expect - 1 + i) % 65535 + 1 for i in range(skipped))
        if self._gap_at is None:
            self._gap_at = time.monotonic()

    def _on_message(self, client: mqtt.Client, userdata: Any, m: mqtt.MQTTMessage) -> None:
        self._sink(m.topic, m.payload, m.mid, m.qos, m.retain, m.dup)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            self.log.error("mqtt connection to %s:%s refused: %s", self.host, self.port, reason)
            return
        self._stats.connects += 1
        self.log.info(
            "mqtt connected to %s:%s as %s (session present: %s)",
            self.host,
            self.port,
            self.client_id,
            flags.session_present,
        )
        # Subscribing again on a resumed session is harmless and picks up a changed filter.
        options = SubscribeOptions(qos=READINGS_QOS, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe(self.subscription, options=options)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            self.log.error("mqtt subscription to %s refused: %s", self.subscription, failed)
            self._resets.append((self._gen, "subscription refused"))  # reconnect with backoff
            return
        self._connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if flags.is_disconnect_packet_from_server:
            # e.g. "Session taken over": another listener uses the same client id.
            self.log.warning("mqtt: the broker disconnected %s: %s", self.client_id, reason)

    def _net_main(self) -> None:
        try:
            self._net_loop()
        except BaseException as exc:  # reported by run_forever
            self._net_error = exc
            self.log.exception("mqtt network thread crashed")

    def _net_loop(self) -> None:
        client = self._new_client()
        props = Properties(PacketTypes.CONNECT)
        # Reconnects that rely on redelivery (on_batch failed, resync, lost connection) need the session
        # to outlive the connection, so it is at least _MIN_SESSION_EXPIRY; a shorter session_expiry is
        # applied by the final DISCONNECT.
        props.SessionExpiryInterval = max(self.session_expiry, _MIN_SESSION_EXPIRY)
        props.ReceiveMaximum = self.receive_maximum
        delay_min, delay_max = self.reconnect_delay
        delay = delay_min
        backoff = False  # wait before the next connection attempt
        wake_r = self._wake_r
        assert wake_r is not None
        need_connect = True
        while not self._net_stop.is_set():
            if need_connect or client.socket() is None:
                self._invalidate()
                if backoff:
                    if self._net_stop.wait(delay * (0.5 + random.random() / 2)):
                        break
                    delay = min(delay * 2, delay_max)
                backoff = True
                client.reset_buffer()
                try:
                    # Closes the previous socket; clean_start=False resumes the session.
                    client.connect(self.host, self.port, self.keepalive, clean_start=False, properties=props)
                except OSError as exc:
                    self.log.warning("mqtt connect to %s:%s failed: %s", self.host, self.port, exc)
                    continue
                need_connect = False
                self._gen += 1
                continue

            sock = client.socket()
            buffered = client.buffered()
            try:
                readable, writable, _ = select.select(
                    [sock, wake_r], [sock] if client.want_write() else [], [], 0 if buffered else 0.25
                )
            except (OSError, ValueError):
                need_connect = True
                continue
            if wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    wake_r.recv(4096)
            rc = _SUCCESS
            if buffered or sock in readable:
                rc = self._read_burst(client)
                if self._connected.is_set():
                    delay = delay_min
            if rc == _SUCCESS:
                rc = self._send_acks(client)
            if rc == _SUCCESS and (
                self._resets or self._gap_at is not None or self._behind or self._id_reused
            ):
                reason = self._reset_reason()
                if reason:
                    failed = reason in ("on_batch failed", "subscription refused")
                    self.log.log(
                        logging.WARNING if failed or self._skipped_now else logging.INFO,
                        "mqtt: reconnecting (%s; %d packet ids skipped) so that the broker resends what "
                        "is not acknowledged",
                        reason,
                        self._skipped_now,
                    )
                    if not failed:
                        self._stats.resyncs += 1
                        backoff = False
                    self._send_acks(client)  # of batches that succeeded before the one that failed
                    self._disconnect(client)
                    need_connect = True
                    continue
            if rc == _SUCCESS and (sock in writable or client.want_write()):
                rc = client.loop_write()
            if rc == _SUCCESS:
                rc = client.loop_misc()  # keepalive
            if rc != _SUCCESS or client.socket() is None:
                self.log.warning(
                    "mqtt connection to %s:%s lost: %s", self.host, self.port, mqtt.error_string(rc)
                )
                need_connect = True

        # Stop: the worker finished its last batch; send its PUBACKs, then DISCONNECT.
        if not need_connect and client.socket() is not None:
            self._send_acks(client)
            self._disconnect(
                client, expiry=self.session_expiry if self.session_expiry < _MIN_SESSION_EXPIRY else None
            )
        self._invalidate()

    def _disconnect(self, client: WireClient, expiry: int | None = None, timeout: float = 5.0) -> None:
        """DISCONNECT and read until the broker closes the connection.

        The session stays for the Session Expiry Interval of the CONNECT, or ``expiry`` seconds if given.

        The broker handles a connection's packets in order, so when it closes after our DISCONNECT it
        has processed every PUBACK sent before. Closing at once instead (as paho's ``disconnect()``
        does) and reconnecting lets the new connection take the session over while PUBACKs still
        sit unread in the old socket: they are lost and the messages are delivered again.
        Messages arriving meanwhile are dropped unacknowledged; the broker resends them.
        """
        self._invalidate()
        sock = client.socket()
        if sock is None:
            return
        deadline = time.monotonic() + timeout
        while client.want_write() and client.socket() is not None and time.monotonic() < deadline:
            select.select([], [sock], [], 0.1)
            if client.loop_write() != _SUCCESS:
                break
        # DISCONNECT, reason 0 (normal), no properties / with a Session Expiry Interval (0x11).
        packet = b"\xe0\x00" if expiry is None else b"\xe0\x07\x00\x05\x11" + expiry.to_bytes(4, "big")
        if client.socket() is None or client.want_write() or not self._write_all(sock, packet):
            return  # the socket is closed by the next connect()
        while client.socket() is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.log.warning("mqtt: the broker did not close the connection after DISCONNECT")
                break
            if not client.buffered():
                select.select([sock], [], [], remaining)
            if client.loop_read() != _SUCCESS:
                break  # end of stream: paho closed the socket
            self._net_discarded += len(self._burst)
            self._burst = []
        self._net_discarded += len(self._burst)
        self._burst = []

    def _read_burst(self, client: WireClient) -> MQTTErrorCode:
        """Read the packets the kernel has buffered (paho's loop_read reads one packet per call)."""
        burst = self._burst
        rc = _SUCCESS
        for _ in range(4096):
            before = len(burst)
            client.read_publishes()
            rc = client.loop_read()
            if rc != _SUCCESS or len(burst) == before:
                break
        if burst:
            n = len(burst)
            if n >= 1000:
                self._behind = True
            self._burst = []
            self._stats.received += n
            self._last_publish_at = time.monotonic()
            dups = sum([m.dup for m in burst])
            if dups:
                self._stats.redelivered += dups
            self._inbox.put((self._gen, burst))
        return rc

    def _send_acks(self, client: WireClient) -> MQTTErrorCode:
        """Send the PUBACKs of processed batches of the current connection."""
        acks = self._acks
        gen = -1 if self._id_reused else self._gen  # see _sink: then only a resync is safe
        mids: list[int] = []
        while acks:
            ack_gen, batch_mids = acks.popleft()
            if ack_gen == gen:
                mids.extend(batch_mids)
            # else: processed, but that connection is gone; the broker redelivers them
        if not mids:
            return _SUCCESS
        sock = client.socket()
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        if client.want_write():
            # paho has a partly written packet queued: queue the PUBACKs behind it, one by one.
            for mid in mids:
                rc = client.ack(mid, READINGS_QOS)
                if rc not in (_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                    return rc
        else:
            # paho's queue is empty and this thread is the only writer, so the PUBACKs can go out as
            # one write (paho sends each packet with its own send() call).
            data = b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in mids)
            if not self._write_all(sock, data):
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
        self._stats.acked += len(mids)
        self._conn_acked += len(mids)
        return _SUCCESS

    def _write_all(self, sock: Any, data: bytes) -> bool:
        view = memoryview(data)
        deadline = time.monotonic() + max(self.keepalive, 5)
        while view:
            try:
                sent = sock.send(view)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self.log.warning("mqtt write failed: %s", exc)
                return False
            view = view[sent:]
            if view:
                if time.monotonic() > deadline:
                    self.log.warning("mqtt write timed out")
                    return False
                select.select([], [sock], [], 0.1)
        return True

    def _reset_reason(self) -> str | None:
        """Whether to drop the connection now so that the broker resends unacknowledged messages."""
        resets = self._resets
        why = None
        while resets:
            gen, reason = resets.popleft()
            if gen == self._gen:
                why = reason
        if why:
            return why
        if self._id_reused:
            return "a skipped packet id was reused"
        now = time.monotonic()
        drained = self._conn_due == self._conn_acked  # nothing received is still being processed
        quiet = now - self._last_publish_at
        if self._gap_at is not None and (
            (drained and quiet >= 2 * self.max_delay) or now - self._gap_at >= self.resync_after
        ):
            return "a skipped packet id: messages stuck in the broker"
        if self._behind and drained and quiet >= self.idle_resync_after:
            return "idle after a backlog: messages may be stuck in the broker"
        return None

    def _invalidate(self) -> None:
        """Forget the current connection: what it delivered and did not ack is redelivered."""
        self._net_discarded += len(self._burst)
        self._burst = []
        self._connected.clear()
        self._gen += 1
        self._expect_mid = 0
        self._gap_at = None
        self._skipped_now = 0
        self._holes.clear()
        self._id_reused = False
        self._behind = False
        self._conn_due = self._conn_acked = 0
