"""The MQTT wire below the transport: a paho client with a lean receive path for QoS 0/1 PUBLISH.

paho 2.2's own v5 receive path costs ~85 us per message on this machine (a ``Properties`` object
per PUBLISH, three or four ``recv`` calls per packet), i.e. at most ~12,000 msg/s. ``WireClient``
overrides two private methods, for paho 2.2.x only (other versions run paho's code unchanged):
``_handle_publish`` (skips the property block) and ``_sock_recv`` (serves paho's small reads from
one 256 KiB ``recv``), and adds ``read_publishes``, which decodes every whole QoS 0/1 PUBLISH at
the head of that buffer without paho's per-packet reads. Measured with
bench/mqtt_transport_probe.py (100,000 QoS 1 messages of ~150 bytes, no-op callback, broker and
one low-CPU publisher on the same 2 cores): 12.7 us of subscriber CPU per message before
``read_publishes``, 9.0 us with it.

``WireClient.fast_path`` switches the overrides off (then paho's own code runs); the transport sets
it on each client it makes. No Django imports.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

__all__ = ["FAST_PATH", "WireClient"]

# Two overrides of private paho methods keep the receive path cheap; they are tested against
# paho-mqtt 2.2 and switched off for other versions (then paho's own code runs: correct, ~5x slower).
FAST_PATH = paho.mqtt.__version__.startswith("2.2.")
_READ_SIZE = 256 * 1024


class WireClient(mqtt.Client):
    """paho client with a lean PUBLISH decoder and buffered socket reads.

    - ``_handle_publish``: paho 2.2 builds a ``Properties`` object for every MQTT v5 PUBLISH (~60 us,
      most of its receive cost); readings carry no properties we need, so the property block is
      skipped and the message goes straight to ``_sink``. The client announces no Topic Alias
      Maximum (0), so the broker never replaces a topic by an alias.
    - ``_sock_recv``: paho reads a packet with three or four ``recv`` calls (1 byte of header, the
      length byte by byte, the body); this serves them from one 256 KiB ``recv``.
    """

    fast_path: bool = FAST_PATH
    _sink: Callable[[str, bytes, int, int, bool, bool], None]
    _rbuf: bytes = b""
    _rpos: int = 0

    def buffered(self) -> bool:
        """Whether bytes already read from the socket wait in the buffer (select() would not say so)."""
        return self._rpos < len(self._rbuf)

    def reset_buffer(self) -> None:
        self._rbuf = b""
        self._rpos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if not self.fast_path:
            return super()._sock_recv(bufsize)
        buf = self._rbuf
        pos = self._rpos
        if pos >= len(buf):
            buf = super()._sock_recv(_READ_SIZE)  # BlockingIOError when there is nothing
            if not buf:
                return buf  # end of stream
            self._rbuf = buf
            pos = 0
        end = pos + bufsize
        self._rpos = min(end, len(buf))
        return buf[pos:end]

    def _handle_publish(self) -> MQTTErrorCode:
        command = self._in_packet["command"]
        qos = (command & 0x06) >> 1
        if not self.fast_path or qos == 2 or self._protocol != mqtt.MQTTv5:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        if not _publish_decode(packet, 0, len(packet), command, self._sink):
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def read_publishes(self) -> int:
        """Decode the complete QoS 0/1 PUBLISH packets at the head of the read buffer straight into
        ``_sink``, without paho's per-packet reads and dispatch; returns how many. Stops at the first
        other packet, incomplete packet or malformed PUBLISH, which paho's ``loop_read`` then handles
        (and reports) as usual."""
        if not self.fast_path or self._protocol != mqtt.MQTTv5 or self._in_packet["command"] != 0:
            return 0
        buf = self._rbuf
        pos = self._rpos
        end = len(buf)
        sink = self._sink
        count = 0
        while pos < end:
            command = buf[pos]
            if command & 0xF0 != 0x30 or command & 0x06 > 0x02:  # not a PUBLISH of QoS 0 or 1
                break
            length = shift = 0
            p = pos + 1
            while p < end:  # remaining length: a variable byte integer
                byte = buf[p]
                p += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
            else:
                break  # the length is not all here yet
            if shift > 21 or p + length > end or not _publish_decode(buf, p, p + length, command, sink):
                break
            pos = p + length
            count += 1
        if count:
            self._rpos = pos
            with self._msgtime_mutex:
                self._last_bytes_received = time.monotonic()
        return count


def _publish_decode(
    buf: bytes | bytearray, start: int, end: int, command: int, sink: Callable[..., None]
) -> bool:
    """Hand the MQTT v5 PUBLISH whose variable header and payload are ``buf[start:end]`` to ``sink``;
    False if it is malformed. The property block is skipped (readings carry none that matter, and the
    client announces no Topic Alias Maximum, so the broker never replaces a topic by an alias)."""
    qos = (command & 0x06) >> 1
    try:
        pos = start + 2 + ((buf[start] << 8) | buf[start + 1])
        if pos > end:
            return False
        topic = buf[start + 2 : pos].decode(errors="replace")  # Mosquitto checks UTF-8 on publish
        mid = 0
        if qos:
            mid = (buf[pos] << 8) | buf[pos + 1]
            pos += 2
        # Property length: a variable byte integer, then that many bytes of properties.
        length = shift = 0
        while True:
            byte = buf[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 21:
                return False
        pos += length
        if pos > end:
            return False
    except IndexError:
        return False
    sink(topic, bytes(buf[pos:end]), mid, qos, bool(command & 0x01), bool(command & 0x08))
    return True
