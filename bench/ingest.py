"""Ingest throughput per transport and threshold-to-request latency, on PostgreSQL and SQLite.

Prints one JSON object keyed by database (``postgresql``, ``sqlite``), each with
``http_batch_readings_per_s``, ``mqtt_readings_per_s``, ``hj212_packets_per_s``,
``threshold_to_request_p50_s`` and ``threshold_to_request_p99_s`` (plus the run's details).

Each figure is measured end to end, from send to commit, against the real processes: gunicorn
(4 workers: two per core, as ``make demo`` runs it) for HTTP, ``greenisle mqtt_listener`` behind
Mosquitto, ``greenisle hj212_listener`` over TCP. Senders run in their own processes. Latency: a share of the bins cross their threshold during
the run; for each, the time from sending the crossing reading to the pickup request's creation.

Usage: .venv/bin/python bench/ingest.py [--databases postgresql,sqlite] [--seconds 10] [--bins 2000]
PostgreSQL: a scratch database ``greenisle_bench_ingest`` on DATABASE_URL's server (default
postgres://postgres@127.0.0.1:5432/), dropped and recreated.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GREENISLE = str(Path(PYTHON).parent / "greenisle")
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_DB = "greenisle_bench_ingest"
CHINA = dt.timezone(dt.timedelta(hours=8))


# --- orchestration ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(database: str, var_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GREENISLE_VAR_DIR=var_dir,
        GREENISLE_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DJANGO_SETTINGS_MODULE="config.settings",
        GREENISLE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.pop("DATABASE_URL", None)
    if database == "postgresql":
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
    return env


def run_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    var_dir = tempfile.mkdtemp(prefix=f"greenisle-bench-{database}-")
    env = env_for(database, var_dir)
    if database == "postgresql":
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
    try:
        subprocess.run([GREENISLE, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        setup = json.loads(
            subprocess.run(
                [PYTHON, __file__, "--setup", "--bins", str(args.bins)],
                env=env,
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout
        )
        result: dict[str, Any] = {"bins": args.bins}
        latencies: list[float] = []
        for transport in args.transports:
            figures = TRANSPORTS[transport](env, setup, args)
            measured = sorted(figures.pop("latencies", []))
            if transport == "http":
                # Closed loop (each sender waits for its answer): latency at the sustained rate.
                latencies = measured
            elif measured:
                # Publishers burst as fast as the broker takes messages, so this includes queueing.
                figures[f"{transport}_threshold_to_request_p50_s"] = round(statistics.median(measured), 4)
                figures[f"{transport}_threshold_to_request_p99_s"] = round(
                    measured[int(0.99 * (len(measured) - 1))], 4
                )
            result.update(figures)
        if latencies:
            result["threshold_to_request_p50_s"] = round(statistics.median(latencies), 4)
            result["threshold_to_request_p99_s"] = round(latencies[int(0.99 * (len(latencies) - 1))], 4)
            result["threshold_crossings_measured"] = len(latencies)
        return result
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def query(env: dict[str, str], code: str) -> Any:
    """Run a Django snippet in a fresh process (the database chosen by env); it prints JSON."""
    out = subprocess.run(
        [PYTHON, "-c", "import django;django.setup()\n" + code],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def count_readings(env: dict[str, str]) -> int:
    return int(
        query(
            env,
            "import json\nfrom greenisle.telemetry.models import Reading\nprint(json.dumps(Reading.objects.count()))",
        )
    )


def request_latencies(env: dict[str, str], sent: dict[str, float]) -> list[float]:
    """Seconds from sending each bin's crossing reading to its pickup request's creation."""
    created = query(
        env,
        "import json\nfrom greenisle.dispatch.models import PickupRequest\n"
        "print(json.dumps({str(b): c.timestamp() for b, c in "
        "PickupRequest.objects.values_list('bin__serial', 'created_at')}))",
    )
    return [max(0.0, created[serial] - t) for serial, t in sent.items() if serial in created]


def reset_requests(env: dict[str, str]) -> None:
    query(
        env,
        "import json\nfrom greenisle.dispatch.models import PickupRequest\n"
        "from greenisle.telemetry.models import BinState\n"
        "PickupRequest.objects.all().delete()\nBinState.objects.update(fill_pct=10)\nprint('0')",
    )
    if "DATABASE_URL" in env:
        # This machine's PostgreSQL runs with autovacuum off: vacuum the one-row-per-bin table that
        # every batch updates, as autovacuum would between runs in production.
        import psycopg

        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE telemetry_binstate")


# --- fleet setup (runs inside Django) --------------------------------------------------------------


def setup_fleet(bins: int) -> dict[str, Any]:
    import django

    django.setup()
    from greenisle.accounts.choices import Role
    from greenisle.accounts.models import ApiToken, Membership, User
    from greenisle.devices.models import Bin, hash_device_key
    from greenisle.organizations.identifiers import uscc_with_check_digit
    from greenisle.organizations.models import Organization, Site

    producer = Organization.objects.create(
        kind="producer",
        name="基准产废单位",
        division_id="320602",
        uscc=uscc_with_check_digit("91320602B00000001"),
    )
    collector = Organization.objects.create(
        kind="collector",
        name="基准收集单位",
        division_id="320602",
        uscc=uscc_with_check_digit("91320602B00000002"),
    )
    site = Site.objects.create(
        organization=producer,
        name="厂区",
        address="崇川区",
        latitude=32.0,
        longitude=120.86,
        division_id="320602",
    )
    rows = []
    for i in range(bins):
        rows.append(
            Bin(
                serial=f"BENCH{i:06d}",
                name="bench",
                site=site,
                collector=collector,
                capacity_l=240,
                capacity_kg=200,
                reporting_interval_s=300,
                mqtt_username=f"BENCH{i:06d}",
                hj212_mn=f"BENCHMN{i:06d}",
                hj212_pw_hash=hash_device_key("123456"),
            )
        )
    Bin.objects.bulk_create(rows, batch_size=1000)
    user = User.objects.create_user(username="bench-gateway", password=None)
    membership = Membership.objects.create(user=user, organization=collector, role=Role.DISPATCHER)
    _token, raw = ApiToken.issue(membership=membership, name="bench")
    return {"token": raw, "serials": [f"BENCH{i:06d}" for i in range(bins)]}


# --- HTTP batches ----------------------------------------------------------------------------------


def http_sender(
    port: int, token: str, serials: list[str], seconds: float, offset: int, start_at: float, out: Any
) -> None:
    """One sender process. Its batches of 1,000 readings (bins in turn, each reading a fresh minute) are
    encoded before ``start_at``, so that during the run the sender costs the shared cores little
    (like wrk). Reports what was accepted and when its last answer came."""
    import http.client

    import orjson

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = dt.datetime.now(CHINA) - dt.timedelta(days=7) + dt.timedelta(seconds=offset)
    crossing: dict[str, float] = {}
    marked: set[str] = set()
    bodies = []
    for step in range(int(seconds * 40)):  # enough for 40 batches/s per sender
        items = []
        crossings = []
        for k in range(1000):
            serial = serials[(step * 1000 + k) % len(serials)]
            observed = start + dt.timedelta(minutes=step, microseconds=k)
            # About 1 % of the readings take a bin over its threshold (once per bin), spread over the run.
            fill = 20.0
            if k % 97 == step % 97 and serial not in marked:
                fill = 85.0
                marked.add(serial)
                crossings.append((k, serial))
            items.append({"serial": serial, "observed_at": observed.isoformat(), "fill_pct": fill})
        bodies.append((orjson.dumps({"readings": items}), crossings))
    accepted = batches = 0
    time.sleep(max(0.0, start_at - time.time()))
    deadline = start_at + seconds
    for body, crossings in bodies:
        if time.time() >= deadline:
            break
        sent = time.time()
        conn.request("POST", "/api/v1/readings/batch", body=body, headers=headers)
        response = conn.getresponse()
        data = orjson.loads(response.read())
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {data}")
        accepted += data["accepted"]
        batches += 1
        for k, serial in crossings:
            if data["results"][k]["status"] == "accepted":
                crossing[serial] = sent
    finished = time.time()
    out.write(
        json.dumps({"accepted": accepted, "batches": batches, "crossing": crossing, "finished": finished})
    )


def bench_http(env: dict[str, str], setup: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    reset_requests(env)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", str(args.http_workers), "--timeout", "120", "--log-level", "warning"],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_port(port)
        before = count_readings(env)
        senders = []
        serials = setup["serials"]
        share = max(1, len(serials) // args.http_senders)
        start_at = time.time() + 8  # after every sender has encoded its batches
        for n in range(args.http_senders):
            mine = serials[n * share : (n + 1) * share] or serials
            code = (
                f"import sys,json;sys.path.insert(0,{str(ROOT / 'bench')!r});import ingest;"
                f"ingest.http_sender({port},{setup['token']!r},{json.dumps(mine)},{args.seconds},{n},"
                f"{start_at},sys.stdout)"
            )
            senders.append(
                subprocess.Popen([PYTHON, "-c", code], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            )
        outputs = [json.loads(p.communicate()[0]) for p in senders]
        elapsed = max(o["finished"] for o in outputs) - start_at
        stored = count_readings(env) - before
        accepted = sum(o["accepted"] for o in outputs)
        crossing = {k: v for o in outputs for k, v in o["crossing"].items()}
        return {
            "http_batch_readings_per_s": round(accepted / elapsed),
            "http_batches": sum(o["batches"] for o in outputs),
            "http_readings_stored": stored,
            "http_readings_acknowledged": accepted,
            "latencies": request_latencies(env, crossing),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port}")


# --- MQTT ------------------------------------------------------------------------------------------


def mqtt_publisher(serials: list[str], count: int, phase: int, rate: float, out: Any) -> None:
    """Publish ``count`` QoS 1 readings (one per message, bins in turn) over a plain socket with
    pre-encoded PUBLISH packets and a window of 10,000 unacknowledged, so the cores go to the broker
    and the listeners rather than to a client library (see bench/mqtt_transport_probe.py).

    Encodes everything first, says ``ready``, and starts when a line arrives on stdin. ``rate`` > 0
    paces the stream at that many messages per second; 0 sends as fast as the broker takes them.
    ``phase`` moves the readings' times so that a later run's readings are newer than an earlier's.
    """
    import select

    from mqtt_transport_probe import _remaining_length

    sock = socket.create_connection(("127.0.0.1", 1883))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client_id = f"bench-pub-{os.getpid()}".encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
    sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
    if sock.recv(4)[3:4] != b"\x00":
        raise SystemExit("broker refused the publisher")
    # A day and a half apart per phase, half a second apart per message: all older than HJ 212's
    # readings (two days ago) and newer than HTTP's (a week ago), so each run moves the bins' state.
    start = dt.datetime.now(CHINA) - dt.timedelta(days=6.5 - 1.5 * phase)
    crossing_index: dict[str, int] = {}
    packets = []
    for j in range(count):
        serial = serials[j % len(serials)]
        # About 1 % of the readings take a bin over its threshold (once per bin).
        fill = 85.0 if j % 97 == 0 and serial not in crossing_index else 20.0
        if fill > 80:
            crossing_index[serial] = j
        observed = (start + dt.timedelta(seconds=j / 2)).isoformat()
        payload = json.dumps({"observed_at": observed, "fill_pct": fill})
        topic = f"greenisle/v1/bins/{serial}/readings".encode()
        mid = j % 65535 + 1
        packet = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big") + payload.encode()
        packets.append(b"\x32" + _remaining_length(len(packet)) + packet)
    out.write("ready\n")
    out.flush()
    sys.stdin.readline()
    began = time.time()
    sent_at = [0.0] * count
    sent = acked = 0
    pending = b""
    sock.setblocking(False)
    while acked < count:
        if not pending and sent < count and sent - acked < 10_000:
            now = time.time()
            upto = min(count, acked + 10_000, sent + 500)
            if rate > 0:
                upto = min(upto, int((now - began) * rate) + 1)
            for k in range(sent, upto):
                sent_at[k] = now
            pending = b"".join(packets[sent:upto])
            sent = upto
        wait = 1.0 if not rate or sent >= count else 0.002
        readable, writable, _ = select.select([sock], [sock] if pending else [], [], wait)
        if writable:
            with contextlib.suppress(BlockingIOError):
                pending = pending[sock.send(pending) :]
        if readable:
            data = sock.recv(1 << 20)
            if not data:
                raise SystemExit("broker closed the publisher connection")
            acked += len(data) // 4  # only PUBACKs (4 bytes each) come back
    sock.setblocking(True)
    sock.sendall(b"\xe0\x00")
    sock.close()
    crossing = {serial: sent_at[j] for serial, j in crossing_index.items()}
    out.write(json.dumps({"published": count, "crossing": crossing}) + "\n")


def _mqtt_run(
    env: dict[str, str], serials: list[str], args: argparse.Namespace, count: int, phase: int, rate: float
) -> dict[str, Any]:
    """One stream of ``count`` messages from the publishers; seconds from the first send to the
    commit of the last reading, and the threshold crossings' latencies."""
    reset_requests(env)
    before = count_readings(env)
    publishers = []
    for n in range(args.mqtt_publishers):
        mine = serials[n :: args.mqtt_publishers]
        code = (
            f"import sys,json;sys.path.insert(0,{str(ROOT / 'bench')!r});import ingest;"
            f"ingest.mqtt_publisher({json.dumps(mine)},{count // args.mqtt_publishers},{phase},"
            f"{rate / args.mqtt_publishers},sys.stdout)"
        )
        publishers.append(
            subprocess.Popen(
                [PYTHON, "-c", code],
                env=env,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for p in publishers:
        if p.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
            raise SystemExit("an MQTT publisher did not start")
    started = time.monotonic()
    for p in publishers:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    outputs = [json.loads(p.communicate()[0]) for p in publishers]
    published = sum(o["published"] for o in outputs)
    stored = last = 0
    last_growth = done = time.monotonic()
    while time.monotonic() - last_growth < 5:  # lost messages never come: stop after 5 s of no progress
        stored = count_readings(env) - before
        done = time.monotonic()
        if stored >= published:
            break
        if stored > last:
            last, last_growth = stored, done
        time.sleep(0.1)
    elapsed = (done if stored >= published else last_growth) - started
    crossing = {k: v for o in outputs for k, v in o["crossing"].items()}
    return {
        "published": published,
        "stored": stored,
        "readings_per_s": round(stored / elapsed),
        "latencies": request_latencies(env, crossing),
    }


def bench_mqtt(env: dict[str, str], setup: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """A stream paced at ``--mqtt-rate`` for ``--seconds``: readings stored per second from the first
    send to the last commit, and the latency at that rate. Then, with ``--mqtt-burst N``, N messages
    as fast as the broker takes them, the listeners' capacity when they fall behind.

    Why paced: an unpaced publisher outruns the listeners, the broker queues, and latency grows
    with the length of the run; past ``max_queued_messages`` (1,000 with Mosquitto's default
    configuration) the broker drops QoS 1 messages it has already acknowledged to the publisher
    (docs/telemetry.md). ``mqtt_stored`` < ``mqtt_published`` shows such a loss."""
    tag = f"{os.getpid()}-{int(time.time())}"
    listeners = []
    for n in range(args.mqtt_listeners):
        listeners.append(
            subprocess.Popen(
                [
                    GREENISLE,
                    "mqtt_listener",
                    "--client-id",
                    f"bench-{tag}-{n}",
                    "--group",
                    f"bench{tag}",
                    # Gone with the run: a lingering group would get (and queue) the next run's stream.
                    "--session-expiry",
                    "0",
                ],
                env={**env, "PYTHONUNBUFFERED": "1"},
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        for process in listeners:
            for line in process.stdout:  # type: ignore[union-attr]
                if "subscribed" in line:
                    break
            threading.Thread(target=process.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        serials = setup["serials"]
        # Warm-up, not measured: every bin gets its state row, and the next run's ANALYZE sees them.
        _mqtt_run(env, serials, args, 20 * len(serials), phase=0, rate=args.mqtt_rate)
        paced = _mqtt_run(
            env, serials, args, int(args.mqtt_rate * args.seconds), phase=1, rate=args.mqtt_rate
        )
        figures = {
            "mqtt_readings_per_s": paced["readings_per_s"],
            "mqtt_offered_per_s": args.mqtt_rate,
            "mqtt_published": paced["published"],
            "mqtt_stored": paced["stored"],
            "mqtt_listeners": args.mqtt_listeners,
            "latencies": paced["latencies"],
        }
        if args.mqtt_burst:
            burst = _mqtt_run(env, serials, args, args.mqtt_burst, phase=2, rate=0)
            figures.update(
                mqtt_burst_readings_per_s=burst["readings_per_s"],
                mqtt_burst_published=burst["published"],
                mqtt_burst_stored=burst["stored"],
            )
        return figures
    finally:
        for process in listeners:
            process.send_signal(signal.SIGTERM)
        for process in listeners:
            process.wait(30)


# --- HJ 212 ----------------------------------------------------------------------------------------


def bench_hj212(env: dict[str, str], setup: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """bench/hj212_probe.py: 1,000 connections, each sending packets with Flag=5 and counting a packet
    when its 9014 (sent after commit) comes back."""
    probe_env = dict(env)
    if "DATABASE_URL" not in probe_env:
        probe_env["DATABASE_URL"] = f"sqlite:///{env['GREENISLE_VAR_DIR']}/greenisle.sqlite3"
    out = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "hj212_probe.py"), "--connections", str(args.hj212_connections)]
        + ["--packets", str(args.hj212_packets), "--pipeline", str(args.hj212_pipeline)],
        env=probe_env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    probe = json.loads(out.stdout[out.stdout.index("{") :])
    return {
        "hj212_packets_per_s": probe.get("packets_per_s"),
        "hj212_connections": probe.get("connections"),
        "hj212_pipeline": args.hj212_pipeline,
        "hj212_latency_ms_p99": probe.get("latency_ms_p99"),
    }


TRANSPORTS: dict[str, Any] = {"http": bench_http, "mqtt": bench_mqtt, "hj212": bench_hj212}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--transports", default="http,mqtt,hj212")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--bins", type=int, default=2000)
    parser.add_argument("--http-senders", type=int, default=3)
    parser.add_argument(
        "--http-workers", type=int, default=4, help="gunicorn workers (2 per core, as make demo runs)"
    )
    parser.add_argument(
        "--mqtt-rate",
        type=float,
        default=22_000,
        help="messages/s offered by the paced stream (for --seconds)",
    )
    parser.add_argument(
        "--mqtt-burst", type=int, default=60_000, help="messages of the unpaced stream (0: none)"
    )
    parser.add_argument("--mqtt-publishers", type=int, default=1)
    parser.add_argument("--mqtt-listeners", type=int, default=2)
    parser.add_argument("--hj212-connections", type=int, default=1000)
    parser.add_argument("--hj212-packets", type=int, default=20)
    parser.add_argument("--hj212-pipeline", type=int, default=4)
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        print(json.dumps(setup_fleet(args.bins)))
        return
    args.transports = [t for t in args.transports.split(",") if t in TRANSPORTS]
    report = {}
    for database in args.databases.split(","):
        report[database] = run_database(database, args)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    threading.excepthook = lambda a: os._exit(1)
    main()
