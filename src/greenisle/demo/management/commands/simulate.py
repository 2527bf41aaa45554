"""``greenisle simulate``: the demo's smart bins, live, over HTTP, MQTT and HJ 212.

    greenisle simulate [--bins N] [--transport auto|http|mqtt|hj212] [--rate R] [--duration S]
                       [--speed X] [--faults P] [--base-url URL] [--seed S]

Takes the first N enabled bins of the demo's credentials file (all by default; see
:mod:`greenisle.demo.credentials`). With ``--transport auto`` each bin reports over the transport it is
configured for; with an explicit transport the bins are switched to it first, given the credentials it
needs (saved, with audit events, and remembered in the credentials file).

Every bin fills at its own daily rate on a simulated clock ``--speed`` times faster than real time,
while its readings carry the real time (see :mod:`greenisle.demo.fill` for why, and for the faults
``--faults`` injects). A bin whose pickup request has been collected is emptied and reports so first.
``--rate`` readings a second go out across all bins, in turn. HTTP: one batch per bin with its device
key (``/api/v1/readings/batch``); MQTT: one client publishing QoS 1 to each bin's topic; HJ 212: one TCP
connection per bin (at most ``--hj212-connections``), Flag=5 frames, 9014 answers counted (see
:mod:`greenisle.demo.senders`). A line every ``--report-every`` seconds says what happened.
SIGINT/SIGTERM stop it cleanly: in-flight posts, PUBACKs and answers get a few seconds to arrive.
"""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.models import Max
from django.utils import timezone

from greenisle.demo.credentials import credentials_ensure, credentials_path, read_credentials
from greenisle.demo.fill import CHINA, DEFAULT_SPEED, Emission, FillModel, Pacer, RoundRobin, SimBin
from greenisle.demo.senders import TRANSPORTS, Counters, Hj212Sender, HttpSender, MqttSender, TransportCounts
from greenisle.devices.models import Bin, Transport
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.telemetry.models import BinState, Reading

TICK_S = 0.1
COLLECTED_POLL_S = 3.0
DEFAULT_RATE = 10.0
DEFAULT_FAULTS = 0.01
_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}  # noqa: S104


def _connect_host(host: str) -> str:
    """A listener bound to a wildcard address is reached on loopback."""
    return _WILDCARD_HOSTS.get(host, host)


