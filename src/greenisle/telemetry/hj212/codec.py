"""HJ 212 packet codec: data-segment parsing, packets, answers and times.

Pure Python (no Django, no I/O). Covers HJ/T 212-2005, HJ 212-2017 and HJ 212-2025 framing, which are the
same on the wire. Our engineering summary of the standards is ``protocols.md`` section 1 (shared project
notes); the real packets the tests replay are ``tests/telemetry/vectors/hj212.json``. The rest of the
codec lives beside this module: :mod:`.crc` (Appendix A), :mod:`.framing` (Table 2 and the TCP
:class:`~.framing.Deframer`), :mod:`.bins` (our bin-metric convention) and :mod:`.errors`.

References to HJ 212-2017:

- 6.3.1/6.3.2 and Table 2, packet framing: ``##`` + 4-digit data-segment length + data segment + 4 hex
  CRC + CRLF. The length and the CRC cover the data segment only, counted in UTF-8 bytes.
- 6.3.3 and Table 3, data-segment fields ``QN;ST;CN;PW;MN;Flag;[PNUM;PNO;]CP=&&…&&``; Flag bits
  ``V5..V0 D A`` (version 0 = 2005, 1 = 2017, 2 = 2025).
- 6.3.3 and Table 4, the CP data area: ``;`` separates items, ``,`` values of the same item, ``//…//``
  quotes log text.
- 6.1/6.5 and Appendix C, answers: 9014 (data answer) and 9013 (notice answer) echo QN, PW and MN with
  ``ST=91`` and ``Flag=4`` (2017) or ``Flag=8`` (2025).
- Appendix A, the "ANSI CRC16" (:mod:`.crc`); the Modbus variants seen in the field are accepted only
  when the caller lists them in ``crc_modes``.

Tolerances for real devices: legacy packets without QN/Flag, lowercase CRC hex, a missing CRLF, declared
lengths up to 9999 (warning over 1024), a declared length that disagrees with the segment (accepted with a
warning when the CRC verifies over the segment actually received), unknown top-level fields (``RF=``).

``decode_frame`` never raises: every malformed input becomes a :class:`DecodeError` value. The encoders
raise ``ValueError`` for arguments that cannot be framed, which is a programming error of the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from greenisle.telemetry.hj212.crc import ALL_CRC_MODES, CrcMode, crc16_hj212, matching_crc_mode
from greenisle.telemetry.hj212.errors import RAW_KEEP, DecodeError, decode_error
from greenisle.telemetry.hj212.framing import (
    CONTROL_BYTES,
    CRLF,
    HEADER,
    MAX_SEGMENT_LEN,
    STANDARD_SEGMENT_LEN,
    encode_frame,
    is_hex4,
)

__all__ = [
    "RAW_KEEP",
    "DecodeError",
    "Packet",
    "answer_9013",
    "answer_9014",
    "by_code",
    "decode_frame",
    "encode_packet",
    "format_cp",
    "log_text",
    "parse_datatime",
    "reply_for",
]

_LOWER_HEX: Final = frozenset(b"abcdef")
_BEIJING: Final = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_SYSTEM_CNS: Final = frozenset({"9011", "9012", "9013", "9014"})
_NOTICE_CNS: Final = frozenset({"1013", "2012", "2022"})


# --------------------------------------------------------------------------------------------------------
# Values


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
                return decode_error("bad_input", "输入不是字节串", "input is not bytes")
        return _decode_frame(frame, crc_modes)
    except Exception as exc:  # pragma: no cover - a safety net; the tests assert it is never reached
        return decode_error(
            "internal", f"内部错误 {type(exc).__name__}", f"internal error {type(exc).__name__}", frame
        )


def _decode_frame(frame: bytes, crc_modes: Collection[CrcMode]) -> Packet | DecodeError:
    if not frame.startswith(HEADER):
        if HEADER.startswith(frame):
            return decode_error("truncated", "帧不完整", "frame is truncated", frame)
        return decode_error("no_header", "缺少帧头 ##", "frame does not start with ##", frame)
    if len(frame) > 6 + MAX_SEGMENT_LEN + 4 + 2:
        return decode_error(
            "too_long", "帧超过 9999 字节", "frame exceeds the 9999-byte segment limit", frame
        )
    length_field = frame[2:6]
    if len(length_field) < 4:
        return decode_error("truncated", "帧不完整", "frame is truncated", frame)
    if not length_field.isdigit():
        return decode_error("bad_length", "长度字段不是4位数字", "length field is not 4 digits", frame)
    declared = int(length_field)
    warnings: list[str] = []
    body = frame[6:]
    if body.endswith(CRLF):
        body = body[:-2]
    else:
        warnings.append("no_crlf")
    if len(body) < 4:
        return decode_error("truncated", "帧不完整，缺少校验码", "frame is truncated before the CRC", frame)
    crc_text = body[-4:]
    segment = body[:-4]
    if not is_hex4(crc_text):
        if len(segment) < declared:
            return decode_error("truncated", "帧不完整", "frame is shorter than its declared length", frame)
        return decode_error("bad_crc", "校验码不是4位十六进制", "CRC is not 4 hex digits", frame)
    received = int(crc_text, 16)
    if not _LOWER_HEX.isdisjoint(crc_text):
        warnings.append("lowercase_crc")
    actual = len(segment)
    if declared > STANDARD_SEGMENT_LEN or actual > STANDARD_SEGMENT_LEN:
        warnings.append("over_1024")

    mode = matching_crc_mode(segment, received, crc_modes)
    if actual != declared:
        if mode is None:
            if actual < declared and matching_crc_mode(segment, received, ALL_CRC_MODES) is None:
                return decode_error(
                    "truncated",
                    f"帧不完整：声明长度 {declared}，实际 {actual}",
                    f"frame is truncated: declared length {declared}, actual {actual}",
                    frame,
                )
            return decode_error(
                "bad_length",
                f"长度不符：声明 {declared}，实际 {actual}，校验码也不符",
                f"length mismatch: declared {declared}, actual {actual}, and the CRC does not verify",
                frame,
            )
        warnings.append("length_mismatch")
    elif mode is None:
        expected = crc16_hj212(segment)
        hint = matching_crc_mode(segment, received, ALL_CRC_MODES)
        zh_hint = f"（符合未启用的 {hint.value} 校验）" if hint else ""
        en_hint = f" (matches the {hint.value} variant, not enabled for this device)" if hint else ""
        return decode_error(
            "bad_crc",
            f"校验码错误：收到 {crc_text.decode('ascii')}，应为 {expected:04X}{zh_hint}",
            f"bad CRC: got {crc_text.decode('ascii')}, expected {expected:04X}{en_hint}",
            frame,
        )
    if mode is not CrcMode.STANDARD:
        warnings.append("nonstandard_crc")

    if len(segment.translate(None, CONTROL_BYTES)) != actual:
        return decode_error(
            "bad_segment", "数据段含控制字符", "data segment contains control characters", frame
        )
    try:
        text = segment.decode("utf-8")
    except UnicodeDecodeError:
        return decode_error("bad_encoding", "数据段不是 UTF-8", "data segment is not valid UTF-8", frame)
    return _parse_segment(text, segment, mode, warnings, frame)


def _parse_fields(head: str, fields: dict[str, str], frame: bytes) -> DecodeError | None:
    for item in head.split(";"):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq or not key:
            return decode_error(
                "bad_field", f"字段格式错误：{item[:40]!r}", f"malformed field {item[:40]!r}", frame
            )
        if key in fields:
            return decode_error("bad_field", f"字段重复：{key[:40]}", f"duplicate field {key[:40]}", frame)
        fields[key] = value
    return None


def _parse_int(fields: dict[str, str], key: str, limit: int, frame: bytes) -> int | DecodeError | None:
    value = fields.get(key)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 9) or int(value) > limit:
        return decode_error(
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
            return decode_error("bad_segment", "缺少 CP=&&", "data segment has no CP=&&", frame)
    fields: dict[str, str] = {}
    failure = _parse_fields(text[:cp_at], fields, frame)
    if failure is not None:
        return failure
    rest = text[cp_at + 5 :]
    close = rest.rfind("&&")
    if close < 0:
        return decode_error("bad_segment", "CP 缺少结尾 &&", "CP has no closing &&", frame)
    cp_text = rest[:close]
    tail = rest[close + 2 :]
    if tail:
        if tail[0] != ";":
            return decode_error("bad_segment", "CP 之后有多余内容", "unexpected text after CP", frame)
        failure = _parse_fields(tail, fields, frame)
        if failure is not None:
            return failure
        warnings.append("fields_after_cp")

    if "//" in cp_text:
        raw_groups = _split_cp_quoted(cp_text)
        if raw_groups is None:
            return decode_error("bad_field", "CP 中的 //日志// 未结束", "unterminated //log// in CP", frame)
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
                return decode_error(
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
