"""HJ 212 listener throughput: packets/s from send to 9014 received (= committed), over many connections.

Three processes: this one provisions bins on the database DATABASE_URL names (a throw-away SQLite in a
temp dir when unset; run migrations first on a fresh one: this script does), then starts
``greenisle hj212_listener`` in a subprocess and an asyncio (uvloop) load generator in another. The
generator opens ``--connections`` TCP connections (one bin each, MN ``HJB000001``…), warms each up with
one 9015 heartbeat (directory lookup, connection set-up: not timed), then every connection sends
``--packets`` CN=2011 packets with Flag=5, keeping ``--pipeline`` of them unanswered at a time (1: send,
wait for the 9014, send the next). A 9014 is written only after the batch holding the reading has
committed, so answered packets/s is committed packets/s. Afterwards the stored readings are counted,
the listener gets SIGTERM and its final counters are included. Prints one JSON object.

Usage (use a fresh database on PostgreSQL):
    psql -h 127.0.0.1 -U postgres -c 'create database gi_hj212_bench'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gi_hj212_bench \\
        .venv/bin/python bench/hj212_probe.py [--connections 1000] [--packets 20] [--pipeline 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PW = "bench-pw-123456"
MN_PREFIX = "HJB"


def mn_of(index: int) -> str:
    return f"{MN_PREFIX}{index:06d}"


# --------------------------------------------------------------------------------------------------------
# Load generator (its own process)


def load_generator(
    port: int, connections: int, packets: int, pipeline: int, start_ts: float, ready: Any, go: Any, out: Any
) -> None:
    import asyncio
    import collections

    import uvloop

    sys.path.insert(0, str(ROOT / "src"))
    from greenisle.telemetry.hj212.codec import encode_packet

    beijing = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime.fromtimestamp(start_ts, dt.UTC)

    def frames_for(index: int) -> list[bytes]:
        frames = []
        for k in range(packets):
            at = (start + dt.timedelta(seconds=k)).astimezone(beijing)
            stamp = at.strftime("%Y%m%d%H%M%S")
            frames.append(
                encode_packet(
                    qn=f"{stamp}{k % 1000:03d}",
                    st="A1",
                    cn="2011",
                    pw=PW,
                    mn=mn_of(index),
                    flag=5,
                    cp=(
                        f"DataTime={stamp};a01001-Rtd=21.5,a01001-Flag=N;i43001-Rtd={20 + k % 50}.5,"
                        f"i43001-Flag=N;i43002-Rtd=152.30,i43002-Flag=N"
                    ),
                )
            )
        return frames

    latencies: list[float] = []

    class Client(asyncio.Protocol):
        def __init__(self, frames: list[bytes], heartbeat: bytes) -> None:
            self.frames = frames
            self.heartbeat = heartbeat
            self.next = 0
            self.sent_at: collections.deque[float] = collections.deque()
            self.answered = 0
            self.warm = False
            self.warmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            transport.write(self.heartbeat)

        def go(self) -> None:
            for _ in range(pipeline):
                self._send()

        def _send(self) -> None:
            if self.next < len(self.frames):
                self.sent_at.append(time.perf_counter())
                self.transport.write(self.frames[self.next])
                self.next += 1

        def data_received(self, data: bytes) -> None:
            count = data.count(b"\n")  # every answer ends with CRLF
            if not self.warm and count:
                self.warm = True
                count -= 1
                self.warmed.set_result(None)
            now = time.perf_counter()
            for _ in range(count):
                latencies.append(now - self.sent_at.popleft())
                self.answered += 1
                self._send()
            if self.answered == len(self.frames) and not self.finished.done():
                self.finished.set_result(None)

        def connection_lost(self, exc: Exception | None) -> None:
            for future in (self.warmed, self.finished):
                if not future.done():
                    future.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        all_frames = [frames_for(i) for i in range(connections)]
        heartbeats = [
            encode_packet(qn="20250101000000000", st="A1", cn="9015", pw=PW, mn=mn_of(i), flag=9, cp="")
            for i in range(connections)
        ]
        clients: list[Client] = []
        t_connect = time.perf_counter()
        for chunk in range(0, connections, 200):
            made = await asyncio.gather(
                *(
                    loop.create_connection(
                        lambda i=i: Client(all_frames[i], heartbeats[i]), "127.0.0.1", port
                    )
                    for i in range(chunk, min(chunk + 200, connections))
                )
            )
            clients.extend(protocol for _, protocol in made)
        await asyncio.wait_for(asyncio.gather(*(c.warmed for c in clients)), 120)
        warmup_s = time.perf_counter() - t_connect
        ready.set()
        await loop.run_in_executor(None, go.wait)
        t0 = time.perf_counter()
        for client in clients:
            client.go()
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.gather(*(c.finished for c in clients)), 600)
        except TimeoutError:
            timed_out = True
        elapsed = time.perf_counter() - t0
        answered = sum(c.answered for c in clients)
        for client in clients:
            client.transport.close()
        latencies.sort()

        def pct(p: float) -> float | None:
            return (
                round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)
                if latencies
                else None
            )

        return {
            "connections": connections,
            "packets_sent": sum(c.next for c in clients),
            "answered": answered,
            "timed_out": timed_out,
            "seconds": round(elapsed, 3),
            "packets_per_s": round(answered / elapsed, 1),
            "latency_ms_p50": pct(0.50),
            "latency_ms_p90": pct(0.90),
            "latency_ms_p99": pct(0.99),
            "latency_ms_max": round(latencies[-1] * 1000, 2) if latencies else None,
            "connect_and_warmup_s": round(warmup_s, 2),
        }

    try:
        out.put(uvloop.run(main()))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put({"error": repr(exc)})
        ready.set()


# --------------------------------------------------------------------------------------------------------
# Orchestration


def provision(count: int) -> None:
    from greenisle.devices.models import Bin, hash_device_key
    from greenisle.organizations.identifiers import uscc_with_check_digit
    from greenisle.organizations.models import Organization, Site

    producer, _ = Organization.objects.get_or_create(
        uscc=uscc_with_check_digit("91320602H00000001"),
        defaults={"kind": "producer", "name": "HJ212 基准产废单位", "division_id": "320602"},
    )
    collector, _ = Organization.objects.get_or_create(
        uscc=uscc_with_check_digit("91320602H00000002"),
        defaults={"kind": "collector", "name": "HJ212 基准收集单位", "division_id": "320602"},
    )
    site, _ = Site.objects.get_or_create(
        organization=producer,
        name="HJ212 厂区",
        defaults={"address": "崇川区", "latitude": 32.0, "longitude": 120.86, "division_id": "320602"},
    )
    existing = set(Bin.objects.filter(hj212_mn__startswith=MN_PREFIX).values_list("hj212_mn", flat=True))
    pw_hash = hash_device_key(PW)
    new = [
        Bin(
            serial=f"HJB-{i:06d}",
            name="HJ212 bench",
            site=site,
            collector=collector,
            capacity_l=240,
            capacity_kg=200,
            transport="hj212",
            hj212_mn=mn_of(i),
            hj212_pw_hash=pw_hash,
        )
        for i in range(count)
        if mn_of(i) not in existing
    ]
    Bin.objects.bulk_create(new, batch_size=500)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"listener exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("listener did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--packets", type=int, default=20, help="packets per connection")
    parser.add_argument("--pipeline", type=int, default=1, help="unanswered packets per connection")
    parser.add_argument("--max-batch", type=int, default=1000)
    parser.add_argument("--max-delay", type=float, default=0.02)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="greenisle-hj212-bench-")
    os.environ.setdefault("GREENISLE_VAR_DIR", tmp)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("GREENISLE_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from greenisle.telemetry.models import Reading

    call_command("migrate", verbosity=0)
    provision(args.connections)
    stored_before = Reading.objects.filter(device__hj212_mn__startswith=MN_PREFIX).count()
    vendor = connection.vendor
    connection.close()

    port = free_port()
    env = dict(os.environ, GREENISLE_LOG_LEVEL="INFO", PYTHONPATH=str(ROOT))
    listener = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "greenisle.manage",
            "hj212_listener",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--stats-interval",
            "0",
            "--max-batch",
            str(args.max_batch),
            "--max-delay",
            str(args.max_delay),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_listening(port, listener)
        context = mp.get_context("spawn")
        ready, go, out = context.Event(), context.Event(), context.Queue()
        start_ts = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(microsecond=0).timestamp()
        generator = context.Process(
            target=load_generator,
            args=(port, args.connections, args.packets, args.pipeline, start_ts, ready, go, out),
        )
        generator.start()
        if not ready.wait(300):
            raise RuntimeError("load generator did not get ready")
        go.set()
        result = out.get(timeout=900)
        generator.join(30)
    finally:
        listener.send_signal(signal.SIGTERM)
        try:
            log, _ = listener.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            listener.kill()
            log, _ = listener.communicate()
    text = log.decode("utf-8", "replace")
    final = re.findall(r"HJ 212 stats (.*?) queued=", text)
    counters = dict(item.split("=", 1) for item in final[-1].split()) if final else {}
    stored = Reading.objects.filter(device__hj212_mn__startswith=MN_PREFIX).count() - stored_before
    batches = int(counters.get("batches", 0) or 0)
    print(
        json.dumps(
            {
                "benchmark": "hj212_listener",
                "database": vendor,
                "pipeline": args.pipeline,
                "packets_per_connection": args.packets,
                **result,
                "readings_stored": stored,
                "listener": {k: int(v) for k, v in counters.items()},
                "mean_batch": round(int(counters.get("accepted", 0)) / batches, 1) if batches else None,
                "listener_exit": listener.returncode,
                "errors_in_listener_log": text.count("ERROR"),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
