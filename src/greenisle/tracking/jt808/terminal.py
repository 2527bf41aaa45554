"""The terminal side of JT/T 808 over TCP (asyncio): what a truck's on-board terminal does, for the truck
simulator. No Django; frames are built and read with :mod:`greenisle.tracking.jt808.codec`.

Section numbers are JT/T 808-2019's (protocols.md section 2 summarises them):

- 6.1: every message is answered; the terminal resends a message whose answer does not come within the
  timeout, with the same serial number, the timeout growing as T(n+1) = T(n) × (n+1), and gives up after
  the configured number of retries. Its serial numbers are its own counter, from 0, wrapping at 0xFFFF.
- 6.1: right after connecting the terminal authenticates (0x0102, 8.11) with the code it received when it
  registered (0x0100 → 0x8100, 8.8/8.9); it sends nothing else before.
- 8.2: the platform's general reply 0x8001 echoes the serial number and id of the message it answers;
  result 0 ok, 1 failure, 2 bad message, 3 not supported.
- 8.1: a platform message the terminal does not handle is answered with the terminal general reply
  0x0001, result 3 (not supported).
- The 2019 header (protocol version byte 1, BCD[10] phone) or the 2013 one (BCD[6]) is chosen per
  terminal; register and authenticate bodies follow the same edition.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Final

from greenisle.tracking.jt808 import codec
from greenisle.tracking.jt808.codec import DecodeError, Message, PlatformReply, RegisterReply

__all__ = [
    "LinkLost",
    "LinkStats",
    "Refused",
    "TerminalError",
    "TerminalIdentity",
    "TerminalLink",
]

#: The protocol version byte of the 2019 header (JT/T 808-2019 4.4.3: starts at 1).
VERSION_2019: Final = 1


class TerminalError(Exception):
    """The exchange with the platform failed."""


class LinkLost(TerminalError):
    """The connection closed, or an answer did not come after every retry."""


class Refused(TerminalError):
    """The platform answered with a result other than 0."""

    def __init__(self, message: str, result: int) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class TerminalIdentity:
    """What the terminal reports about itself. ``edition`` 2019 or 2013 picks the header and the register
    and authenticate layouts. ``plate_color`` follows JT/T 697.7 (2 = yellow, the plate of trucks)."""

    phone: str
    edition: int
    plate: str
    plate_color: int = 2
    province: int = 0
    city: int = 0
    maker: str = "GRNIS"
    model: str = "GI-T808"
    terminal_id: str = ""
    imei: str = ""
    software_version: str = "1.0"

    @property
    def header_version(self) -> int | None:
        return VERSION_2019 if self.edition == 2019 else None


@dataclass
class LinkStats:
    """Counters of one link (or, added up, of a fleet)."""

    sent: int = 0
    answered: int = 0
    retransmitted: int = 0
    refused: int = 0
    platform_messages: int = 0
    decode_errors: int = 0
    results: dict[int, int] = field(default_factory=dict)

    def add(self, other: LinkStats) -> None:
        self.sent += other.sent
        self.answered += other.answered
        self.retransmitted += other.retransmitted
        self.refused += other.refused
        self.platform_messages += other.platform_messages
        self.decode_errors += other.decode_errors
        for result, count in other.results.items():
            self.results[result] = self.results.get(result, 0) + count


class TerminalLink:
    """One TCP connection of a terminal. ``await TerminalLink.connect(host, port, identity=…)``; then
    :meth:`register`, :meth:`authenticate`, :meth:`location`, :meth:`batch`, :meth:`heartbeat`, each
    waiting for its answer. Not safe for concurrent requests: one exchange at a time, like a terminal."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        identity: TerminalIdentity,
        reply_timeout: float = 5.0,
        retries: int = 2,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.identity = identity
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.stats = LinkStats()
        self._serial = 0
        self._deframer = codec.Deframer()
        self._pending: list[bytes | DecodeError] = []

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        identity: TerminalIdentity,
        reply_timeout: float = 5.0,
        retries: int = 2,
        connect_timeout: float = 10.0,
    ) -> TerminalLink:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise LinkLost(f"cannot connect to {host}:{port}: {exc}") from exc
        return cls(reader, writer, identity=identity, reply_timeout=reply_timeout, retries=retries)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self.writer.wait_closed()

    # --- exchanges -----------------------------------------------------------------------------------

    def _next_serial(self) -> int:
        serial = self._serial
        self._serial = (serial + 1) & 0xFFFF
        return serial

    def _frame(self, message_id: int, body: bytes, serial: int) -> bytes:
        return codec.encode(
            message_id, body, phone=self.identity.phone, serial=serial, version=self.identity.header_version
        )

    async def request(self, message_id: int, body: bytes) -> Message:
        """Send one message and return the platform's answer to it (0x8001, or 0x8100 for a register),
        resending on timeout (6.1). Raises :class:`LinkLost`."""
        serial = self._next_serial()
        frame = self._frame(message_id, body, serial)
        timeout = self.reply_timeout
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retransmitted += 1
                timeout *= attempt + 1  # T(n+1) = T(n) × (n+1)
            try:
                self.writer.write(frame)
                await self.writer.drain()
            except (OSError, ConnectionError) as exc:
                raise LinkLost(f"connection lost while sending: {exc}") from exc
            self.stats.sent += 1
            answer = await self._await_answer(message_id, serial, timeout)
            if answer is not None:
                self.stats.answered += 1
                return answer
        raise LinkLost(f"no answer to 0x{message_id:04X} #{serial} after {self.retries} retries")

    def _answers(self, message: Message, message_id: int, serial: int) -> bool:
        body = message.body
        if isinstance(body, PlatformReply):
            return body.reply_serial == serial and body.reply_id == message_id
        if isinstance(body, RegisterReply):
            return message_id == codec.REGISTER and body.reply_serial == serial
        return False

    async def _await_answer(self, message_id: int, serial: int, timeout: float) -> Message | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while self._pending:
                item = self._pending.pop(0)
                if isinstance(item, DecodeError):
                    self.stats.decode_errors += 1
                    continue
                message = codec.decode(item)
                if isinstance(message, DecodeError):
                    self.stats.decode_errors += 1
                    continue
                if self._answers(message, message_id, serial):
                    return message
                await self._platform_message(message)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                data = await asyncio.wait_for(self.reader.read(4096), remaining)
            except TimeoutError:
                return None
            except (OSError, ConnectionError) as exc:
                raise LinkLost(f"connection lost while waiting: {exc}") from exc
            if not data:
                raise LinkLost("the platform closed the connection")
            self._pending.extend(self._deframer.feed(data))

    async def _platform_message(self, message: Message) -> None:
        """A message that is not the awaited answer: a late answer to a resent message is dropped; a
        platform command is answered "not supported" (8.1)."""
        header = message.header
        if header.msg_id in (codec.PLATFORM_REPLY, codec.REGISTER_REPLY) or not header.msg_id & 0x8000:
            return
        self.stats.platform_messages += 1
        body = header.serial.to_bytes(2, "big") + header.msg_id.to_bytes(2, "big") + bytes((3,))
        try:
            self.writer.write(self._frame(codec.TERMINAL_REPLY, body, self._next_serial()))
            await self.writer.drain()
        except (OSError, ConnectionError) as exc:
            raise LinkLost(f"connection lost while answering: {exc}") from exc

    def _result(self, answer: Message) -> int:
        body = answer.body
        result = body.result if isinstance(body, (PlatformReply, RegisterReply)) else -1
        self.stats.results[result] = self.stats.results.get(result, 0) + 1
        if result:
            self.stats.refused += 1
        return result

    # --- messages ------------------------------------------------------------------------------------

    async def register(self) -> str:
        """0x0100 (8.8); returns the auth code of the 0x8100. Raises :class:`Refused` with its result."""
        identity = self.identity
        body = codec.encode_register_body(
            province=identity.province,
            city=identity.city,
            maker=identity.maker,
            model=identity.model,
            terminal_id=identity.terminal_id,
            plate_color=identity.plate_color,
            plate=identity.plate,
            layout=2019 if identity.edition == 2019 else 2013,
        )
        answer = await self.request(codec.REGISTER, body)
        result = self._result(answer)
        reply = answer.body
        if result or not isinstance(reply, RegisterReply) or not reply.auth_code:
            raise Refused(f"register refused with result {result}", result)
        return reply.auth_code

    async def authenticate(self, auth_code: str) -> None:
        """0x0102 (8.11), in the terminal's edition. Raises :class:`Refused` unless answered 0."""
        identity = self.identity
        if identity.edition == 2019:
            body = codec.encode_authenticate_body(
                auth_code, imei=identity.imei, software_version=identity.software_version
            )
        else:
            body = codec.encode_authenticate_body(auth_code)
        result = self._result(await self.request(codec.AUTHENTICATE, body))
        if result:
            raise Refused(f"authentication refused with result {result}", result)

    async def heartbeat(self) -> int:
        """0x0002 (8.3); the result of its 0x8001."""
        return self._result(await self.request(codec.HEARTBEAT, b""))

    async def location(self, body: bytes) -> int:
        """0x0200 with a body of :func:`~greenisle.tracking.jt808.codec.encode_location_body`."""
        return self._result(await self.request(codec.LOCATION, body))

    async def batch(self, bodies: list[bytes], *, kind: int = 0) -> int:
        """0x0704: several location bodies at once; ``kind`` 1 is a blind-area back-fill (盲区补报)."""
        return self._result(
            await self.request(codec.LOCATION_BATCH, codec.encode_location_batch_body(bodies, kind=kind))
        )
