"""MQTT transport throughput: QoS 1 messages/s received and acknowledged by one BatchingSubscriber.

Needs the broker on 127.0.0.1:1883 (Mosquitto). Publishers run in separate processes and send ~150-byte
JSON readings with QoS 1 to greenisle/v1/bins/bench-<run>/readings; the subscriber runs here (shared
subscription, no-op on_batch). The figure is unique messages / seconds from the start signal until the
last one was received and acknowledged. Afterwards a second connection with the same client id checks
that the broker has nothing left to redeliver (every message was acknowledged at the broker).

Publishers: ``raw`` (default) sends pre-encoded PUBLISH packets over a plain socket with 10,000 in
flight, so the 2 cores go to the broker and the subscriber; ``paho`` uses paho clients with an
unlimited in-flight window (paho needs ~60 us of CPU per published message, so on 2 cores the
publishers, not the subscriber, set the pace). Offering more than broker + subscriber can pass makes
the broker drop messages (see the mqtt_transport docstring), which shows as unique_received < messages.

Prints one JSON object. Usage:
    .venv/bin/python bench/mqtt_transport_probe.py [--messages 100000] [--publisher raw|paho] [--publishers 1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import select
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from greenisle.telemetry.mqtt_transport import (  # noqa: E402
    BatchingSubscriber,
    MqttMessage,
    readings_topic,
)


def payload(device: str, publisher_no: int, seq: int) -> bytes:
    body = {
        "publisher": publisher_no,
        "observed_at": f"2025-11-22T08:{seq // 60 % 60:02d}:{seq % 60:02d}+08:00",
        "fill_pct": round(seq % 10000 / 100, 2),
        "net_weight_kg": 12.5,
        "temperature_c": 21.0,
        "battery_pct": 87.0,
        "door_open": False,
        "sequence": seq,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def publisher(host: str, port: int, device: str, no: int, count: int, ready, go, result) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{device}-{no}", protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(0)  # unlimited window: do not wait for PUBACKs one by one
    client.max_queued_messages_set(0)
    done = threading.Event()
    acked = [0]

    def on_publish(c, userdata, mid, reason, properties):
        acked[0] += 1
        if acked[0] == count:
            done.set()

    client.on_publish = on_publish
    client.connect(host, port, 60)
    client.loop_start()
    topic = readings_topic(device)
    payloads = [payload(device, no, i) for i in range(count)]
    ready.set()
    go.wait()
    t0 = time.perf_counter()
    for p in payloads:
        client.publish(topic, p, qos=1)
    done.wait(120)
    elapsed = time.perf_counter() - t0
    client.disconnect()
    client.loop_stop()
    result.put({"publisher": no, "published": count, "acked_by_broker": acked[0], "seconds": elapsed})


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def raw_publisher(host: str, port: int, device: str, no: int, count: int, ready, go, result) -> None:
    """A minimal MQTT 3.1.1 QoS 1 publisher: pre-encoded PUBLISH packets, a window of 10,000 unacked."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client_id = f"rawpub-{device}-{no}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
    connack = sock.recv(4)
    if connack[:1] != b"\x20" or connack[3:4] != b"\x00":
        raise SystemExit(f"publisher CONNECT refused: {connack!r}")
    topic = readings_topic(device).encode()
    packets = []
    for i in range(count):
        mid = i % 65535 + 1
        body = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big") + payload(device, no, i)
        packets.append(b"\x32" + _remaining_length(len(body)) + body)
    window = 10_000
    ready.set()
    go.wait()
    t0 = time.perf_counter()
    sent = acked_bytes = 0
    sock.setblocking(False)
    pending = b""
    while acked_bytes // 4 < count:
        if not pending and sent < count and sent - acked_bytes // 4 < window:
            upto = min(count, acked_bytes // 4 + window, sent + 500)
            pending = b"".join(packets[sent:upto])
            sent = upto
        readable, writable, _ = select.select([sock], [sock] if pending else [], [], 1.0)
        if writable:
            try:
                n = sock.send(pending)
                pending = pending[n:]
            except BlockingIOError:
                pass
        if readable:
            data = sock.recv(1 << 20)
            if not data:
                raise SystemExit("broker closed the publisher connection")
            acked_bytes += len(data)  # only PUBACKs (4 bytes each) come back
    elapsed = time.perf_counter() - t0
    sock.setblocking(True)
    sock.sendall(b"\xe0\x00")
    sock.close()
    result.put({"publisher": no, "published": count, "acked_by_broker": acked_bytes // 4, "seconds": elapsed})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--publishers", type=int, default=1)
    parser.add_argument(
        "--publisher", choices=["paho", "raw"], default="raw", help="raw: pre-encoded packets, little CPU"
    )
    parser.add_argument("--max-batch", type=int, default=1000)
    parser.add_argument("--max-delay", type=float, default=0.05)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:8]
    device = f"bench-{run}"  # one topic for all publishers: other traffic on the broker stays out
    group = f"bench-{run}"
    client_id = f"bench-sub-{run}"
    n = args.messages
    seen: set[bytes] = set()  # payloads are unique per (device, sequence)
    batch_sizes: list[int] = []
    first_at: list[float] = []

    def on_batch(batch: list[MqttMessage]) -> None:
        if not first_at:
            first_at.append(time.perf_counter())
        batch_sizes.append(len(batch))
        seen.update(m.payload for m in batch)

    sub = BatchingSubscriber(
        args.host,
        args.port,
        client_id=client_id,
        share_group=group,
        topic_filter=readings_topic(device),
        on_batch=on_batch,
        max_batch=args.max_batch,
        max_delay=args.max_delay,
        session_expiry=60,
    )
    stop = threading.Event()
    worker = threading.Thread(target=sub.run_forever, args=(stop,), daemon=True)
    worker.start()
    if not sub.connected.wait(10):
        raise SystemExit("subscriber did not connect")

    ctx = mp.get_context("fork")
    ready = [ctx.Event() for _ in range(args.publishers)]
    go = ctx.Event()
    results: mp.Queue = ctx.Queue()
    per = [n // args.publishers + (1 if i < n % args.publishers else 0) for i in range(args.publishers)]
    procs = [
        ctx.Process(
            target=raw_publisher if args.publisher == "raw" else publisher,
            args=(args.host, args.port, device, i, per[i], ready[i], go, results),
        )
        for i in range(args.publishers)
    ]
    for p in procs:
        p.start()
    for r in ready:
        r.wait(30)
    cpu0 = os.times()
    t0 = time.perf_counter()
    go.set()
    last_count, t1 = -1, t0
    while True:
        s = sub.stats
        count = len(seen)
        if count != last_count:
            last_count, t1 = count, time.perf_counter()
        if count >= n and s.acked + s.discarded >= s.received:
            t1 = time.perf_counter()
            break
        if time.perf_counter() - t1 > 5:  # no progress for 5 s: the rest was dropped by the broker
            break
        time.sleep(0.002)
    cpu1 = os.times()
    pubs = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join()
    stop.set()
    worker.join(10)
    stats = sub.stats

    # Nothing may be left unacknowledged in the session: reconnect and count redeliveries.
    redelivered: list[MqttMessage] = []
    check = BatchingSubscriber(
        args.host,
        args.port,
        client_id=client_id,
        share_group=group,
        topic_filter=readings_topic(device),
        on_batch=redelivered.extend,
        session_expiry=0,
    )
    stop2 = threading.Event()
    t = threading.Thread(target=check.run_forever, args=(stop2,), daemon=True)
    t.start()
    check.connected.wait(10)
    time.sleep(0.5)
    stop2.set()
    t.join(10)

    elapsed = t1 - t0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(
        json.dumps(
            {
                "messages": n,
                "publishers": args.publishers,
                "publisher": args.publisher,
                "received": stats.received,
                "acked": stats.acked,
                "batches": stats.batches,
                "mean_batch": round(sum(batch_sizes) / max(len(batch_sizes), 1), 1),
                "redelivered_during_run": stats.redelivered,
                "resyncs": stats.resyncs,
                "skipped_packet_ids": stats.skipped_ids,
                "left_unacked_after_run": len(redelivered),
                "seconds": round(elapsed, 3),
                "unique_received": len(seen),
                "messages_per_s": round(len(seen) / elapsed),
                "first_batch_after_s": round(first_at[0] - t0, 4) if first_at else None,
                "publish_seconds_max": round(max(p["seconds"] for p in pubs), 3),
                "publish_msgs_per_s": round(n / max(p["seconds"] for p in pubs)),
                "subscriber_cpu_s": round(cpu, 3),
                "subscriber_cpu_us_per_msg": round(cpu / max(stats.received, 1) * 1e6, 1),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
