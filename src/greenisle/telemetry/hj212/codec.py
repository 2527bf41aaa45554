"""HJ 212 packet codec: framing, CRC, data-segment parsing, answers and the bin-metric mapping.

Pure Python (no Django, no I/O). Covers HJ/T 212-2005, HJ 212-2017 and HJ 212-2025 framing, which are the
same on the wire. Our engineering summary of the standards is ``protocols.md`` section 1 (shared project
notes); the real packets the tests replay are ``tests/telemetry/vectors/hj212.json``.

References to HJ 212-2017:

- 6.3.1/6.3.2 and Table 2, packet framing: ``##`` + 4-digit data-segment length + data segment + 4 hex
  CRC + CRLF. The length and the CRC cover the data segment only, counted in UTF-8 bytes.
- 6.3.3 and Table 3, data-segment fields ``QN;ST;CN;PW;MN;Flag;[PNUM;PNO;]CP=&&…&&``; Flag bits
  ``V5..V0 D A`` (version 0 = 2005, 1 = 2017, 2 = 2025).
- 6.3.3 and Table 4, the CP data area: ``;`` separates items, ``,`` values of the same item, ``//…//``
  quotes log text.
- 6.1/6.5 and Appendix C, answers: 9014 (data answer) and 9013 (notice answer) echo QN, PW and MN with
  ``ST=91`` and ``Flag=4`` (2017) or ``Flag=8`` (2025).
- Appendix A, the "ANSI CRC16": ``reg=0xFFFF; reg=(reg>>8)^byte; 8x shift/xor 0xA001``, written as 4 hex
  digits, high byte first. It is not CRC-16/MODBUS; the Modbus variants seen in the field are accepted only
  when the caller lists them in ``crc_modes``.

Tolerances for real devices: legacy packets without QN/Flag, lowercase CRC hex, a missing CRLF, declared
lengths up to 9999 (warning over 1024), a declared length that disagrees with the segment (accepted with a
warning when the CRC verifies over the segment actually received), unknown top-level fields (``RF=``).

``decode_frame`` never raises: every malformed input becomes a :class:`DecodeError` value. The encoders
raise ``ValueError`` for arguments that cannot be framed, which is a programming error of the caller.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = [
    "DEFAULT_BIN_METRICS",
    "MAX_SEGMENT_LEN",
    "STANDARD_SEGMENT_LEN",
    "BinMetricMap",
    "BinSample",
    "CrcMode",
    "DecodeError",
    "Deframer",
    "Packet",
    "answer_9013",
    "answer_9014",
    "bin_sample",
    "by_code",
    "crc16_hj212",
    "crc16_modbus",
    "decode_frame",
    "encode_frame",
    "encode_packet",
    "format_cp",
    "log_text",
    "parse_datatime",
    "reply_for",
]

#: The standard's limit for the data segment (Table 2); longer segments are accepted with a warning.
STANDARD_SEGMENT_LEN: Final = 1024
#: The most a 4-digit length field can declare.
MAX_SEGMENT_LEN: Final = 9999
#: How many bytes of the offending input a DecodeError keeps.
RAW_KEEP: Final = 200

_HEADER: Final = b"##"
_CRLF: Final = b"\r\n"
_HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
_LOWER_HEX: Final = frozenset(b"abcdef")
# C0 control characters and DEL never occur in a data segment (6.3: ASCII text, UTF-8 for Chinese). This
# also keeps NUL out of anything that reaches the database.
_CONTROL_BYTES: Final = bytes(range(0x20)) + b"\x7f"
_CONTROL_RE: Final = re.compile(rb"[\x00-\x1f\x7f]")
# A decimal number as HJ 212 writes it ("N14.2": sign, digits, optional decimals). No exponent, no
# underscores, no NaN/Infinity (all of which Decimal() would accept). Linear: no nested quantifiers.
_NUMBER_RE: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_MAX_NUMBER_LEN: Final = 40
_BEIJING: Final = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_SYSTEM_CNS: Final = frozenset({"9011", "9012", "9013", "9014"})
_NOTICE_CNS: Final = frozenset({"1013", "2012", "2022"})


# --------------------------------------------------------------------------------------------------------
# CRC (Appendix A)


def _reflected_table(poly: int) -> tuple[int, ...]:
    table = []
    for index in range(256):
        reg = index
        for _ in range(8):
            reg = (reg >> 1) ^ poly if reg & 1 else reg >> 1
        table.append(reg)
    return tuple(table)


_CRC_TABLE: Final = _reflected_table(0xA001)


def crc16_hj212(data: bytes) -> int:
    """HJ 212 Appendix A "ANSI CRC16" over ``data``: ``b"123456789"`` gives 0x2F80, ``b""`` 0xFFFF.

    Per byte the standard does ``reg = (reg >> 8) ^ byte`` and then eight reflected shift/xor-0xA001
    steps. After the first step the register is below 0x100, so the eight steps are one table look-up.
    """
    reg = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        reg = table[(reg >> 8) ^ byte]
    return reg


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (``reg ^= byte``; poly 0xA001 reflected, init 0xFFFF): ``b"123456789"`` gives 0x4B37."""
    reg = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        reg = (reg >> 8) ^ table[(reg ^ byte) & 0xFF]
    return reg


