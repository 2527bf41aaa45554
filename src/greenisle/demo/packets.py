"""What the simulated bins put on the wire: HTTP batch items, MQTT payloads and HJ 212 frames.

Pure functions (no I/O). Good packets follow the transports' contracts exactly (the tests decode them
with the platform's own parsers); the deliberately bad ones break them in one known way each.

- HTTP: ``POST /api/v1/readings/batch`` with the bin's ``X-Device-Key``; items are JSON reading
  objects (no ``serial``: the key names the bin). A malformed body goes on its own (it would sink the
  batch); an out-of-range item rides in the batch and is rejected on its own.
- MQTT: a JSON reading object, or an array of them when a bin has several readings at once, to
  ``greenisle/v1/bins/{mqtt_username}/readings`` with QoS 1.
- HJ 212: ``ST=A1;CN=2011`` with ``Flag=5`` (HJ 212-2017, answer wanted); the CP data area follows the
  private bin convention of protocols.md §1.8 (``a01001`` temperature, ``i43001`` fill %, ``i43002``
  net weight kg, ``i43003`` battery %, ``i32001-Info`` door state, each with its ``-Flag``) plus
  ``DataTime`` (Beijing time, whole seconds) and ``Seq``. QN is the send time to the millisecond.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from greenisle.demo.fill import CHINA, BadPacket, SimReading
from greenisle.telemetry.hj212 import (
    DEFAULT_BIN_METRICS,
    BinMetricMap,
    CrcMode,
    crc16_hj212,
    crc16_modbus,
    encode_packet,
)

__all__ = [
    "HJ212_CN",
    "HJ212_FLAG",
    "HJ212_ST",
    "MALFORMED_JSON",
    "hj212_bad_frame",
    "hj212_frame",
    "hj212_qn",
    "json_reading",
    "mqtt_bad_payload",
    "mqtt_payload",
    "out_of_range_reading",
]

HJ212_ST = "A1"
HJ212_CN = "2011"
HJ212_FLAG = 5  # HJ 212-2017 (version 1), answer wanted (bit A)
# A body cut short mid-value, as a flaky modem would deliver it.
MALFORMED_JSON = b'{"readings": [{"observed_at": "2024-06-01T12:00:00+08:00", "fill_pct": 4'


def json_reading(reading: SimReading) -> dict[str, Any]:
    """The JSON reading object of the HTTP and MQTT contract (``reading_from_json``)."""
    return {
        "observed_at": reading.observed_at.isoformat(timespec="milliseconds"),
        "fill_pct": reading.fill_pct,
        "net_weight_kg": reading.net_weight_kg,
        "temperature_c": reading.temperature_c,
        "door_open": reading.door_open,
        "battery_pct": reading.battery_pct,
        "sequence": reading.sequence,
        "quality": reading.quality,
    }


def out_of_range_reading(reading: SimReading) -> dict[str, Any]:
    """A reading whose fill is over 100 % (a sensor reporting raw counts): refused as out of range."""
    item = json_reading(reading)
    item["fill_pct"] = round(100.0 + 20.0 + reading.fill_pct, 1)
    return item


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def mqtt_payload(readings: Sequence[SimReading]) -> bytes:
    """One reading object, or an array of them (back-fill) when there are several."""
    if not readings:
        raise ValueError("no readings")
    items = [json_reading(r) for r in readings]
    return _dumps(items[0] if len(items) == 1 else items)


def mqtt_bad_payload(reading: SimReading, kind: BadPacket) -> bytes:
    if kind is BadPacket.OUT_OF_RANGE:
        return _dumps(out_of_range_reading(reading))
    if kind is BadPacket.MALFORMED_JSON:
        return _dumps(json_reading(reading))[:-9]  # cut off mid-object
    raise ValueError(f"not an MQTT bad packet: {kind}")


# --- HJ 212 ---------------------------------------------------------------------------------------


def hj212_qn(at: dt.datetime) -> str:
    """QN: the request time in Beijing time to the millisecond, ``YYYYMMDDhhmmsszzz``."""
    local = at.astimezone(CHINA)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def _cp(reading: SimReading, metrics: BinMetricMap) -> list[tuple[str, str]]:
    flag = reading.quality
    return [
        ("DataTime", reading.observed_at.astimezone(CHINA).strftime("%Y%m%d%H%M%S")),
        ("Seq", str(reading.sequence)),
        (f"{metrics.temperature}-Rtd", f"{reading.temperature_c:.1f}"),
        (f"{metrics.temperature}-Flag", flag),
        (f"{metrics.fill}-Rtd", f"{reading.fill_pct:.1f}"),
        (f"{metrics.fill}-Flag", flag),
        (f"{metrics.weight}-Rtd", f"{reading.net_weight_kg:.2f}"),
        (f"{metrics.weight}-Flag", flag),
        (f"{metrics.battery}-Rtd", f"{reading.battery_pct:.1f}"),
        (f"{metrics.battery}-Flag", flag),
        (f"{metrics.door_state}-Info", "1" if reading.door_open else "0"),
        (f"{metrics.door_state}-Flag", flag),
    ]


def _reframe(frame: bytes, crc_mode: str) -> bytes:
    """Replace the standard CRC with a field variant the bin is configured for (protocols.md §1.6)."""
    if crc_mode == CrcMode.STANDARD:
        return frame
    segment = frame[6:-6]
    modbus = crc16_modbus(segment)
    crc = modbus if crc_mode == CrcMode.MODBUS else ((modbus & 0xFF) << 8 | modbus >> 8)
    return frame[:-6] + b"%04X\r\n" % crc


def hj212_frame(
    reading: SimReading,
    *,
    mn: str,
    pw: str,
    qn: str,
    crc_mode: str = CrcMode.STANDARD,
    metrics: BinMetricMap = DEFAULT_BIN_METRICS,
) -> bytes:
    """The bin's real-time data upload (CN=2011, Flag=5), framed with the bin's CRC variant."""
    frame = encode_packet(
        qn=qn, st=HJ212_ST, cn=HJ212_CN, pw=pw, mn=mn, flag=HJ212_FLAG, cp=_cp(reading, metrics)
    )
    return _reframe(frame, crc_mode)


def hj212_bad_frame(
    reading: SimReading,
    kind: BadPacket,
    *,
    mn: str,
    pw: str,
    qn: str,
    metrics: BinMetricMap = DEFAULT_BIN_METRICS,
) -> bytes:
    """A frame the platform must drop without an answer: a wrong CRC, or line noise over the frame."""
    frame = hj212_frame(reading, mn=mn, pw=pw, qn=qn, metrics=metrics)
    if kind is BadPacket.BAD_CRC:
        crc = int(frame[-6:-2], 16)
        assert crc == crc16_hj212(frame[6:-6])
        return frame[:-6] + b"%04X\r\n" % (crc ^ 0x5A5A)
    if kind is BadPacket.GARBLED:
        # The header and a stretch of the segment hit by noise; no "##" is left, so a receiver skips
        # it as garbage and resynchronises on the next frame's header.
        body = bytearray(frame)
        body[0:2] = b"#\xa3"
        middle = len(body) // 2
        body[middle : middle + 6] = b"\xff\x00\xfe\x7f\x80\x1b"
        return bytes(body)
    raise ValueError(f"not an HJ 212 bad packet: {kind}")
