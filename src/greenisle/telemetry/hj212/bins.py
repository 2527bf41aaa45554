"""The smart-bin reading in an HJ 212 packet (protocols.md 1.8: a private, configurable convention).

:class:`BinMetricMap` says which factor codes carry the bin's readings and which CNs carry data;
:func:`bin_sample` turns a decoded :class:`~.codec.Packet` into a :class:`BinSample`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from greenisle.telemetry.hj212.codec import Packet, log_text, parse_datatime
from greenisle.telemetry.hj212.errors import DecodeError, decode_error

__all__ = ["DEFAULT_BIN_METRICS", "BinMetricMap", "BinSample", "bin_sample"]

# A decimal number as HJ 212 writes it ("N14.2": sign, digits, optional decimals). No exponent, no
# underscores, no NaN/Infinity (all of which Decimal() would accept). Linear: no nested quantifiers.
_NUMBER_RE: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_MAX_NUMBER_LEN: Final = 40


@dataclass(frozen=True)
class BinMetricMap:
    """Which factor codes carry the bin's readings, and which CNs carry data. Our own convention (1.8),
    not the standard's; override per deployment."""

    fill: str = "i43001"
    weight: str = "i43002"
    temperature: str = "a01001"
    door_log: str = "i31001"
    door_state: str = "i32001"
    battery: str = "i43003"
    data_cns: frozenset[str] = frozenset({"2011", "2051", "2061", "3020"})


DEFAULT_BIN_METRICS: Final = BinMetricMap()


@dataclass(frozen=True, slots=True)
class BinSample:
    """One bin reading taken from an HJ 212 packet; numbers are Decimal, times UTC."""

    observed_at: dt.datetime
    device_time_raw: str
    fill_pct: Decimal | None
    net_weight_kg: Decimal | None
    temperature_c: Decimal | None
    battery_pct: Decimal | None
    door_open: bool | None
    quality: str
    sequence: int | None


_PERIOD_CNS: Final = frozenset({"2051", "2061"})
_OPEN_WORDS: Final = frozenset({"1", "open", "opened", "true", "开", "打开", "已打开", "开启"})
_CLOSED_WORDS: Final = frozenset({"0", "closed", "close", "false", "关", "关闭", "已关闭"})


def _decimal(key: str, value: str) -> Decimal | DecodeError:
    if len(value) <= _MAX_NUMBER_LEN and _NUMBER_RE.fullmatch(value):
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            pass
        else:
            if number.is_finite():
                return number
    return decode_error(
        "bad_value",
        f"{key} 不是有效数字：{value[:40]!r}",
        f"{key} is not a valid number: {value[:40]!r}",
        value.encode("utf-8", "replace"),
    )


def _door_from_state(value: str) -> bool | None:
    word = log_text(value).strip().lower()
    if word in _OPEN_WORDS:
        return True
    if word in _CLOSED_WORDS:
        return False
    return None


def _door_from_log(value: str) -> bool | None:
    text = log_text(value).lower()
    opened = "开" in text or "open" in text
    closed = "关" in text or "close" in text
    if opened != closed:
        return opened
    return None


def bin_sample(packet: Packet, metrics: BinMetricMap = DEFAULT_BIN_METRICS) -> BinSample | DecodeError | None:
    """The bin reading in ``packet``; None when it carries none (a heartbeat, a 1062, an air station's
    2011). DataTime is required (``bad_datatime``); numbers must be plain decimals (``bad_value``)."""
    if packet.cn not in metrics.data_cns:
        return None
    cp = packet.cp
    prefixes = tuple(
        f"{code}-"
        for code in (
            metrics.fill,
            metrics.weight,
            metrics.temperature,
            metrics.battery,
            metrics.door_state,
            metrics.door_log,
        )
    )
    if not any(key.startswith(prefixes) for key in cp):
        return None
    raw_time = cp.get("DataTime")
    observed_at = parse_datatime(raw_time) if raw_time is not None else None
    if observed_at is None or raw_time is None:
        return decode_error(
            "bad_datatime",
            f"DataTime 缺失或无效：{(raw_time or '')[:40]!r}",
            f"DataTime missing or invalid: {(raw_time or '')[:40]!r}",
            packet.segment,
        )
    period = packet.cn in _PERIOD_CNS
    numbers: dict[str, Decimal | None] = {}
    for name, code in (
        ("fill", metrics.fill),
        ("weight", metrics.weight),
        ("temperature", metrics.temperature),
        ("battery", metrics.battery),
    ):
        key = f"{code}-Rtd"
        value = cp.get(key)
        if value is None and period:
            key = f"{code}-Avg"
            value = cp.get(key)
        if value is None:
            numbers[name] = None
            continue
        number = _decimal(key, value)
        if isinstance(number, DecodeError):
            return number
        numbers[name] = number
    door_open: bool | None = None
    state = cp.get(f"{metrics.door_state}-Info")
    if state is not None:
        door_open = _door_from_state(state)
    if door_open is None:
        log = cp.get(f"{metrics.door_log}-Info")
        if log is not None:
            door_open = _door_from_log(log)
    sequence: int | None = None
    raw_sequence = cp.get("Seq")
    if raw_sequence is not None:
        if not (raw_sequence.isascii() and raw_sequence.isdigit() and len(raw_sequence) <= 19):
            return decode_error(
                "bad_value",
                f"Seq 不是非负整数：{raw_sequence[:40]!r}",
                f"Seq is not a non-negative integer: {raw_sequence[:40]!r}",
                raw_sequence.encode("utf-8", "replace"),
            )
        sequence = int(raw_sequence)
    flag = cp.get(f"{metrics.fill}-Flag", "")
    return BinSample(
        observed_at=observed_at,
        device_time_raw=raw_time,
        fill_pct=numbers["fill"],
        net_weight_kg=numbers["weight"],
        temperature_c=numbers["temperature"],
        battery_pct=numbers["battery"],
        door_open=door_open,
        quality=flag[:1] or "N",
        sequence=sequence,
    )