class CrcMode(enum.StrEnum):
    """Which CRC a frame carries: the standard one, or a Modbus variant seen in the field (1.6)."""

    STANDARD = "standard"
    MODBUS = "modbus"
    #: CRC-16/MODBUS written low byte first, e.g. ``A6EC`` for 0xECA6.
    MODBUS_SWAPPED = "modbus_swapped"


def _matching_crc_mode(segment: bytes, received: int, modes: Collection[CrcMode]) -> CrcMode | None:
    """The first variant, in the order standard, Modbus, Modbus swapped, that is allowed and matches."""
    if CrcMode.STANDARD in modes and crc16_hj212(segment) == received:
        return CrcMode.STANDARD
    want_modbus = CrcMode.MODBUS in modes
    want_swapped = CrcMode.MODBUS_SWAPPED in modes
    if want_modbus or want_swapped:
        modbus = crc16_modbus(segment)
        if want_modbus and modbus == received:
            return CrcMode.MODBUS
        if want_swapped and ((modbus & 0xFF) << 8 | modbus >> 8) == received:
            return CrcMode.MODBUS_SWAPPED
    return None


_ALL_CRC_MODES: Final = frozenset(CrcMode)


# --------------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Why some bytes are not a usable packet. Returned, never raised.

    ``code`` is short and stable for metrics (``no_header``, ``bad_length``, ``truncated``, ``bad_crc``,
    ``bad_encoding``, ``bad_segment``, ``bad_field``, ``too_long``, ``bad_input``, ``bad_datatime``,
    ``bad_value``, ``internal``); ``message`` is bilingual "中文 / English"; ``raw`` holds the offending
    bytes (at most :data:`RAW_KEEP` of them).
    """

    code: str
    message: str
    raw: bytes = b""


def _error(code: str, zh: str, en: str, raw: bytes = b"") -> DecodeError:
    return DecodeError(code=code, message=f"{zh} / {en}", raw=bytes(raw[:RAW_KEEP]))


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded HJ 212 packet.

    ``fields`` holds every top-level field as sent (``CP`` excluded, unknown ones such as ``RF`` kept);
    ``cp`` the CP data area flattened to key → value (values as sent, ``//…//`` log quotes included; see
    :func:`log_text`); ``cp_groups`` its ``;``-separated items, each a tuple of ``key=value`` strings.
    ``version`` is Flag bits 2–7 (0 when Flag is missing), ``need_ack`` Flag bit A, ``has_pnum_pno`` Flag bit
    D (without Flag: whether PNUM and PNO are both present). ``segment`` is the data segment as received.
    """

    qn: str | None
    st: str | None
    cn: str | None
    pw: str | None
    mn: str | None
    flag: int | None
    pnum: int | None
    pno: int | None
    cp: dict[str, str]
    cp_groups: tuple[tuple[str, ...], ...]
    fields: dict[str, str]
    version: int
    need_ack: bool
    has_pnum_pno: bool
    crc_mode: CrcMode
    warnings: tuple[str, ...]
    segment: bytes


