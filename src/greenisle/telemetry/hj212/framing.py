"""HJ 212 framing: the envelope around a data segment, and splitting a TCP stream into frames.

HJ 212-2017 6.3.1/6.3.2 and Table 2: ``##`` + 4-digit data-segment length + data segment + 4 hex CRC +
CRLF. The length and the CRC cover the data segment only, counted in UTF-8 bytes. :func:`encode_frame`
builds a frame; :class:`Deframer` cuts a byte stream into frames for :func:`.codec.decode_frame`, which
checks them.
"""

from __future__ import annotations

import re
from typing import Final

from greenisle.telemetry.hj212.crc import ALL_CRC_MODES, crc16_hj212, matching_crc_mode
from greenisle.telemetry.hj212.errors import DecodeError, decode_error

__all__ = ["MAX_SEGMENT_LEN", "STANDARD_SEGMENT_LEN", "Deframer", "encode_frame"]

#: The standard's limit for the data segment (Table 2); longer segments are accepted with a warning.
STANDARD_SEGMENT_LEN: Final = 1024
#: The most a 4-digit length field can declare.
MAX_SEGMENT_LEN: Final = 9999

HEADER: Final = b"##"
CRLF: Final = b"\r\n"
HEX_DIGITS: Final = b"0123456789abcdefABCDEF"
# C0 control characters and DEL never occur in a data segment (6.3: ASCII text, UTF-8 for Chinese). This
# also keeps NUL out of anything that reaches the database.
CONTROL_BYTES: Final = bytes(range(0x20)) + b"\x7f"
_CONTROL_RE: Final = re.compile(rb"[\x00-\x1f\x7f]")


def is_hex4(data: bytes) -> bool:
    return len(data) == 4 and not data.translate(None, HEX_DIGITS)


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


class Deframer:
    """Split a TCP byte stream into raw frames for :func:`.codec.decode_frame`.

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
            if buffer.startswith(HEADER) and len(buffer) >= 10:
                out.append(bytes(buffer))
            else:
                out.append(
                    decode_error(
                        "truncated", "连接关闭时帧不完整", "connection closed mid-frame", bytes(buffer)
                    )
                )
        buffer.clear()
        return out

    def _skip(self, count: int, out: list[bytes | DecodeError], code: str = "no_header") -> None:
        buffer = self._buffer
        skipped = bytes(buffer[:count])
        del buffer[:count]
        if skipped.strip(b" \t\r\n\x00"):
            if code == "no_header":
                out.append(decode_error(code, "跳过帧外数据", "skipped bytes outside a frame", skipped))
            elif code == "bad_length":
                out.append(
                    decode_error(
                        code, "帧头后不是4位长度，已跳过", "skipped ## without a 4-digit length", skipped
                    )
                )
            else:
                out.append(
                    decode_error(
                        code,
                        f"帧超过 {self.max_frame} 字节仍未结束，已丢弃",
                        f"frame did not end within {self.max_frame} bytes; dropped",
                        skipped,
                    )
                )

    def _drain(self, out: list[bytes | DecodeError]) -> None:
        buffer = self._buffer
        while buffer:
            start = buffer.find(HEADER)
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
                following = buffer.find(HEADER, 1)
                self._skip(
                    following if following > 0 else len(buffer) - (buffer[-1] == 0x23), out, "bad_length"
                )
                continue
            end = self._frame_end(int(length_field))
            if end is None:
                if len(buffer) >= self.max_frame:
                    following = buffer.find(HEADER, 2)
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
            crlf = buffer.find(CRLF, 6)
            return crlf + 2 if crlf >= 0 else None
        if is_hex4(bytes(buffer[end - 4 : end])):
            after = buffer[end : end + 2]
            if after == CRLF:
                return end + 2
            received = int(bytes(buffer[end - 4 : end]), 16)
            if matching_crc_mode(bytes(buffer[6 : end - 4]), received, ALL_CRC_MODES) is not None:
                return end
            if after == HEADER:
                return end
            if not after or bytes(after) in (b"\r", b"#"):
                return None
        # The declared length is wrong: fall back to the next CRLF or the next "##".
        crlf = buffer.find(CRLF, 6)
        header = buffer.find(HEADER, 2)
        candidates = [position for position in (crlf + 2 if crlf >= 0 else -1, header) if position > 0]
        return min(candidates) if candidates else None
