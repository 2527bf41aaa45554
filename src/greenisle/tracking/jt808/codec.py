"""JT/T 808 message codec: framing, escaping, check code, header, core bodies and replies.

Pure Python (no Django, no I/O). Covers JT/T 808-2011, the January 2013 BeiDou supplement ("2013") and
JT/T 808-2019. Our engineering summary of the standards is ``protocols.md`` section 2 (shared project
notes); the real packets the tests replay are ``tests/tracking/vectors/jt808.json``.

References to JT/T 808-2019 (section numbers of the 2019 text; the 2011 text numbers the header the same
and the messages differently, e.g. register is 8.4 there):

- 4.4, message composition: ``0x7E | header | body | check code | 0x7E``; ``0x7E`` is escaped as
  ``7D 02`` and ``0x7D`` as ``7D 01`` over header, body and check code. Send = build, check code, escape;
  receive = unescape, verify, parse. The check code is the XOR of every unescaped byte from the first
  header byte to the last body byte. WORD/DWORD are big-endian, BCD[n] is 8421, STRING is GBK, BYTE[n]
  is padded with 0x00.
- 4.4.3, the header: message id WORD, body attributes WORD (bits 0–9 body length, 10–12 encryption, 13
  sub-package, 14 version flag in 2019), 2019 protocol version BYTE, phone BCD[6] (2013) or BCD[10]
  (2019), serial number WORD, then packet total WORD and packet sequence WORD for a sub-package.
- Chapter 8, the bodies: 8.1/8.2 general replies 0x0001 and 0x8001; 8.3 heartbeat 0x0002; 8.4/8.5 query
  server time 0x0004 and its UTC reply 0x8004 (new in 2019); 8.8 register 0x0100 and 8.9 its reply
  0x8100; 8.10 logout 0x0003; 8.11 authenticate 0x0102; the location report 0x0200 (base record Table
  23, alarm and status bits, attachment TLVs) and the batch location upload 0x0704.

Quirks of real devices handled here (protocols.md 2.2 and 2.6):

- bit 14 set but a 2013 header: the 2013 layout is used when only it gives a consistent body length;
- the 2011 / 2013 / 2019 register layouts are told apart by body length and the plate-colour byte;
- the 2019 authenticate table prints offsets "n+1 / n+9"; the real ones are 1+n and 16+n;
- fixed-width strings NUL-padded on either side (stripped) and decoded as GBK with replacement;
- location times that are not valid BCD (``000000000000`` without a fix): ``time`` is None, the raw digits
  are kept; latitudes and longitudes are never range-checked;
- unknown, duplicate, zero-id and truncated attachment TLVs are kept raw and never fail the report;
- a wrong check code is ``bad_check`` unless the caller passes ``skip_check=True``;
- an unescaped 0x7D check code just before the closing flag is accepted only with ``lenient=True``.

:func:`decode` takes one frame with or without its 0x7E flags; :class:`Deframer` cuts a TCP stream into
frames (sticky and half frames, shared or doubled flags, garbage, a bounded buffer). :func:`encode` and
the reply helpers build complete escaped frames in the 2013 or 2019 header layout.

``decode`` never raises: every malformed input becomes a :class:`DecodeError` value. The encoders raise
``ValueError`` for arguments that cannot be encoded, which is a programming error of the caller.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import xor
from typing import Final

__all__ = [
    "MAX_BODY_LEN",
    "MAX_FRAME",
    "Attachment",
    "Authenticate",
    "Body",
    "DecodeError",
    "Deframer",
    "Header",
    "Heartbeat",
    "Location",
    "LocationBatch",
    "Logout",
    "Message",
    "PlatformReply",
    "QueryTime",
    "Register",
    "RegisterReply",
    "ServerTime",
    "TerminalReply",
    "Unknown",
    "alarm_names",
    "check_code",
    "decode",
    "encode",
    "encode_authenticate_body",
    "encode_location_batch_body",
    "encode_location_body",
    "encode_register_body",
    "escape",
    "normalise_phone",
    "platform_reply",
    "register_reply",
    "server_time_reply",
    "unescape",
]

#: Body length is 10 bits (body attribute bits 0–9); longer messages must be split into sub-packages.
MAX_BODY_LEN: Final = 1023
#: The largest unescaped message: 2019 header with sub-package fields (21) + body + check code.
MAX_MESSAGE: Final = 21 + MAX_BODY_LEN + 1
#: The largest frame content between the flags once escaped (every byte may double).
MAX_FRAME: Final = 2 * MAX_MESSAGE
#: How many bytes of the offending input a DecodeError keeps (a whole frame fits).
RAW_KEEP: Final = MAX_FRAME + 2

FLAG: Final = 0x7E
ESCAPE: Final = 0x7D
_FLAG_BYTE: Final = b"\x7e"
_ESCAPE_BYTE: Final = b"\x7d"

_BEIJING: Final = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
_UTC: Final = dt.UTC
_LOCATION_BASE: Final = struct.Struct(">IIIIHHH6s")
_LOCATION_BASE_LEN: Final = 28
# Register layouts (8.8): maker, model, terminal-id widths; fixed part = 2 + 2 + widths + 1 colour byte.
_REGISTER_WIDTHS: Final = {2011: (5, 8, 7), 2013: (5, 20, 7), 2019: (11, 30, 30)}

# Message ids.
TERMINAL_REPLY: Final = 0x0001
HEARTBEAT: Final = 0x0002
LOGOUT: Final = 0x0003
QUERY_TIME: Final = 0x0004
PLATFORM_REPLY: Final = 0x8001
SERVER_TIME: Final = 0x8004
REGISTER: Final = 0x0100
REGISTER_REPLY: Final = 0x8100
AUTHENTICATE: Final = 0x0102
LOCATION: Final = 0x0200
LOCATION_BATCH: Final = 0x0704


# --------------------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Why some bytes are not a usable message. Returned, never raised.

    ``code`` is short and stable for metrics: ``no_frame`` (nothing between the flags, or bytes outside a
    frame), ``bad_frame`` (a 0x7E inside the frame), ``too_long``, ``bad_escape``, ``truncated``,
    ``bad_check``, ``bad_length`` (the declared body length disagrees with the bytes), ``bad_bcd`` (a phone
    number that is not decimal BCD), ``bad_body``, ``bad_input``, ``internal``. ``message`` is bilingual
    "中文 / English"; ``raw`` holds the offending bytes (at most :data:`RAW_KEEP`). ``header`` is the parsed
    header when there was one (``bad_check``, ``bad_length``, ``bad_body``), so the platform can answer
    0x8001 result 2 echoing the serial number and message id.
    """

    code: str
    message: str
    raw: bytes = b""
    header: Header | None = None