def by_code(packet: Packet) -> dict[str, dict[str, str]]:
    """CP values grouped by factor code: ``w01018-Rtd=2.2,w01018-Flag=N`` → ``{"w01018": {"Rtd": "2.2",
    "Flag": "N"}}``. Keys without a ``-`` (``DataTime``, ``PolId``, …) are left out."""
    result: dict[str, dict[str, str]] = {}
    for key, value in packet.cp.items():
        code, dash, suffix = key.rpartition("-")
        if dash and code and suffix:
            result.setdefault(code, {})[suffix] = value
    return result


def log_text(value: str) -> str:
    """The text of a ``//…//`` log value without its quotes; other values unchanged."""
    if len(value) >= 4 and value.startswith("//") and value.endswith("//"):
        return value[2:-2]
    return value


# --------------------------------------------------------------------------------------------------------
# Decoding


def _is_hex4(data: bytes) -> bool:
    return len(data) == 4 and not data.translate(None, _HEX_DIGITS)


def decode_frame(
    frame: bytes, *, crc_modes: Collection[CrcMode] = (CrcMode.STANDARD,)
) -> Packet | DecodeError:
    """Decode one complete frame (``##`` + length + segment + CRC + optional CRLF). Never raises.

    ``crc_modes`` lists the CRC variants accepted for this device; the standard one only by default.
    """
    try:
        if not isinstance(frame, bytes):
            if isinstance(frame, bytearray | memoryview):
                frame = bytes(frame)
            else:
                return _error("bad_input", "输入不是字节串", "input is not bytes")
        return _decode_frame(frame, crc_modes)
    except Exception as exc:  # pragma: no cover - a safety net; the tests assert it is never reached
        return _error(
            "internal", f"内部错误 {type(exc).__name__}", f"internal error {type(exc).__name__}", frame
        )


def _decode_frame(frame: bytes, crc_modes: Collection[CrcMode]) -> Packet | DecodeError:
    if not frame.startswith(_HEADER):
        if _HEADER.startswith(frame):
            return _error("truncated", "帧不完整", "frame is truncated", frame)
        return _error("no_header", "缺少帧头 ##", "frame does not start with ##", frame)
    if len(frame) > 6 + MAX_SEGMENT_LEN + 4 + 2:
        return _error("too_long", "帧超过 9999 字节", "frame exceeds the 9999-byte segment limit", frame)
    length_field = frame[2:6]
    if len(length_field) < 4:
        return _error("truncated", "帧不完整", "frame is truncated", frame)
    if not length_field.isdigit():
        return _error("bad_length", "长度字段不是4位数字", "length field is not 4 digits", frame)
    declared = int(length_field)
    warnings: list[str] = []
    body = frame[6:]
    if body.endswith(_CRLF):
        body = body[:-2]
    else:
        warnings.append("no_crlf")
    if len(body) < 4:
        return _error("truncated", "帧不完整，缺少校验码", "frame is truncated before the CRC", frame)
    crc_text = body[-4:]
    segment = body[:-4]
    if not _is_hex4(crc_text):
        if len(segment) < declared:
            return _error("truncated", "帧不完整", "frame is shorter than its declared length", frame)
        return _error("bad_crc", "校验码不是4位十六进制", "CRC is not 4 hex digits", frame)
    received = int(crc_text, 16)
    if not _LOWER_HEX.isdisjoint(crc_text):
        warnings.append("lowercase_crc")
    actual = len(segment)
    if declared > STANDARD_SEGMENT_LEN or actual > STANDARD_SEGMENT_LEN:
        warnings.append("over_1024")

    mode = _matching_crc_mode(segment, received, crc_modes)
    if actual != declared:
        if mode is None:
            if actual < declared and _matching_crc_mode(segment, received, _ALL_CRC_MODES) is None:
                return _error(
                    "truncated",
                    f"帧不完整：声明长度 {declared}，实际 {actual}",
                    f"frame is truncated: declared length {declared}, actual {actual}",
                    frame,
                )
            return _error(
                "bad_length",
                f"长度不符：声明 {declared}，实际 {actual}，校验码也不符",
                f"length mismatch: declared {declared}, actual {actual}, and the CRC does not verify",
                frame,
            )
        warnings.append("length_mismatch")
    elif mode is None:
        expected = crc16_hj212(segment)
        hint = _matching_crc_mode(segment, received, _ALL_CRC_MODES)
        zh_hint = f"（符合未启用的 {hint.value} 校验）" if hint else ""
        en_hint = f" (matches the {hint.value} variant, not enabled for this device)" if hint else ""
        return _error(
            "bad_crc",
            f"校验码错误：收到 {crc_text.decode('ascii')}，应为 {expected:04X}{zh_hint}",
            f"bad CRC: got {crc_text.decode('ascii')}, expected {expected:04X}{en_hint}",
            frame,
        )
    if mode is not CrcMode.STANDARD:
        warnings.append("nonstandard_crc")

    if len(segment.translate(None, _CONTROL_BYTES)) != actual:
        return _error("bad_segment", "数据段含控制字符", "data segment contains control characters", frame)
    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError:
        return _error("bad_encoding", "数据段不是 UTF-8", "data segment is not valid UTF-8", frame)
    return _parse_segment(text, segment, mode, warnings, frame)


