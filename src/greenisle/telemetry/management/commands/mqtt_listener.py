"""``greenisle mqtt_listener``: take bin readings from the MQTT broker into the ingest path.

Subscribes (MQTT v5, QoS 1, persistent session) to ``$share/<group>/greenisle/v1/bins/+/readings``,
so several listener processes, each with its own ``--client-id``, split one stream. A message is
acknowledged only after its reading is committed.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from greenisle.telemetry.mqtt_ingest import MqttIngest
from greenisle.telemetry.mqtt_transport import READINGS_FILTER, BatchingSubscriber


class Command(BaseCommand):
    help = "Ingest smart-bin readings from the MQTT broker (QoS 1, acknowledged after commit)."

    def add_arguments(self, parser: Any) -> None:
        config = settings.GREENISLE
        parser.add_argument("--host", default=config["MQTT_HOST"])
        parser.add_argument("--port", type=int, default=config["MQTT_PORT"])
        parser.add_argument("--group", default=config["MQTT_SHARE_GROUP"], help="shared-subscription group")
        parser.add_argument(
            "--client-id",
            default=f"greenisle-ingest-{socket.gethostname()}",
            help="stable per listener process: it names the broker session kept across restarts",
        )
        parser.add_argument("--max-batch", type=int, default=1000)
        parser.add_argument("--max-delay", type=float, default=0.05, help="seconds a batch may wait")
        parser.add_argument(
            "--session-expiry",
            type=int,
            default=300,
            help="seconds the broker keeps this listener's session (and queues its share) after it stops",
        )
        parser.add_argument("--report-every", type=float, default=30.0, help="seconds between log lines")

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        ingest = MqttIngest()
        subscriber = BatchingSubscriber(
            options["host"],
            options["port"],
            client_id=options["client_id"],
            share_group=options["group"] or None,
            topic_filter=READINGS_FILTER,
            on_batch=ingest,
            max_batch=options["max_batch"],
            max_delay=options["max_delay"],
            session_expiry=options["session_expiry"],
        )
        reporter = threading.Thread(
            target=self._report, args=(subscriber, ingest, stop, options["report_every"]), daemon=True
        )
        reporter.start()
        self.stdout.write(
            f"mqtt_listener: {options['client_id']} → {options['host']}:{options['port']} "
            f"{subscriber.subscription}"
        )
        self.stdout.flush()
        subscriber.run_forever(stop)
        self.stdout.write(f"mqtt_listener: stopped; {dict(ingest.totals)}")

    def _report(
        self, subscriber: BatchingSubscriber, ingest: MqttIngest, stop: threading.Event, every: float
    ) -> None:
        was_connected = False
        last = time.monotonic()
        while not stop.wait(0.2):
            if subscriber.connected.is_set() and not was_connected:
                self.stdout.write("mqtt_listener: subscribed")
                self.stdout.flush()
            was_connected = subscriber.connected.is_set()
            if time.monotonic() - last >= every:
                last = time.monotonic()
                self.stdout.write(f"mqtt_listener: {dict(ingest.totals)} {subscriber.stats}")
                self.stdout.flush()