def _error(code: str, zh: str, en: str, raw: bytes = b"", header: Header | None = None) -> DecodeError:
    return DecodeError(code=code, message=f"{zh} / {en}", raw=bytes(raw[:RAW_KEEP]), header=header)


# --------------------------------------------------------------------------------------------------------
# Header


@dataclass(frozen=True, slots=True)
class Header:
    """The message header (4.4.3). ``phone`` is the BCD digits as sent (12 in 2013, 20 in 2019), kept for
    replies; :attr:`identity` strips the leading zeros. ``protocol_version`` is None for the 2011/2013
    layout (also when bit 14 is set but the 2013 layout was used, see :attr:`version_flag`)."""

    msg_id: int
    body_attr: int
    phone: str
    serial: int
    protocol_version: int | None = None
    packet_total: int | None = None
    packet_seq: int | None = None

    @property
    def body_len(self) -> int:
        return self.body_attr & 0x03FF

    @property
    def encryption(self) -> int:
        """Bits 10–12: 0 none, 1 (bit 10) RSA."""
        return (self.body_attr >> 10) & 0x07

    @property
    def subpackage(self) -> bool:
        return bool(self.body_attr & 0x2000)

    @property
    def version_flag(self) -> bool:
        """Body-attribute bit 14 as sent (2019 sets it; some 2013 devices do too)."""
        return bool(self.body_attr & 0x4000)

    @property
    def is_2019(self) -> bool:
        """Whether the 2019 header layout was used (protocol version byte, BCD[10] phone)."""
        return self.protocol_version is not None

    @property
    def size(self) -> int:
        """Header length in bytes: 12/16 (2013) or 17/21 (2019)."""
        return (17 if self.is_2019 else 12) + (4 if self.subpackage else 0)

    @property
    def identity(self) -> str:
        """The phone number normalised for identity (2.6): leading zeros stripped."""
        return normalise_phone(self.phone)


def normalise_phone(phone: str) -> str:
    """``013800138000`` and ``00000000013800138000`` are the same terminal: ``13800138000``."""
    return phone.lstrip("0") or "0"


# --------------------------------------------------------------------------------------------------------
# Bodies


@dataclass(frozen=True, slots=True)
class TerminalReply:
    """0x0001 terminal general reply (8.1). ``result``: 0 ok, 1 fail, 2 bad message, 3 unsupported."""

    reply_serial: int
    reply_id: int
    result: int


@dataclass(frozen=True, slots=True)
class PlatformReply:
    """0x8001 platform general reply (8.2). ``result``: 0–3 as 0x0001, 4 alarm handling confirmed."""

    reply_serial: int
    reply_id: int
    result: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """0x0002 heartbeat (8.3): empty body."""


@dataclass(frozen=True, slots=True)
class Logout:
    """0x0003 terminal logout (8.10): empty body."""


@dataclass(frozen=True, slots=True)
class QueryTime:
    """0x0004 query server time (2019, 8.4): empty body, answered by 0x8004."""


@dataclass(frozen=True, slots=True)
class ServerTime:
    """0x8004 server time reply (2019, 8.5): BCD[6] in UTC. ``time`` is None when the BCD is invalid."""

    time: dt.datetime | None
    time_raw: str


@dataclass(frozen=True, slots=True)
class Register:
    """0x0100 terminal register (8.8). ``layout`` is 2011, 2013 or 2019 (the field widths used). Strings
    are GBK with NULs stripped on both sides. ``plate`` is the VIN when ``plate_color`` is 0."""

    province: int
    city: int
    maker: str
    model: str
    terminal_id: str
    plate_color: int
    plate: str
    layout: int


@dataclass(frozen=True, slots=True)
class RegisterReply:
    """0x8100 register reply (8.9). ``auth_code`` only when ``result`` is 0."""

    reply_serial: int
    result: int
    auth_code: str | None