def _parse_fields(head: str, fields: dict[str, str], frame: bytes) -> DecodeError | None:
    for item in head.split(";"):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq or not key:
            return _error(
                "bad_field", f"字段格式错误：{item[:40]!r}", f"malformed field {item[:40]!r}", frame
            )
        if key in fields:
            return _error("bad_field", f"字段重复：{key[:40]}", f"duplicate field {key[:40]}", frame)
        fields[key] = value
    return None


def _parse_int(fields: dict[str, str], key: str, limit: int, frame: bytes) -> int | DecodeError | None:
    value = fields.get(key)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 9) or int(value) > limit:
        return _error(
            "bad_field",
            f"{key} 不是有效整数：{value[:20]!r}",
            f"{key} is not a valid integer: {value[:20]!r}",
            frame,
        )
    return int(value)


def _split_cp_quoted(text: str) -> list[list[str]] | None:
    """Split a CP data area that contains ``//``: a value starting with ``//`` runs to the first ``//``
    followed by ``;``, ``,`` or the end. None when a log is not terminated. Linear in ``len(text)``."""
    groups: list[list[str]] = []
    current: list[str] = []
    n = len(text)
    start = 0
    semi = comma = -1
    while True:
        if semi < start:
            semi = text.find(";", start)
            if semi < 0:
                semi = n
        if comma < start:
            comma = text.find(",", start)
            if comma < 0:
                comma = n
        end = min(semi, comma)
        eq = text.find("=", start, end)
        if eq >= 0 and text.startswith("//", eq + 1):
            close = text.find("//", eq + 3)
            while close >= 0 and close + 2 < n and text[close + 2] not in ";,":
                close = text.find("//", close + 1)
            if close < 0:
                return None
            end = close + 2
        current.append(text[start:end])
        if end >= n:
            break
        if text[end] == ";":
            groups.append(current)
            current = []
        start = end + 1
    groups.append(current)
    return groups