class Command(BaseCommand):
    help = (
        "模拟云仓经 HTTP、MQTT、HJ 212 上报 / Simulate the demo's smart bins over HTTP, MQTT and HJ 212:"
        " fill curves, collections, faults."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bins",
            type=int,
            default=0,
            help="the first N enabled bins of the credentials file (default all)",
        )
        parser.add_argument(
            "--transport",
            choices=["auto", *TRANSPORTS],
            default="auto",
            help="auto: each bin over its own transport; otherwise switch the bins to this one",
        )
        parser.add_argument(
            "--rate",
            type=float,
            default=DEFAULT_RATE,
            help=f"readings per second, all bins (default {DEFAULT_RATE:g})",
        )
        parser.add_argument(
            "--duration", type=float, default=0, help="stop after S seconds (default: run until stopped)"
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=DEFAULT_SPEED,
            help=f"simulated time per real time for the fill (default {DEFAULT_SPEED:g}: a day per 2 minutes)",
        )
        parser.add_argument(
            "--faults",
            type=float,
            default=DEFAULT_FAULTS,
            help=f"probability that a reading starts a fault (default {DEFAULT_FAULTS:g})",
        )
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="the web server (HTTP transport)"
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed (fill rates, noise, faults)")
        parser.add_argument("--mqtt-host", default=None, help="MQTT broker (default GREENISLE MQTT_HOST)")
        parser.add_argument(
            "--mqtt-port", type=int, default=None, help="MQTT port (default GREENISLE MQTT_PORT)"
        )
        parser.add_argument("--mqtt-username", default=None, help="MQTT username of the publishing client")
        parser.add_argument("--mqtt-password", default=None, help="MQTT password of the publishing client")
        parser.add_argument(
            "--hj212-host", default=None, help="HJ 212 listener (default GREENISLE HJ212_HOST)"
        )
        parser.add_argument(
            "--hj212-port", type=int, default=None, help="HJ 212 port (default GREENISLE HJ212_PORT)"
        )
        parser.add_argument(
            "--hj212-connections",
            type=int,
            default=1000,
            help="most HJ 212 connections open at once (default 1000)",
        )
        parser.add_argument(
            "--answer-timeout",
            type=float,
            default=10.0,
            help="seconds to wait for a 9014 answer (default 10)",
        )
        parser.add_argument("--http-workers", type=int, default=4, help="parallel HTTP posts (default 4)")
        parser.add_argument(
            "--report-every", type=float, default=5.0, help="seconds between summary lines (default 5)"
        )

    # -- set-up --------------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        self.check_options(options)
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            if not stop.is_set():
                self.log(f"{signal.Signals(signum).name}: 正在停止 / stopping")
            stop.set()

        previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.simulate(stop, options)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def simulate(self, stop: threading.Event, options: dict[str, Any]) -> None:
        model = FillModel(
            rng=random.Random(options["seed"]),
            speed=options["speed"],
            fault_probability=options["faults"],
            door_open_limit_s=float(settings.GREENISLE["DOOR_OPEN_LIMIT_S"]),
            offline_missed_intervals=int(settings.GREENISLE["OFFLINE_MISSED_INTERVALS"]),
            temperature_limit_c=float(settings.GREENISLE["TEMPERATURE_LIMIT_C"]),
        )
        bins = self.load_bins(model, options)
        counters = Counters()
        senders = self.start_senders(bins, counters, options)
        try:
            self.run(bins, model, senders, counters, stop, options)
        finally:
            for sender in senders.values():
                sender.close()
        self.report_totals(counters, bins)

    def check_options(self, options: dict[str, Any]) -> None:
        problems = []
        if options["bins"] < 0:
            problems.append("--bins ≥ 0")
        if not (options["rate"] > 0 and math.isfinite(options["rate"])):
            problems.append("--rate > 0")
        if options["duration"] < 0:
            problems.append("--duration ≥ 0")
        if not (options["speed"] > 0 and math.isfinite(options["speed"])):
            problems.append("--speed > 0")
        if not 0 <= options["faults"] <= 1:
            problems.append("--faults 0–1")
        if options["hj212_connections"] < 1 or options["http_workers"] < 1:
            problems.append("--hj212-connections ≥ 1, --http-workers ≥ 1")
        if options["report_every"] <= 0 or options["answer_timeout"] <= 0:
            problems.append("--report-every > 0, --answer-timeout > 0")
        if problems:
            raise CommandError("参数无效 / invalid options: " + "; ".join(problems))

    def load_bins(self, model: FillModel, options: dict[str, Any]) -> list[SimBin]:
        """The bins to drive, switched to ``--transport`` and given credentials as needed."""
        try:
            creds = read_credentials()
        except (ValueError, OSError) as exc:
            raise CommandError(f"设备凭据文件无法读取 / cannot read the credentials file: {exc}") from exc
        if not creds:
            raise CommandError(
                f"没有设备凭据 / no device credentials at {credentials_path()}: run `greenisle load_demo` first"
            )
        devices = list(
            Bin.objects.select_related("site__organization")
            .filter(serial__in=list(creds), enabled=True)
            .order_by("serial")
        )
        if options["bins"]:
            devices = devices[: options["bins"]]
        if not devices:
            raise CommandError(
                "凭据文件中的云仓都不在本数据库中或已停用 / none of the bins in the credentials file is in"
                " this database and enabled: run `greenisle load_demo`"
            )
        transport = None if options["transport"] == "auto" else options["transport"]
        creds, changed = credentials_ensure(devices, creds, transport=transport, source="simulate")
        if changed:
            self.log(
                f"已为 {changed} 个云仓切换传输或补发凭据 / switched or issued credentials for {changed} bins"
                f" ({credentials_path()})"
            )
        pks = [d.pk for d in devices]
        states = {
            row["device_id"]: row
            for row in BinState.objects.filter(device_id__in=pks).values(
                "device_id", "fill_pct", "battery_pct", "observed_at"
            )
        }
        sequences = dict(
            Reading.objects.filter(device_id__in=pks)
            .values("device_id")
            .annotate(last=Max("sequence"))
            .values_list("device_id", "last")
        )
        bins = []
        for device in devices:
            state = states.get(device.pk, {})
            c = creds[device.serial]
            fill = state.get("fill_pct")
            battery = state.get("battery_pct")
            b = model.new_bin(
                serial=device.serial,
                transport=device.transport,
                capacity_kg=float(device.capacity_kg),
                threshold_pct=float(device.threshold_pct),
                fill_pct=float(fill) if fill is not None else 5.0,
                battery_pct=float(battery) if battery is not None else 100.0,
                reporting_interval_s=device.reporting_interval_s,
                sequence=int(sequences.get(device.pk) or 0),
                key=c.key or "",
                mqtt_username=device.mqtt_username or "",
                hj212_mn=device.hj212_mn or "",
                hj212_pw=c.hj212_pw or "",
                hj212_crc_mode=device.hj212_crc_mode,
            )
            b.reported_fill = b.fill_pct
            # A new reading must not share its time with the newest stored one (it would be a duplicate).
            if state.get("observed_at") is not None:
                b.last_observed = state["observed_at"].astimezone(CHINA)
            bins.append(b)
        self.pk_by_serial = {d.serial: d.pk for d in devices}
        return bins

    def start_senders(
        self, bins: list[SimBin], counters: Counters, options: dict[str, Any]
    ) -> dict[str, HttpSender | MqttSender | Hj212Sender]:
        used = {b.transport for b in bins}
        config = settings.GREENISLE
        senders: dict[str, HttpSender | MqttSender | Hj212Sender] = {}
        if Transport.HTTP in used:
            senders["http"] = HttpSender(options["base_url"], counters, workers=options["http_workers"])
        if Transport.MQTT in used:
            mqtt = MqttSender(
                _connect_host(options["mqtt_host"] or config["MQTT_HOST"]),
                options["mqtt_port"] or config["MQTT_PORT"],
                counters,
                username=options["mqtt_username"],
                password=options["mqtt_password"],
            )
            mqtt.start()
            senders["mqtt"] = mqtt
        if Transport.HJ212 in used:
            senders["hj212"] = Hj212Sender(
                _connect_host(options["hj212_host"] or config["HJ212_HOST"]),
                options["hj212_port"] or config["HJ212_PORT"],
                counters,
                max_connections=options["hj212_connections"],
                answer_timeout=options["answer_timeout"],
            )
        return senders

    # -- the loop ------------------------------------------------------------------------------

    def run(
        self,
        bins: list[SimBin],
        model: FillModel,
        senders: dict[str, HttpSender | MqttSender | Hj212Sender],
        counters: Counters,
        stop: threading.Event,
        options: dict[str, Any],
    ) -> None:
        rate = options["rate"]
        by_transport = {t: sum(1 for b in bins if b.transport == t) for t in TRANSPORTS}
        where = []
        if "http" in senders:
            where.append(f"http {by_transport['http']} → {options['base_url']}")
        if "mqtt" in senders:
            sender = senders["mqtt"]
            assert isinstance(sender, MqttSender)
            where.append(f"mqtt {by_transport['mqtt']} → {sender.host}:{sender.port}")
        if "hj212" in senders:
            sender = senders["hj212"]
            assert isinstance(sender, Hj212Sender)
            where.append(f"hj212 {by_transport['hj212']} → {sender.host}:{sender.port}")
        duration = f", for {options['duration']:g} s" if options["duration"] else ""
        self.log(
            f"模拟 {len(bins)} 个云仓 / simulating {len(bins)} bins ({'; '.join(where)}),"
            f" {rate:g} readings/s, speed ×{options['speed']:g}, faults {options['faults']:g}{duration}"
            " (Ctrl-C stops)"
        )
        self.log(
            "每行 / each line: 传输 发送/接受/拒绝 per transport sent/accepted/rejected"
            " (failed: never delivered; bad: deliberately bad packets)"
        )
        self.warn_about_pacing(bins, rate)

        pacer = Pacer(rate, burst=max(1.0, rate * 0.5))
        turns = RoundRobin(bins)
        by_pk = {self.pk_by_serial[b.serial]: b for b in bins}
        handled: set[Any] = set()
        hj212 = senders.get("hj212")
        started = time.monotonic()
        end = started + options["duration"] if options["duration"] else math.inf
        next_poll = started
        next_report = started + options["report_every"]
        events = {"crossed": 0, "emptied": 0, "faults": 0, "readings": 0}
        last_counts = counters.snapshot()
        last_events = dict(events)
        last_report = started
        while not stop.is_set():
            t = time.monotonic()
            if t >= end:
                break
            if t >= next_poll:
                self.empty_collected(by_pk, handled, model, turns)
                next_poll = t + COLLECTED_POLL_S
            due = pacer.due(t)
            if due:
                now = timezone.now()
                chosen = turns.take(due, skip=lambda b: model.silent(b, now))  # noqa: B023
                emissions = [model.emit(b, now) for b in chosen]
                self.dispatch(emissions, senders, events)
            for sender in senders.values():
                if sender is not hj212:
                    sender.poll()
            if t >= next_report:
                snapshot = counters.snapshot()
                self.report(
                    {k: snapshot[k] - last_counts[k] for k in snapshot},
                    {k: events[k] - last_events[k] for k in events},
                    t - last_report,
                    senders,
                    counters.take_problems(),
                    by_pk,
                )
                last_counts, last_events, last_report = snapshot, dict(events), t
                next_report = t + options["report_every"]
            # Sleep until the next tick; HJ 212 answers are read meanwhile.
            pause = max(0.0, min(TICK_S, end - time.monotonic()))
            if hj212 is not None:
                hj212.poll(pause)
            else:
                stop.wait(pause)
        self.events = events
        self.elapsed = time.monotonic() - started

    def dispatch(
        self,
        emissions: list[Emission],
        senders: dict[str, HttpSender | MqttSender | Hj212Sender],
        events: dict[str, int],
    ) -> None:
        grouped: dict[str, list[Emission]] = {}
        for emission in emissions:
            events["faults"] += emission.fault is not None
            if emission.reading is None:
                continue
            events["readings"] += 1
            events["crossed"] += emission.crossed
            events["emptied"] += emission.emptied
            grouped.setdefault(emission.bin.transport, []).append(emission)
        for transport, group in grouped.items():
            senders[transport].send(group)

    def empty_collected(
        self, by_pk: dict[Any, SimBin], handled: set[Any], model: FillModel, turns: RoundRobin
    ) -> None:
        """Bins whose waste is on a truck are emptied and report next (once per pickup request)."""
        try:
            rows = list(
                PickupRequest.objects.filter(
                    status=RequestStatus.COLLECTED, bin_id__in=list(by_pk)
                ).values_list("pk", "bin_id")
            )
        except DatabaseError as exc:
            self.log(f"数据库忙，稍后再查 / database busy, will look again: {exc}")
            connection.close()
            return
        now = timezone.now()
        for request_id, bin_id in rows:
            if request_id in handled:
                continue
            handled.add(request_id)
            b = by_pk[bin_id]
            model.empty(b, now)
            turns.push_front(b)

    def warn_about_pacing(self, bins: list[SimBin], rate: float) -> None:
        every = len(bins) / rate
        missed = int(settings.GREENISLE["OFFLINE_MISSED_INTERVALS"])
        shortest = min(b.reporting_interval_s for b in bins)
        if every > missed * shortest:
            self.log(
                f"注意：每个云仓约 {every:.0f} s 上报一次，平台会判为离线 / note: each bin reports about every"
                f" {every:.0f} s, beyond the offline limit ({missed} × {shortest} s): raise --rate"
            )
        hj212 = sum(1 for b in bins if b.transport == Transport.HJ212)
        if hj212 and rate * hj212 / len(bins) > hj212:
            self.log(
                "注意：HJ 212 时间只到秒 / note: HJ 212 DataTime has whole seconds; with more than one reading"
                " a second per bin, their times run ahead of the clock"
            )

    # -- output --------------------------------------------------------------------------------

    def log(self, message: str) -> None:
        self.stdout.write(f"{timezone.localtime():%H:%M:%S} simulate: {message}")
        self.stdout.flush()

    @staticmethod
    def format_counts(counts: dict[str, TransportCounts], used: Any) -> str:
        parts = []
        for transport in TRANSPORTS:
            if transport not in used:
                continue
            c = counts[transport]
            text = f"{transport} {c.sent}/{c.accepted}/{c.rejected}"
            if c.failed:
                text += f" failed {c.failed}"
            if c.bad:
                text += f" bad {c.bad}"
            parts.append(text)
        return " · ".join(parts)

    def report(
        self,
        counts: dict[str, TransportCounts],
        events: dict[str, int],
        seconds: float,
        senders: dict[str, Any],
        problems: dict[str, str],
        by_pk: dict[Any, SimBin],
    ) -> None:
        line = [self.format_counts(counts, senders)]
        line.append(f"越线 crossed {events['crossed']}")
        line.append(f"清空 emptied {events['emptied']}")
        line.append(f"故障 faults {events['faults']}")
        line.append(f"{events['readings'] / max(seconds, 1e-9):.1f}/s")
        try:
            open_requests = PickupRequest.objects.filter(
                status=RequestStatus.OPEN, bin_id__in=list(by_pk)
            ).count()
            line.append(f"待派 open {open_requests}")
        except DatabaseError:
            connection.close()
        self.log(" · ".join(line))
        for transport, problem in sorted(problems.items()):
            self.log(f"  {transport}: {problem}")

    def report_totals(self, counters: Counters, bins: list[SimBin]) -> None:
        events = getattr(self, "events", {"crossed": 0, "emptied": 0, "faults": 0, "readings": 0})
        used = {b.transport for b in bins}
        self.log(
            f"已停止 / stopped after {getattr(self, 'elapsed', 0.0):.0f} s: "
            f"{self.format_counts(counters.snapshot(), used)} · 越线 crossed {events['crossed']}"
            f" · 清空 emptied {events['emptied']} · 故障 faults {events['faults']}"
        )