@dataclass(frozen=True, slots=True)
class Authenticate:
    """0x0102 terminal authentication (8.11). 2013: the code only; 2019: code, IMEI and software version."""

    auth_code: str
    imei: str | None = None
    software_version: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """One location attachment TLV (id BYTE, length BYTE, value), value as sent."""

    id: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Location:
    """0x0200 location report or one item of a 0x0704 batch.

    ``latitude``/``longitude`` are signed degrees (south and west negative, from status bits 2 and 3);
    ``lat_raw``/``lng_raw`` the unsigned DWORDs (degrees × 10⁶). ``time`` is aware UTC (the device sends
    GMT+8) or None when the BCD is not a valid date; ``time_raw`` keeps the 12 digits as sent (hex of the
    bytes when they are not BCD). Known attachments are decoded into the typed fields (the first occurrence
    with the standard length wins); every TLV, known or not, stays in ``attachments``; bytes too short to
    be a TLV at the end are kept in ``trailing``.
    """

    alarm: int
    status: int
    lat_raw: int
    lng_raw: int
    latitude: float
    longitude: float
    altitude: int
    speed_raw: int
    direction: int
    time: dt.datetime | None
    time_raw: str
    attachments: tuple[Attachment, ...] = ()
    trailing: bytes = b""
    mileage_km: float | None = None
    fuel_l: float | None = None
    recorder_speed_kmh: float | None = None
    alarm_event_id: int | None = None
    cabin_temp_c: int | None = None
    ext_signals: int | None = None
    io_status: int | None = None
    ad0: int | None = None
    ad1: int | None = None
    signal_strength: int | None = None
    satellites: int | None = None

    @property
    def speed_kmh(self) -> float:
        return self.speed_raw / 10

    @property
    def acc_on(self) -> bool:
        return bool(self.status & 0x01)

    @property
    def positioned(self) -> bool:
        return bool(self.status & 0x02)

    @property
    def south_lat(self) -> bool:
        return bool(self.status & 0x04)

    @property
    def west_lng(self) -> bool:
        return bool(self.status & 0x08)

    @property
    def out_of_service(self) -> bool:
        return bool(self.status & 0x10)

    @property
    def encrypted_latlng(self) -> bool:
        return bool(self.status & 0x20)

    @property
    def load_state(self) -> int:
        """Status bits 8–9: 0 empty, 1 half, 3 full."""
        return (self.status >> 8) & 0x03

    @property
    def door1_open(self) -> bool:
        return bool(self.status & (1 << 13))

    @property
    def gps(self) -> bool:
        return bool(self.status & (1 << 18))

    @property
    def beidou(self) -> bool:
        return bool(self.status & (1 << 19))

    @property
    def moving(self) -> bool:
        """Status bit 22 (2019 only)."""
        return bool(self.status & (1 << 22))

    def attachment(self, attachment_id: int) -> bytes | None:
        """The value of the first attachment with this id, or None."""
        for item in self.attachments:
            if item.id == attachment_id:
                return item.value
        return None


@dataclass(frozen=True, slots=True)
class LocationBatch:
    """0x0704 batch location upload. ``kind`` 0 normal, 1 blind-area back-fill (盲区补报).
    ``items`` are the records that decoded; ``errors`` one entry per record that did not;
    ``declared_count`` is the count field as sent."""

    declared_count: int
    kind: int
    items: tuple[Location, ...]
    errors: tuple[DecodeError, ...] = ()


@dataclass(frozen=True, slots=True)
class Unknown:
    """A body kept raw: an unknown message id, an encrypted body, or one sub-package of a split message."""

    body: bytes


