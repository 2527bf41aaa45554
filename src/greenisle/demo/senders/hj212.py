"""HJ 212: simulated data loggers, one TCP connection per bin.

At most ``max_connections`` are open (the least recently used idle one is closed to make room), all
driven from the caller's thread by :meth:`Hj212Sender.poll`, which also serves as the simulator's
sleep.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import resource
import selectors
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from greenisle.demo.fill import CHINA, Emission, SimBin
from greenisle.demo.packets import hj212_bad_frame, hj212_frame, hj212_qn
from greenisle.demo.senders.common import Counters
from greenisle.telemetry.hj212 import CrcMode, DecodeError, Deframer, decode_frame, encode_packet

__all__ = ["Hj212Sender"]


@dataclasses.dataclass(eq=False)
class _Link:
    serial: str
    mn: str
    pw: str
    sock: socket.socket
    deframer: Deframer = dataclasses.field(default_factory=Deframer)
    pending: dict[str, float] = dataclasses.field(default_factory=dict)  # QN → answer deadline
    last_qn: str = ""


def _raise_fd_limit(wanted: int) -> int:
    """Raise the soft open-files limit towards ``wanted``; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else wanted


class Hj212Sender:
    """Data loggers over TCP: one connection per bin, frames with Flag=5, 9014 answers matched by QN."""

    transport = "hj212"

    def __init__(
        self,
        host: str,
        port: int,
        counters: Counters,
        *,
        max_connections: int = 1000,
        answer_timeout: float = 10.0,
        connect_timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(CHINA),
    ) -> None:
        self.host = host
        self.port = port
        self.counters = counters
        limit = _raise_fd_limit(max_connections + 256)
        self.max_connections = max(1, min(max_connections, limit - 128))
        self.answer_timeout = answer_timeout
        self.connect_timeout = connect_timeout
        self.clock = clock
        self.wall = wall
        self.links: collections.OrderedDict[str, _Link] = collections.OrderedDict()
        self.selector = selectors.DefaultSelector()
        self.down_until = 0.0
        self.platform_requests = 0

    # -- connections ---------------------------------------------------------------------------

    def _link(self, b: SimBin) -> _Link | None:
        link = self.links.get(b.serial)
        if link is not None:
            self.links.move_to_end(b.serial)
            return link
        if self.clock() < self.down_until:
            return None
        if len(self.links) >= self.max_connections:
            idle = next((s for s, lk in self.links.items() if not lk.pending), next(iter(self.links)))
            self._close(self.links[idle], "")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            self.down_until = self.clock() + 2.0
            self.counters.problem(
                "hj212", f"HJ 212 监听无法连接 / listener not reachable at {self.host}:{self.port}: {exc}"
            )
            return None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(5.0)  # sendall; reads happen only when select says there is something
        link = _Link(serial=b.serial, mn=b.hj212_mn, pw=b.hj212_pw, sock=sock)
        self.links[b.serial] = link
        self.selector.register(sock, selectors.EVENT_READ, link)
        return link

    def _close(self, link: _Link, reason: str) -> None:
        if self.links.get(link.serial) is link:
            del self.links[link.serial]
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(link.sock)
        link.sock.close()
        if link.pending:
            self.counters.add("hj212", rejected=len(link.pending))
            link.pending.clear()
            if reason:
                self.counters.problem("hj212", f"{link.serial}: {reason}")

    # -- sending -------------------------------------------------------------------------------

    def _qn(self, link: _Link) -> str:
        """The send time to the millisecond, always later than this connection's previous QN."""
        qn = hj212_qn(self.wall())
        if qn <= link.last_qn:
            qn = str(int(link.last_qn) + 1)
        link.last_qn = qn
        return qn

    def send(self, emissions: Sequence[Emission]) -> None:
        for emission in emissions:
            reading = emission.reading
            if reading is None:
                continue
            b = emission.bin
            good = 0 if emission.bad is not None else 1
            bad = 1 - good
            link = self._link(b)
            if link is None:
                self.counters.add("hj212", sent=good, failed=good, bad=bad)
                continue
            qn = self._qn(link)
            if emission.bad is not None:
                frame = hj212_bad_frame(reading, emission.bad, mn=b.hj212_mn, pw=b.hj212_pw, qn=qn)
            else:
                frame = hj212_frame(reading, mn=b.hj212_mn, pw=b.hj212_pw, qn=qn, crc_mode=b.hj212_crc_mode)
            try:
                link.sock.sendall(frame)
            except OSError as exc:
                self._close(link, f"发送失败 / send failed: {exc}")
                self.counters.add("hj212", sent=good, failed=good, bad=bad)
                continue
            self.counters.add("hj212", sent=good, bad=bad)
            if good:
                link.pending[qn] = self.clock() + self.answer_timeout

    # -- answers -------------------------------------------------------------------------------

    def _answer_request(self, link: _Link, packet: Any) -> None:
        """A request from the platform (clock, intervals…): acknowledge it (9011) and report it done
        (9012). The simulated logger has nothing to change."""
        self.platform_requests += 1
        replies = [("9011", [("QnRtn", "1")]), ("9012", [("ExeRtn", "1")])]
        try:
            for cn, cp in replies:
                link.sock.sendall(
                    encode_packet(qn=packet.qn, st="91", cn=cn, pw=link.pw, mn=link.mn, flag=4, cp=cp)
                )
        except OSError as exc:
            self._close(link, f"发送失败 / send failed: {exc}")

    def _read(self, link: _Link) -> None:
        try:
            data = link.sock.recv(65536)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return
        except OSError as exc:
            self._close(link, f"连接出错 / connection error: {exc}")
            return
        if not data:
            self._close(link, "监听关闭了连接 / the listener closed the connection")
            return
        for frame in link.deframer.feed(data):
            if isinstance(frame, DecodeError):
                continue
            packet = decode_frame(frame, crc_modes=tuple(CrcMode))
            if isinstance(packet, DecodeError):
                self.counters.problem("hj212", f"bad answer from the listener: {packet.message}")
                continue
            if packet.cn == "9014":
                if packet.qn is not None and link.pending.pop(packet.qn, None) is not None:
                    self.counters.add("hj212", accepted=1)
            elif packet.need_ack and packet.cn not in ("9011", "9012", "9013", "9014"):
                self._answer_request(link, packet)

    def _expire(self) -> None:
        now = self.clock()
        for link in list(self.links.values()):
            late = [qn for qn, deadline in link.pending.items() if deadline <= now]
            for qn in late:
                del link.pending[qn]
            if late:
                self.counters.add("hj212", rejected=len(late))
                self.counters.problem(
                    "hj212", f"{link.serial}: 无 9014 应答 / no 9014 answer within {self.answer_timeout:g} s"
                )

    def poll(self, timeout: float = 0.0) -> None:
        """Read answers for up to ``timeout`` seconds (at least once), then expire the late ones."""
        deadline = self.clock() + timeout
        while True:
            remaining = max(0.0, deadline - self.clock())
            if self.links:
                for key, _ in self.selector.select(remaining):
                    self._read(key.data)
            elif remaining:
                time.sleep(remaining)
            self._expire()
            if self.clock() >= deadline:
                return

    def in_flight(self) -> int:
        return sum(len(link.pending) for link in self.links.values())

    def close(self, timeout: float = 3.0) -> None:
        deadline = self.clock() + timeout
        while self.in_flight() and self.clock() < deadline:
            self.poll(min(0.1, max(0.0, deadline - self.clock())))
        for link in list(self.links.values()):
            self._close(link, "")
        self.selector.close()