def _parse_segment(
    text: str, segment: bytes, mode: CrcMode, warnings: list[str], frame: bytes
) -> Packet | DecodeError:
    if text.startswith("CP=&&"):
        cp_at = 0
    else:
        cp_at = text.find(";CP=&&") + 1
        if cp_at == 0:
            return _error("bad_segment", "缺少 CP=&&", "data segment has no CP=&&", frame)
    fields: dict[str, str] = {}
    failure = _parse_fields(text[:cp_at], fields, frame)
    if failure is not None:
        return failure
    rest = text[cp_at + 5 :]
    close = rest.rfind("&&")
    if close < 0:
        return _error("bad_segment", "CP 缺少结尾 &&", "CP has no closing &&", frame)
    cp_text = rest[:close]
    tail = rest[close + 2 :]
    if tail:
        if tail[0] != ";":
            return _error("bad_segment", "CP 之后有多余内容", "unexpected text after CP", frame)
        failure = _parse_fields(tail, fields, frame)
        if failure is not None:
            return failure
        warnings.append("fields_after_cp")

    if "//" in cp_text:
        raw_groups = _split_cp_quoted(cp_text)
        if raw_groups is None:
            return _error("bad_field", "CP 中的 //日志// 未结束", "unterminated //log// in CP", frame)
    else:
        raw_groups = [group.split(",") for group in cp_text.split(";")] if cp_text else []
    cp: dict[str, str] = {}
    groups: list[tuple[str, ...]] = []
    duplicate = False
    for raw_group in raw_groups:
        items = tuple(item for item in raw_group if item)
        if not items:
            continue
        for item in items:
            key, eq, value = item.partition("=")
            if not eq or not key:
                return _error(
                    "bad_field", f"CP 项格式错误：{item[:40]!r}", f"malformed CP item {item[:40]!r}", frame
                )
            if key in cp:
                duplicate = True
            else:
                cp[key] = value
        groups.append(items)
    if duplicate:
        warnings.append("duplicate_cp_key")

    flag = _parse_int(fields, "Flag", 255, frame)
    if isinstance(flag, DecodeError):
        return flag
    pnum = _parse_int(fields, "PNUM", 999_999_999, frame)
    if isinstance(pnum, DecodeError):
        return pnum
    pno = _parse_int(fields, "PNO", 999_999_999, frame)
    if isinstance(pno, DecodeError):
        return pno
    if flag is None:
        version, need_ack, has_pnum_pno = 0, False, pnum is not None and pno is not None
    else:
        version, need_ack, has_pnum_pno = flag >> 2, bool(flag & 1), bool(flag & 2)
        if version > 2:
            warnings.append("unknown_version")
    if has_pnum_pno and (pnum is None or pno is None):
        warnings.append("missing_pnum_pno")
    elif pnum is not None and pno is not None and not 1 <= pno <= pnum:
        warnings.append("pno_out_of_range")
    return Packet(
        qn=fields.get("QN"),
        st=fields.get("ST"),
        cn=fields.get("CN"),
        pw=fields.get("PW"),
        mn=fields.get("MN"),
        flag=flag,
        pnum=pnum,
        pno=pno,
        cp=cp,
        cp_groups=tuple(groups),
        fields=fields,
        version=version,
        need_ack=need_ack,
        has_pnum_pno=has_pnum_pno,
        crc_mode=mode,
        warnings=tuple(warnings),
        segment=segment,
    )


# --------------------------------------------------------------------------------------------------------
# Stream deframing (TCP)


