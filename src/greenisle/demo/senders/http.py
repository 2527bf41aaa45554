"""HTTP: each bin posts its readings of the moment as one batch to the readings API.

Posts run on a small thread pool so that a slow server does not stall the pacing; when too many
posts are in flight, new readings are counted failed rather than queued without bound.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import requests

from greenisle.demo.fill import BadPacket, Emission
from greenisle.demo.packets import MALFORMED_JSON, json_reading, out_of_range_reading
from greenisle.demo.senders.common import Counters, by_bin, short_error

__all__ = ["BATCH_PATH", "HTTP_TIMEOUT", "USER_AGENT", "HttpSender"]

BATCH_PATH = "/api/v1/readings/batch"
USER_AGENT = "greenisle-simulate/1"
HTTP_TIMEOUT = (3.05, 15.0)  # (connect, read) seconds


@dataclasses.dataclass
class _Post:
    key: str
    body: bytes
    kinds: list[str]  # per item: "good" or "bad"; a malformed body is one "bad" item


class HttpSender:
    """Each bin posts its readings of the moment as one batch with its own device key."""

    transport = "http"

    def __init__(
        self,
        base_url: str,
        counters: Counters,
        *,
        workers: int = 4,
        session_factory: Callable[[], Any] = requests.Session,
        timeout: Any = HTTP_TIMEOUT,
    ) -> None:
        self.url = base_url.rstrip("/") + BATCH_PATH
        self.counters = counters
        self.session_factory = session_factory
        self.timeout = timeout
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="simulate-http")
        self.max_pending = max(1, workers) * 4
        self.pending: set[Future[None]] = set()
        self._local = threading.local()

    @staticmethod
    def posts(emissions: Sequence[Emission]) -> list[_Post]:
        """The requests for these emissions: one batch per bin, a malformed body on its own."""
        posts: list[_Post] = []
        for group in by_bin(emissions).values():
            items: list[Any] = []
            kinds: list[str] = []
            key = group[0].bin.key
            for emission in group:
                assert emission.reading is not None
                if emission.bad is BadPacket.MALFORMED_JSON:
                    posts.append(_Post(key=key, body=MALFORMED_JSON, kinds=["bad"]))
                elif emission.bad is BadPacket.OUT_OF_RANGE:
                    items.append(out_of_range_reading(emission.reading))
                    kinds.append("bad")
                else:
                    items.append(json_reading(emission.reading))
                    kinds.append("good")
            if items:
                body = json.dumps({"readings": items}, separators=(",", ":")).encode("utf-8")
                posts.append(_Post(key=key, body=body, kinds=kinds))
        return posts

    def send(self, emissions: Sequence[Emission]) -> None:
        """Queue the posts; when the pool is saturated wait once (at most 0.5 s), then count failures."""
        waited = False
        for post in self.posts(emissions):
            good = post.kinds.count("good")
            bad = len(post.kinds) - good
            self.poll()
            if len(self.pending) >= self.max_pending and not waited:
                wait(self.pending, timeout=0.5, return_when=FIRST_COMPLETED)
                waited = True
                self.poll()
            if len(self.pending) >= self.max_pending:
                self.counters.add("http", sent=good, failed=good, bad=bad)
                self.counters.problem("http", "服务器太慢 / server too slow: too many posts in flight")
                continue
            self.counters.add("http", sent=good, bad=bad)
            self.pending.add(self.pool.submit(self.deliver, post))

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self.session_factory()
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
        return session

    def deliver(self, post: _Post) -> None:
        """Post one request and count its outcome (on a pool thread, or the caller's in tests)."""
        good = post.kinds.count("good")
        try:
            response = self._session().post(
                self.url,
                data=post.body,
                headers={"X-Device-Key": post.key, "Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            self.counters.add("http", failed=good)
            self.counters.problem("http", f"服务器无法访问 / server not reachable: {short_error(exc)}")
            return
        if response.status_code != 200:
            self.counters.add("http", rejected=good)
            if good:
                self.counters.problem("http", f"HTTP {response.status_code}: {response.text[:200]}")
            return
        try:
            results = response.json()["results"]
        except (ValueError, KeyError, TypeError):
            self.counters.add("http", rejected=good)
            self.counters.problem("http", f"unexpected answer: {response.text[:200]}")
            return
        accepted = rejected = opened = 0
        for result in results:
            index = result.get("index")
            kind = post.kinds[index] if isinstance(index, int) and 0 <= index < len(post.kinds) else "good"
            ok = result.get("status") in ("accepted", "duplicate")
            if kind == "bad":
                if ok:
                    self.counters.problem("http", "坏读数被接受 / a deliberately bad reading was accepted")
                continue
            if ok:
                accepted += 1
                opened += 1 if result.get("request_opened") else 0
            else:
                rejected += 1
                self.counters.problem("http", f"rejected: {result.get('reason')} ({result.get('field')})")
        self.counters.add("http", accepted=accepted, rejected=rejected, opened=opened)

    def poll(self, timeout: float = 0.0) -> None:
        if timeout and self.pending:
            wait(self.pending, timeout=timeout)
        done = {f for f in self.pending if f.done()}
        for future in done:
            exc = future.exception()
            if exc is not None:  # a bug in _post: say so, keep going
                self.counters.problem("http", f"internal error: {short_error(exc)}")
        self.pending -= done

    def close(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            self.poll(min(0.2, max(0.0, deadline - time.monotonic())))
        self.pool.shutdown(wait=False, cancel_futures=True)
