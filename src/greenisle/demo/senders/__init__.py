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

The package holds one module per transport (:mod:`.http`, :mod:`.mqtt`, :mod:`.hj212`), each saying
how its sender paces and connects, and :mod:`.common` for the counters; everything public is
re-exported here.
"""

from greenisle.demo.senders.common import TRANSPORTS, Counters, TransportCounts
from greenisle.demo.senders.hj212 import Hj212Sender
from greenisle.demo.senders.http import BATCH_PATH, HttpSender
from greenisle.demo.senders.mqtt import MqttSender

__all__ = [
    "BATCH_PATH",
    "TRANSPORTS",
    "Counters",
    "Hj212Sender",
    "HttpSender",
    "MqttSender",
    "TransportCounts",
]