class Deframer:
    """Split a TCP byte stream into raw frames for :func:`decode_frame`.

    ``feed`` returns the complete frames found so far (bytes) and a :class:`DecodeError` for each run of
    garbage it skipped. A frame ends ``declared length + 4`` bytes after its length field, plus a CRLF if
    one follows. A frame without CRLF is released as soon as its CRC verifies (in any variant), so a device
    that sends no CRLF and waits for its 9014 is not stalled; when the declared length is wrong the frame
    ends at the next CRLF or the next ``##``. Stray whitespace and NUL between frames are dropped silently.
    The buffer never holds more than ``max_frame`` bytes: a frame that does not end by then is dropped
    with ``too_long`` and the stream resynchronises on the next ``##``. (The largest frame a 4-digit
    length allows is 10,011 bytes with CRLF; raise ``max_frame`` to accept segments above 9,988 bytes.)
    Call :meth:`flush` when the connection closes.
    """

    __slots__ = ("_buffer", "max_frame")

    def __init__(self, max_frame: int = 10_000) -> None:
        if max_frame < 16:
            raise ValueError("max_frame must be at least 16")
        self.max_frame = max_frame
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        """How many bytes are held waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | DecodeError]:
        out: list[bytes | DecodeError] = []
        view = memoryview(data)
        position = 0
        total = len(view)
        while position < total:
            room = self.max_frame - len(self._buffer)
            self._buffer += view[position : position + room]
            position += room
            self._drain(out)
        return out

    def flush(self) -> list[bytes | DecodeError]:
        """The connection closed: return what is left (a last frame lacking CRLF, or a truncated one)."""
        out: list[bytes | DecodeError] = []
        self._drain(out)
        buffer = self._buffer
        if buffer and buffer.strip(b" \t\r\n\x00"):
            if buffer.startswith(_HEADER) and len(buffer) >= 10:
                out.append(bytes(buffer))
            else:
                out.append(
                    _error("truncated", "连接关闭时帧不完整", "connection closed mid-frame", bytes(buffer))
                )
        buffer.clear()
        return out

    def _skip(self, count: int, out: list[bytes | DecodeError], code: str = "no_header") -> None:
        buffer = self._buffer
        skipped = bytes(buffer[:count])
        del buffer[:count]
        if skipped.strip(b" \t\r\n\x00"):
            if code == "no_header":
                out.append(_error(code, "跳过帧外数据", "skipped bytes outside a frame", skipped))
            elif code == "bad_length":
                out.append(
                    _error(code, "帧头后不是4位长度，已跳过", "skipped ## without a 4-digit length", skipped)
                )
            else:
                out.append(
                    _error(
                        code,
                        f"帧超过 {self.max_frame} 字节仍未结束，已丢弃",
                        f"frame did not end within {self.max_frame} bytes; dropped",
                        skipped,
                    )
                )

    def _drain(self, out: list[bytes | DecodeError]) -> None:
        buffer = self._buffer
        while buffer:
            start = buffer.find(_HEADER)
            if start < 0:
                # Keep a trailing "#": it may be the first half of the next header.
                self._skip(len(buffer) - 1 if buffer.endswith(b"#") else len(buffer), out)
                return
            if start:
                self._skip(start, out)
            if len(buffer) < 6:
                return
            length_field = bytes(buffer[2:6])
            if not length_field.isdigit():
                following = buffer.find(_HEADER, 1)
                self._skip(
                    following if following > 0 else len(buffer) - (buffer[-1] == 0x23), out, "bad_length"
                )
                continue
            end = self._frame_end(int(length_field))
            if end is None:
                if len(buffer) >= self.max_frame:
                    following = buffer.find(_HEADER, 2)
                    if following < 0:
                        following = len(buffer) - (buffer[-1] == 0x23)
                    self._skip(following, out, "too_long")
                    continue
                return
            out.append(bytes(buffer[:end]))
            del buffer[:end]

    def _frame_end(self, declared: int) -> int | None:
        """Where the frame at the start of the buffer ends, or None to wait for more bytes."""
        buffer = self._buffer
        size = len(buffer)
        end = 6 + declared + 4
        if size < end:
            # A CRLF never occurs inside a segment: if one shows up early, the declared length is wrong.
            crlf = buffer.find(_CRLF, 6)
            return crlf + 2 if crlf >= 0 else None
        if _is_hex4(bytes(buffer[end - 4 : end])):
            after = buffer[end : end + 2]
            if after == _CRLF:
                return end + 2
            received = int(bytes(buffer[end - 4 : end]), 16)
            if _matching_crc_mode(bytes(buffer[6 : end - 4]), received, _ALL_CRC_MODES) is not None:
                return end
            if after == _HEADER:
                return end
            if not after or bytes(after) in (b"\r", b"#"):
                return None
        # The declared length is wrong: fall back to the next CRLF or the next "##".
        crlf = buffer.find(_CRLF, 6)
        header = buffer.find(_HEADER, 2)
        candidates = [position for position in (crlf + 2 if crlf >= 0 else -1, header) if position > 0]
        return min(candidates) if candidates else None


# --------------------------------------------------------------------------------------------------------
# Times


def parse_datatime(value: str) -> dt.datetime | None:
    """``YYYYMMDDhhmmss`` or ``YYYYMMDDhhmmsszzz`` in Beijing time (UTC+8, no DST) → aware UTC datetime.

    None for anything else: wrong length, non-digits, impossible dates or times.
    """
    if not isinstance(value, str) or len(value) not in (14, 17) or not (value.isascii() and value.isdigit()):
        return None
    try:
        local = dt.datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:14]),
            int(value[14:17] or "0") * 1000,
            tzinfo=_BEIJING,
        )
        return local.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------------------------------------
# Encoding and answers


def encode_frame(segment: str) -> bytes:
    """Frame a data segment: ``##`` + UTF-8 byte length + segment + standard CRC (upper case) + CRLF."""
    data = segment.encode("utf-8")
    if len(data) > MAX_SEGMENT_LEN:
        raise ValueError(
            f"data segment is {len(data)} bytes; the length field allows at most {MAX_SEGMENT_LEN}"
        )
    if _CONTROL_RE.search(data):
        raise ValueError("data segment must not contain control characters")
    return b"##%04d%b%04X\r\n" % (len(data), data, crc16_hj212(data))


def _check_key(key: str) -> None:
    if not key or any(char in key for char in ";,=&") or "//" in key:
        raise ValueError(f"invalid CP key {key!r}")