Body = (
    TerminalReply
    | PlatformReply
    | Heartbeat
    | Logout
    | QueryTime
    | ServerTime
    | Register
    | RegisterReply
    | Authenticate
    | Location
    | LocationBatch
    | Unknown
)


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded message. ``raw`` is the frame as given to :func:`decode`; ``check_ok`` is False only
    when ``skip_check=True`` let a wrong check code through."""

    header: Header
    body: Body
    raw: bytes
    check_ok: bool = True


# --------------------------------------------------------------------------------------------------------
# Framing (4.4)


def check_code(data: bytes) -> int:
    """XOR of every byte (4.4): ``00 02 00 00 01 23 45 67 89 00 00 0A`` gives 0x81."""
    return reduce(xor, data, 0)


def escape(data: bytes) -> bytes:
    """Escape frame content: 0x7D → 7D 01 first, then 0x7E → 7D 02 (4.4)."""
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes, *, lenient: bool = False) -> bytes | DecodeError:
    """Undo :func:`escape` on frame content (without the flags). A 0x7D not followed by 01 or 02 is
    ``bad_escape``; with ``lenient`` a single 0x7D at the very end (an unescaped 0x7D check code, 2.6) is
    taken literally."""
    if ESCAPE not in data:
        return data
    parts = data.split(_ESCAPE_BYTE)
    out = [parts[0]]
    last = len(parts) - 1
    for index in range(1, len(parts)):
        part = parts[index]
        if not part:
            if index == last and lenient:
                out.append(_ESCAPE_BYTE)
                continue
            return _error("bad_escape", "0x7D 后不是 01 或 02", "0x7D not followed by 01 or 02", data)
        code = part[0]
        if code == 0x01:
            out.append(_ESCAPE_BYTE)
        elif code == 0x02:
            out.append(_FLAG_BYTE)
        else:
            return _error("bad_escape", "0x7D 后不是 01 或 02", "0x7D not followed by 01 or 02", data)
        out.append(part[1:])
    return b"".join(out)


def _frame(payload: bytes) -> bytes:
    """Check code, escape and flags around an unescaped header + body."""
    return _FLAG_BYTE + escape(payload + bytes((check_code(payload),))) + _FLAG_BYTE


# --------------------------------------------------------------------------------------------------------
# Decoding


def decode(frame: bytes, *, skip_check: bool = False, lenient: bool = False) -> Message | DecodeError:
    """Decode one frame, with or without its 0x7E flags (a single leading and a single trailing 0x7E are
    removed when present). Never raises.

    ``skip_check`` decodes a message whose check code is wrong (``Message.check_ok`` is then False);
    ``lenient`` accepts an unescaped 0x7D check code just before the closing flag (2.6).
    """
    try:
        if not isinstance(frame, bytes):
            if isinstance(frame, bytearray | memoryview):
                frame = bytes(frame)
            else:
                return _error("bad_input", "输入不是字节串", "input is not bytes")
        return _decode(frame, skip_check, lenient)
    except Exception as exc:  # pragma: no cover - a safety net; the tests assert it is never reached
        return _error(
            "internal", f"内部错误 {type(exc).__name__}", f"internal error {type(exc).__name__}", frame
        )


def _decode(frame: bytes, skip_check: bool, lenient: bool) -> Message | DecodeError:
    content = frame
    if content[:1] == _FLAG_BYTE:
        content = content[1:]
    if content[-1:] == _FLAG_BYTE:
        content = content[:-1]
    if not content:
        return _error("no_frame", "空帧", "empty frame", frame)
    if FLAG in content:
        return _error("bad_frame", "帧内出现 0x7E", "0x7E inside the frame", frame)
    if len(content) > MAX_FRAME:
        return _error("too_long", f"帧超过 {MAX_FRAME} 字节", f"frame exceeds {MAX_FRAME} bytes", frame)
    data = unescape(content, lenient=lenient)
    if isinstance(data, DecodeError):
        return DecodeError(data.code, data.message, frame[:RAW_KEEP])
    if len(data) < 13:
        return _error(
            "truncated", "帧太短，不足消息头加校验码", "frame shorter than a header and check", frame
        )
    payload = data[:-1]
    check_ok = check_code(payload) == data[-1]
    header = _parse_header(payload, frame)
    if not check_ok and not skip_check:  # verify before parse; the header, if any, helps the reply
        return _error(
            "bad_check",
            f"校验码错误：收到 {data[-1]:#04x}，计算 {check_code(payload):#04x}",
            f"check code mismatch: received {data[-1]:#04x}, computed {check_code(payload):#04x}",
            frame,
            header if isinstance(header, Header) else header.header,
        )
    if isinstance(header, DecodeError):
        return header
    body_bytes = payload[header.size :]
    body = _parse_body(header, body_bytes, frame)
    if isinstance(body, DecodeError):
        return body
    return Message(header=header, body=body, raw=frame, check_ok=check_ok)


def _bcd_phone(data: bytes) -> str | None:
    digits = data.hex()
    return digits if digits.isdigit() else None


def _parse_header(payload: bytes, frame: bytes) -> Header | DecodeError:
    msg_id, attr = struct.unpack_from(">HH", payload)
    body_len = attr & 0x03FF
    extra = 4 if attr & 0x2000 else 0
    size = len(payload)
    layout_2019 = bool(attr & 0x4000)
    # The bit-14 quirk (2.2): the flag is set but the header is 2013's. Use the 2013 layout when it gives
    # the right body length, or (to describe the error) when only its phone number is BCD.
    if (
        layout_2019
        and size != 17 + extra + body_len
        and (
            size == 12 + extra + body_len
            or (_bcd_phone(payload[5:15]) is None and _bcd_phone(payload[4:10]) is not None)
        )
    ):
        layout_2019 = False
    header_len = (17 if layout_2019 else 12) + extra
    if size < header_len:
        return _error("truncated", "消息头不完整", "header is truncated", frame)
    if layout_2019:
        protocol_version: int | None = payload[4]
        phone = _bcd_phone(payload[5:15])
        serial_at = 15
    else:
        protocol_version = None
        phone = _bcd_phone(payload[4:10])
        serial_at = 10
    if phone is None:
        if size != header_len + body_len:
            return _length_error(body_len, size - header_len, frame, None)
        return _error("bad_bcd", "终端手机号不是 BCD", "terminal phone number is not BCD", frame)
    (serial,) = struct.unpack_from(">H", payload, serial_at)
    total: int | None = None
    seq: int | None = None
    if extra:
        total, seq = struct.unpack_from(">HH", payload, serial_at + 2)
    header = Header(
        msg_id=msg_id,
        body_attr=attr,
        phone=phone,
        serial=serial,
        protocol_version=protocol_version,
        packet_total=total,
        packet_seq=seq,
    )
    if size != header_len + body_len:
        return _length_error(body_len, size - header_len, frame, header)
    return header


def _length_error(declared: int, actual: int, frame: bytes, header: Header | None) -> DecodeError:
    return _error(
        "bad_length",
        f"消息体长度不符：声明 {declared}，实际 {actual}",
        f"body length mismatch: declared {declared}, got {actual}",
        frame,
        header,
    )


def _bad_body(header: Header, frame: bytes, zh: str, en: str) -> DecodeError:
    return _error(
        "bad_body",
        f"消息 {header.msg_id:#06x} 的消息体错误：{zh}",
        f"bad {header.msg_id:#06x} body: {en}",
        frame,
        header,
    )


def _parse_body(header: Header, body: bytes, frame: bytes) -> Body | DecodeError:
    if header.encryption or header.subpackage:
        return Unknown(body)
    msg_id = header.msg_id
    if msg_id == LOCATION:
        location = _parse_location(body)
        if location is None:
            return _bad_body(header, frame, "不足 28 字节", "shorter than 28 bytes")
        return location
    if msg_id in (TERMINAL_REPLY, PLATFORM_REPLY):
        if len(body) < 5:
            return _bad_body(header, frame, "不足 5 字节", "shorter than 5 bytes")
        reply_serial, reply_id, result = struct.unpack_from(">HHB", body)
        if msg_id == TERMINAL_REPLY:
            return TerminalReply(reply_serial, reply_id, result)
        return PlatformReply(reply_serial, reply_id, result)
    if msg_id == HEARTBEAT:
        return Heartbeat()
    if msg_id == LOGOUT:
        return Logout()
    if msg_id == QUERY_TIME:
        return QueryTime()
    if msg_id == AUTHENTICATE:
        return _parse_authenticate(header, body)
    if msg_id == REGISTER:
        register = _parse_register(header, body)
        if register is None:
            return _bad_body(header, frame, "长度不符合任何版本的布局", "length fits no edition's layout")
        return register
    if msg_id == REGISTER_REPLY:
        if len(body) < 3:
            return _bad_body(header, frame, "不足 3 字节", "shorter than 3 bytes")
        reply_serial, result = struct.unpack_from(">HB", body)
        auth_code = _text(body[3:]) if result == 0 else None
        return RegisterReply(reply_serial, result, auth_code)
    if msg_id == SERVER_TIME:
        if len(body) < 6:
            return _bad_body(header, frame, "不足 6 字节", "shorter than 6 bytes")
        time_raw, time = _bcd_time(body[:6], _UTC)
        return ServerTime(time=time, time_raw=time_raw)
    if msg_id == LOCATION_BATCH:
        return _parse_batch(header, body, frame)
    return Unknown(body)


def _text(data: bytes) -> str:
    """A GBK string with NUL padding stripped on both sides (2.6); undecodable bytes replaced."""
    return data.strip(b"\x00").decode("gbk", errors="replace")


def _parse_authenticate(header: Header, body: bytes) -> Authenticate:
    # 2019 (8.11): code length BYTE, code STRING[n], IMEI BYTE[15] at 1+n, software version BYTE[20] at
    # 16+n (the table's "n+1 / n+9" are wrong). Used for a 2019 header; for a 2013 header only when the
    # first byte cannot start a printable code, or the length is exact and the IMEI slot holds digits.
    if body:
        n = body[0]
        if 16 + n <= len(body) <= 36 + n and (
            header.is_2019
            or n < 0x20
            or (len(body) == 36 + n and body[1 + n : 16 + n].strip(b"\x00").isdigit())
        ):
            return Authenticate(
                auth_code=_text(body[1 : 1 + n]),
                imei=_text(body[1 + n : 16 + n]),
                software_version=_text(body[16 + n : 36 + n]),
            )
    return Authenticate(auth_code=_text(body))


def _register_fits(body: bytes, layout: int) -> bool | None:
    """None when the body is too short for the layout, else whether its plate-colour byte is plausible
    (colour codes are small numbers; a printable byte there means the layout is wrong)."""
    maker, model, terminal = _REGISTER_WIDTHS[layout]
    colour_at = 4 + maker + model + terminal
    if len(body) <= colour_at:
        return None
    return body[colour_at] < 0x20


def _parse_register(header: Header, body: bytes) -> Register | None:
    order = (2019, 2013, 2011) if header.is_2019 else (2013, 2011, 2019)
    fitting = [layout for layout in order if _register_fits(body, layout) is not None]
    if not fitting:
        return None
    layout = next((item for item in fitting if _register_fits(body, item)), fitting[0])
    maker_len, model_len, terminal_len = _REGISTER_WIDTHS[layout]
    province, city = struct.unpack_from(">HH", body)
    at = 4
    maker = _text(body[at : at + maker_len])
    at += maker_len
    model = _text(body[at : at + model_len])
    at += model_len
    terminal_id = _text(body[at : at + terminal_len])
    at += terminal_len
    return Register(
        province=province,
        city=city,
        maker=maker,
        model=model,
        terminal_id=terminal_id,
        plate_color=body[at],
        plate=_text(body[at + 1 :]),
        layout=layout,
    )


def _bcd_time(data: bytes, zone: dt.tzinfo) -> tuple[str, dt.datetime | None]:
    """``YYMMDDhhmmss`` BCD → (digits as sent, aware UTC datetime or None when not a valid date)."""
    raw = data.hex()
    if not raw.isdigit():
        return raw.upper(), None
    try:
        local = dt.datetime(
            2000 + int(raw[0:2]),
            int(raw[2:4]),
            int(raw[4:6]),
            int(raw[6:8]),
            int(raw[8:10]),
            int(raw[10:12]),
            tzinfo=zone,
        )
    except ValueError:
        return raw, None
    return raw, local.astimezone(_UTC)


def _number(known: dict[int, bytes], attachment_id: int) -> int | None:
    value = known.get(attachment_id)
    return None if value is None else int.from_bytes(value, "big")


def _tenths_of(known: dict[int, bytes], attachment_id: int) -> float | None:
    value = known.get(attachment_id)
    return None if value is None else int.from_bytes(value, "big") / 10


def _parse_location(body: bytes) -> Location | None:
    if len(body) < _LOCATION_BASE_LEN:
        return None
    alarm, status, lat_raw, lng_raw, altitude, speed_raw, direction, time_bcd = _LOCATION_BASE.unpack_from(
        body
    )
    time_raw, time = _bcd_time(time_bcd, _BEIJING)
    latitude = lat_raw / 1_000_000
    longitude = lng_raw / 1_000_000
    if status & 0x04:
        latitude = -latitude
    if status & 0x08:
        longitude = -longitude
    attachments: list[Attachment] = []
    known: dict[int, bytes] = {}
    at = _LOCATION_BASE_LEN
    size = len(body)
    while at + 2 <= size:
        attachment_id = body[at]
        end = at + 2 + body[at + 1]
        if end > size:
            break
        value = body[at + 2 : end]
        attachments.append(Attachment(attachment_id, value))
        if attachment_id not in known and len(value) == _ATTACHMENT_LENGTHS.get(attachment_id, -1):
            known[attachment_id] = value
        at = end

    temperature = _number(known, 0x06)
    analog = _number(known, 0x2B)
    return Location(
        alarm=alarm,
        status=status,
        lat_raw=lat_raw,
        lng_raw=lng_raw,
        latitude=latitude,
        longitude=longitude,
        altitude=altitude,
        speed_raw=speed_raw,
        direction=direction,
        time=time,
        time_raw=time_raw,
        attachments=tuple(attachments),
        trailing=body[at:],
        mileage_km=_tenths_of(known, 0x01),
        fuel_l=_tenths_of(known, 0x02),
        recorder_speed_kmh=_tenths_of(known, 0x03),
        alarm_event_id=_number(known, 0x04),
        # Sign-magnitude: the top bit means negative (2019 attachment 0x06).
        cabin_temp_c=None
        if temperature is None
        else (-(temperature & 0x7FFF) if temperature & 0x8000 else temperature),
        ext_signals=_number(known, 0x25),
        io_status=_number(known, 0x2A),
        ad0=None if analog is None else analog & 0xFFFF,
        ad1=None if analog is None else analog >> 16,
        signal_strength=_number(known, 0x30),
        satellites=_number(known, 0x31),
    )


# The attachments decoded into typed fields, with their standard lengths (protocols.md 2.4).
_ATTACHMENT_LENGTHS: Final = {
    0x01: 4,
    0x02: 2,
    0x03: 2,
    0x04: 2,
    0x06: 2,
    0x25: 4,
    0x2A: 2,
    0x2B: 4,
    0x30: 1,
    0x31: 1,
}


def _parse_batch(header: Header, body: bytes, frame: bytes) -> LocationBatch | DecodeError:
    if len(body) < 3:
        return _bad_body(header, frame, "不足 3 字节", "shorter than 3 bytes")
    count, kind = struct.unpack_from(">HB", body)
    items: list[Location] = []
    errors: list[DecodeError] = []
    at = 3
    size = len(body)
    while at + 2 <= size:
        (item_len,) = struct.unpack_from(">H", body, at)
        item = body[at + 2 : at + 2 + item_len]
        if len(item) < item_len:
            errors.append(
                _error("truncated", "批量位置数据项不完整", "batch item is truncated", item, header)
            )
            at = size
            break
        location = _parse_location(item)
        if location is None:
            errors.append(
                _error(
                    "bad_body", "批量位置数据项不足 28 字节", "batch item shorter than 28 bytes", item, header
                )
            )
        else:
            items.append(location)
        at += 2 + item_len
    if at < size:
        errors.append(
            _error(
                "truncated",
                "批量位置数据末尾多余字节",
                "stray bytes after the batch items",
                body[at:],
                header,
            )
        )
    return LocationBatch(declared_count=count, kind=kind, items=tuple(items), errors=tuple(errors))


# --------------------------------------------------------------------------------------------------------
# Alarm bits (protocols.md 2.4)

_ALARMS_COMMON: Final = {
    0: "emergency",
    1: "overspeed",
    2: "fatigue",
    4: "gnss_fault",
    5: "gnss_antenna_open",
    6: "gnss_antenna_short",
    7: "power_undervoltage",
    8: "power_down",
    9: "lcd_fault",
    10: "tts_fault",
    11: "camera_fault",
    12: "ic_card_fault",
    13: "overspeed_warning",
    14: "fatigue_warning",
    18: "day_driving_timeout",
    19: "parking_timeout",
    20: "area_in_out",
    21: "route_in_out",
    22: "road_section_time",
    23: "route_deviation",
    24: "vss_fault",
    25: "fuel_abnormal",
    26: "theft",
    27: "illegal_ignition",
    28: "illegal_displacement",
}
_ALARMS_2013: Final = {
    **_ALARMS_COMMON,
    3: "danger_warning",
    29: "collision_warning",
    30: "rollover_warning",
    31: "illegal_door_open",
}
_ALARMS_2019: Final = {
    **_ALARMS_COMMON,
    3: "dangerous_driving",
    15: "illegal_driving",
    16: "tyre_pressure_warning",
    17: "right_turn_blind_zone",
    29: "collision_rollover",
    30: "rollover_warning",
}


def alarm_names(alarm: int, *, edition: int = 2013) -> tuple[str, ...]:
    """The names of the alarm bits set, in bit order; reserved bits are named ``bit<n>``."""
    table = _ALARMS_2019 if edition >= 2019 else _ALARMS_2013
    return tuple(table.get(bit, f"bit{bit}") for bit in range(32) if alarm >> bit & 1)


# --------------------------------------------------------------------------------------------------------
# Stream framing


class Deframer:
    """Split a TCP byte stream into frames for :func:`decode` (2.6).

    ``feed`` returns each complete frame in wire form (``7E … 7E``) and a :class:`DecodeError` for each
    run of bytes it skipped. Every 0x7E separates frames, so frames may share a flag (``…7E…``) or not
    (``…7E7E…``), and empty frames are ignored. A read may hold several frames or part of one. Bytes
    before the first flag are reported as ``no_frame``; a frame that grows beyond ``max_frame`` bytes
    without a closing flag is reported as ``too_long`` and dropped up to the next 0x7E, where the stream
    resynchronises. The buffer never holds more than ``max_frame`` bytes. Call :meth:`flush` when the
    connection closes.
    """

    __slots__ = ("_buffer", "_skipping", "_synced", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if max_frame < 13:
            raise ValueError("max_frame must be at least 13")
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._synced = False  # a flag has been seen: the buffer is frame content, not garbage
        self._skipping = False  # dropping the rest of an over-long frame up to the next flag

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
            flag = data.find(_FLAG_BYTE, position)
            end = total if flag < 0 else flag
            if end > position:
                self._take(view[position:end], out)
            if flag < 0:
                break
            self._close(out)
            position = flag + 1
        return out

    def flush(self) -> list[bytes | DecodeError]:
        """The connection closed: report what is left as ``truncated`` (or ``no_frame`` before any flag)."""
        out: list[bytes | DecodeError] = []
        buffer = self._buffer
        if buffer:
            if self._synced:
                out.append(
                    _error("truncated", "连接关闭时帧不完整", "connection closed mid-frame", bytes(buffer))
                )
            else:
                out.append(_error("no_frame", "跳过帧外数据", "skipped bytes outside a frame", bytes(buffer)))
        buffer.clear()
        self._synced = False
        self._skipping = False
        return out

    def _take(self, chunk: memoryview, out: list[bytes | DecodeError]) -> None:
        """Buffer bytes that contain no flag, never beyond ``max_frame``."""
        if self._skipping:
            return
        buffer = self._buffer
        room = self.max_frame - len(buffer)
        if len(chunk) <= room:
            buffer += chunk
        elif self._synced:
            out.append(
                _error(
                    "too_long",
                    f"帧超过 {self.max_frame} 字节仍未结束，已丢弃",
                    f"frame did not end within {self.max_frame} bytes; dropped",
                    bytes(buffer) + bytes(chunk[:room]),
                )
            )
            buffer.clear()
            self._synced = False
            self._skipping = True
        else:
            buffer += chunk[:room]  # garbage: keep the first max_frame bytes for the report

    def _close(self, out: list[bytes | DecodeError]) -> None:
        """A flag arrived: the buffer is a frame (when synced) or garbage; the flag opens the next frame."""
        buffer = self._buffer
        if buffer:
            if self._synced:
                out.append(_FLAG_BYTE + bytes(buffer) + _FLAG_BYTE)
            else:
                out.append(_error("no_frame", "跳过帧外数据", "skipped bytes outside a frame", bytes(buffer)))
            buffer.clear()
        self._synced = True
        self._skipping = False


# --------------------------------------------------------------------------------------------------------
# Encoding


def _word(value: int, name: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{name} must fit in a WORD: {value}")
    return value.to_bytes(2, "big")


def _byte(value: int, name: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must fit in a BYTE: {value}")
    return bytes((value,))


def _dword(value: int, name: str) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{name} must fit in a DWORD: {value}")
    return value.to_bytes(4, "big")


def encode(
    message_id: int,
    body: bytes,
    *,
    phone: str,
    serial: int,
    version: int | None = None,
    encryption: int = 0,
    packet: tuple[int, int] | None = None,
) -> bytes:
    """A complete escaped frame (``7E … 7E``). ``version`` None writes the 2013 header (BCD[6] phone); an
    int writes the 2019 header (bit 14, that protocol version byte, BCD[10] phone). ``phone`` is decimal
    digits, left-padded with zeros. ``packet`` is (total, sequence) for a sub-package. Raises ValueError
    for arguments that cannot be encoded."""
    if len(body) > MAX_BODY_LEN:
        raise ValueError(f"body longer than {MAX_BODY_LEN} bytes; split it into sub-packages")
    if not 0 <= encryption <= 7:
        raise ValueError("encryption must be 0..7")
    width = 12 if version is None else 20
    if not phone.isascii() or not phone.isdigit() or len(phone) > width:
        raise ValueError(f"phone must be at most {width} decimal digits: {phone!r}")
    attr = len(body) | encryption << 10
    if packet is not None:
        attr |= 0x2000
    if version is not None:
        attr |= 0x4000
    parts = [_word(message_id, "message_id"), _word(attr, "body attributes")]
    if version is not None:
        parts.append(_byte(version, "version"))
    parts.append(bytes.fromhex(phone.rjust(width, "0")))
    parts.append(_word(serial, "serial"))
    if packet is not None:
        parts.append(_word(packet[0], "packet total"))
        parts.append(_word(packet[1], "packet sequence"))
    parts.append(body)
    return _frame(b"".join(parts))


def _reply_target(msg: Message | Header) -> Header:
    return msg.header if isinstance(msg, Message) else msg


def platform_reply(msg: Message | Header, result: int = 0, *, serial: int) -> bytes:
    """0x8001 answering ``msg`` (8.2): echoes its serial number and message id, in the terminal's header
    layout and phone digits. ``serial`` is the platform's own counter for this terminal. ``msg`` may be
    the ``header`` of a DecodeError (answer result 2 to a bad check or length)."""
    header = _reply_target(msg)
    body = _word(header.serial, "reply serial") + _word(header.msg_id, "reply id") + _byte(result, "result")
    return encode(PLATFORM_REPLY, body, phone=header.phone, serial=serial, version=header.protocol_version)


def register_reply(msg: Message | Header, result: int, auth_code: str | None = None, *, serial: int) -> bytes:
    """0x8100 answering a register (8.9): reply serial, result, and the GBK auth code only when result is
    0 (where it is required)."""
    header = _reply_target(msg)
    body = _word(header.serial, "reply serial") + _byte(result, "result")
    if result == 0:
        if not auth_code:
            raise ValueError("a successful register reply needs an auth code")
        body += auth_code.encode("gbk")
    return encode(REGISTER_REPLY, body, phone=header.phone, serial=serial, version=header.protocol_version)


def _bcd_time_bytes(value: dt.datetime, zone: dt.tzinfo) -> bytes:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must be timezone-aware")
    local = value.astimezone(zone)
    if not 2000 <= local.year <= 2099:
        raise ValueError("time must fall in 2000..2099")
    return bytes.fromhex(local.strftime("%y%m%d%H%M%S"))


def server_time_reply(msg: Message | Header, now: dt.datetime, *, serial: int) -> bytes:
    """0x8004 answering 0x0004 (2019, 8.5): BCD[6] time in UTC."""
    header = _reply_target(msg)
    body = _bcd_time_bytes(now, _UTC)
    return encode(SERVER_TIME, body, phone=header.phone, serial=serial, version=header.protocol_version)


def _tenths(value: float, name: str, size: int) -> bytes:
    number = round(value * 10)
    if not 0 <= number < 1 << (8 * size):
        raise ValueError(f"{name} out of range: {value}")
    return number.to_bytes(size, "big")


def encode_location_body(
    *,
    latitude: float,
    longitude: float,
    time: dt.datetime,
    alarm: int = 0,
    status: int = 0x02,
    altitude: int = 0,
    speed_kmh: float = 0.0,
    direction: int = 0,
    mileage_km: float | None = None,
    fuel_l: float | None = None,
    recorder_speed_kmh: float | None = None,
    cabin_temp_c: int | None = None,
    signal_strength: int | None = None,
    satellites: int | None = None,
    attachments: Iterable[tuple[int, bytes]] = (),
) -> bytes:
    """A 0x0200 body: the 28-byte base and attachment TLVs (typed ones first, then ``attachments``
    as given). Negative latitude/longitude set status bits 2/3 (any value sent is replaced); ``time`` must
    be aware and is written in GMT+8. The default status is "positioned"."""
    status &= ~0x0C
    if latitude < 0:
        status |= 0x04
    if longitude < 0:
        status |= 0x08
    parts = [
        _dword(alarm, "alarm"),
        _dword(status, "status"),
        _dword(round(abs(latitude) * 1_000_000), "latitude"),
        _dword(round(abs(longitude) * 1_000_000), "longitude"),
        _word(altitude, "altitude"),
        _tenths(speed_kmh, "speed", 2),
        _word(direction, "direction"),
        _bcd_time_bytes(time, _BEIJING),
    ]
    tlvs: list[tuple[int, bytes]] = []
    if mileage_km is not None:
        tlvs.append((0x01, _tenths(mileage_km, "mileage", 4)))
    if fuel_l is not None:
        tlvs.append((0x02, _tenths(fuel_l, "fuel", 2)))
    if recorder_speed_kmh is not None:
        tlvs.append((0x03, _tenths(recorder_speed_kmh, "recorder speed", 2)))
    if cabin_temp_c is not None:
        if not -0x7FFF <= cabin_temp_c <= 0x7FFF:
            raise ValueError(f"cabin temperature out of range: {cabin_temp_c}")
        magnitude = abs(cabin_temp_c) | (0x8000 if cabin_temp_c < 0 else 0)
        tlvs.append((0x06, magnitude.to_bytes(2, "big")))
    if signal_strength is not None:
        tlvs.append((0x30, _byte(signal_strength, "signal strength")))
    if satellites is not None:
        tlvs.append((0x31, _byte(satellites, "satellites")))
    tlvs.extend(attachments)
    for attachment_id, value in tlvs:
        parts.append(_byte(attachment_id, "attachment id") + _byte(len(value), "attachment length") + value)
    body = b"".join(parts)
    if len(body) > MAX_BODY_LEN:
        raise ValueError(f"location body longer than {MAX_BODY_LEN} bytes")
    return body


def _fixed(value: str, width: int, name: str) -> bytes:
    data = value.encode("gbk")
    if len(data) > width:
        raise ValueError(f"{name} longer than {width} bytes")
    return data.ljust(width, b"\x00")


def encode_register_body(
    *,
    province: int,
    city: int,
    maker: str,
    model: str,
    terminal_id: str,
    plate_color: int,
    plate: str,
    layout: int = 2013,
) -> bytes:
    """A 0x0100 body (8.8) in the 2011, 2013 or 2019 layout; fixed-width fields NUL-padded at the end."""
    if layout not in _REGISTER_WIDTHS:
        raise ValueError("layout must be 2011, 2013 or 2019")
    maker_len, model_len, terminal_len = _REGISTER_WIDTHS[layout]
    return (
        _word(province, "province")
        + _word(city, "city")
        + _fixed(maker, maker_len, "maker")
        + _fixed(model, model_len, "model")
        + _fixed(terminal_id, terminal_len, "terminal id")
        + _byte(plate_color, "plate colour")
        + plate.encode("gbk")
    )


def encode_authenticate_body(
    auth_code: str, *, imei: str | None = None, software_version: str | None = None
) -> bytes:
    """A 0x0102 body (8.11): the bare code (2013) or, when ``imei`` is given, the 2019 form."""
    code = auth_code.encode("gbk")
    if imei is None:
        return code
    return (
        _byte(len(code), "auth code length")
        + code
        + _fixed(imei, 15, "IMEI")
        + _fixed(software_version or "", 20, "software version")
    )


def encode_location_batch_body(items: Iterable[bytes], *, kind: int = 0) -> bytes:
    """A 0x0704 body: count WORD, type BYTE (0 normal, 1 blind-area back-fill 盲区补报), then each item as
    length WORD + a 0x0200 body (as :func:`encode_location_body` builds it)."""
    records = list(items)
    parts = [_word(len(records), "item count"), _byte(kind, "batch type")]
    for record in records:
        parts.append(_word(len(record), "item length") + record)
    body = b"".join(parts)
    if len(body) > MAX_BODY_LEN:
        raise ValueError(f"batch body longer than {MAX_BODY_LEN} bytes; send fewer items per batch")
    return body