def _check_value(key: str, value: str) -> None:
    if value.startswith("//"):
        inner = value[2:-2]
        if len(value) < 4 or not value.endswith("//") or "//;" in inner or "//," in inner:
            raise ValueError(f"CP log value for {key!r} must be //text// without //; or //, inside")
    elif ";" in value or "," in value:
        raise ValueError(f"CP value for {key!r} contains a separator; quote log text as //…//")


def format_cp(cp: Sequence[tuple[str, str]] | Mapping[str, str]) -> str:
    """The CP data area for key/value pairs: consecutive keys of one factor code (``a01001-Rtd``,
    ``a01001-Flag``) are joined by ``,``, everything else by ``;`` (6.3.3)."""
    pairs = list(cp.items()) if isinstance(cp, Mapping) else list(cp)
    parts: list[str] = []
    previous_code: str | None = None
    for key, value in pairs:
        _check_key(key)
        _check_value(key, value)
        code, dash, _ = key.rpartition("-")
        code_or_none = code if dash and code else None
        if parts:
            parts.append("," if code_or_none is not None and code_or_none == previous_code else ";")
        parts.append(f"{key}={value}")
        previous_code = code_or_none
    return "".join(parts)


def encode_packet(
    *,
    qn: str | None,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    flag: int | None,
    cp: Sequence[tuple[str, str]] | Mapping[str, str] | str,
    pnum: int | None = None,
    pno: int | None = None,
) -> bytes:
    """Build a framed packet. QN and Flag are left out when None (HJ/T 212-2005 style). ``cp`` is a
    ready-made data area (str) or key/value pairs (see :func:`format_cp`)."""
    if flag is not None and not 0 <= flag <= 255:
        raise ValueError("Flag must be 0–255")
    for number in (pnum, pno):
        if number is not None and number < 0:
            raise ValueError("PNUM/PNO must be >= 0")
    parts: list[str] = []
    for key, value in (("QN", qn), ("ST", st), ("CN", cn), ("PW", pw), ("MN", mn)):
        if value is None:
            continue
        if ";" in value:
            raise ValueError(f"{key} must not contain ';'")
        parts.append(f"{key}={value}")
    if flag is not None:
        parts.append(f"Flag={flag}")
    if pnum is not None:
        parts.append(f"PNUM={pnum}")
    if pno is not None:
        parts.append(f"PNO={pno}")
    cp_text = cp if isinstance(cp, str) else format_cp(cp)
    parts.append(f"CP=&&{cp_text}&&")
    return encode_frame(";".join(parts))


def _answer(packet: Packet, cn: str) -> bytes:
    parts: list[str] = []
    if packet.qn is not None:
        parts.append(f"QN={packet.qn}")
    parts.append(f"ST=91;CN={cn}")
    if packet.pw is not None:
        parts.append(f"PW={packet.pw}")
    if packet.mn is not None:
        parts.append(f"MN={packet.mn}")
    if packet.flag is not None:
        # Same version, no answer wanted, not split: 4 for 2017, 8 for 2025.
        parts.append(f"Flag={(packet.version & 0x3F) << 2}")
    parts.append("CP=&&&&")
    return encode_frame(";".join(parts))


def answer_9014(packet: Packet) -> bytes:
    """The data answer (6.5, C.14): ``QN=<same>;ST=91;CN=9014;PW=<same>;MN=<same>;Flag=4|8;CP=&&&&``.
    QN and Flag are left out when the packet had none (HJ/T 212-2005)."""
    return _answer(packet, "9014")


def answer_9013(packet: Packet) -> bytes:
    """The notice answer (6.5, C.13), for 1013/2012/2022; same layout as :func:`answer_9014`."""
    return _answer(packet, "9013")


def reply_for(packet: Packet) -> bytes | None:
    """What the platform sends back to an uploaded packet (1.5): nothing unless Flag bit A is set or for
    an answer (9011–9014); 9013 for the notices 1013/2012/2022; 9014 otherwise."""
    if not packet.need_ack or packet.cn in _SYSTEM_CNS:
        return None
    return answer_9013(packet) if packet.cn in _NOTICE_CNS else answer_9014(packet)


# --------------------------------------------------------------------------------------------------------
# Smart-bin mapping (protocols.md 1.8: a private, configurable convention)


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
    return _error(
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
        return _error(
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
            return _error(
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
