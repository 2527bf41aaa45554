"""Entry points of the HJ 212 listener: :func:`serve` (a coroutine: ``ready`` is set once listening,
setting ``stop`` flushes the pending batch and returns), :func:`run` (a coroutine on a fresh (uv)loop) and
:class:`ListenerThread` (runs a :class:`~.server.Hj212Listener` on its own event loop in a background
thread, for tests and benchmarks). The ``greenisle hj212_listener`` management command uses them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from greenisle.telemetry.hj212.config import ListenerConfig, ListenerStats, config_from_settings
from greenisle.telemetry.hj212.server import Hj212Listener

__all__ = ["ListenerThread", "new_event_loop", "run", "serve"]

# The listener's logger keeps the name of the single module it grew out of, so log filters still match.
_log = logging.getLogger("greenisle.telemetry.hj212")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop when uvloop is installed, else the standard one."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def serve(
    host: str | None = None,
    port: int | None = None,
    *,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    config: ListenerConfig | None = None,
    **options: Any,
) -> ListenerStats:
    """Serve until ``stop`` is set (forever without one); flush and answer what is pending; return the
    counters. ``host``/``port``/``options`` override ``config`` (by default from settings)."""
    base = config or config_from_settings()
    overrides = {"host": host, "port": port, **options}
    listener = Hj212Listener(
        dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
    )
    await listener.run(ready=ready, stop=stop)
    return listener.stats


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on a fresh (uv)loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


class ListenerThread:
    """A listener on its own event loop in a background thread: ``port = thread.start()``, then
    ``thread.stop()`` (flushes, answers and closes, like SIGTERM)."""

    def __init__(self, config: ListenerConfig | None = None, **kwargs: Any) -> None:
        self.listener = Hj212Listener(config or config_from_settings(host="127.0.0.1", port=0), **kwargs)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="hj212-listener", daemon=True)

    @property
    def stats(self) -> ListenerStats:
        return self.listener.stats

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready = asyncio.Event()
            waiter = self._loop.create_task(ready.wait())
            waiter.add_done_callback(lambda _: self._ready.set())
            await self.listener.run(ready=ready, stop=self._stop)

        try:
            run(main())
        except BaseException as exc:  # noqa: BLE001 - reported by start()/stop()
            self._error = exc
            _log.exception("HJ 212 监听线程出错 / HJ 212 listener thread failed")
        finally:
            self._ready.set()

    def start(self, timeout: float = 10.0) -> int:
        self._thread.start()
        if not self._ready.wait(timeout) or self.listener.port is None:
            raise RuntimeError(f"HJ 212 listener did not start: {self._error!r}")
        return self.listener.port

    def call(self, function: Callable[[], Any]) -> None:
        """Run ``function`` on the listener's loop (thread-safe)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(function)

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("HJ 212 listener did not stop")
        if self._error is not None:
            raise RuntimeError("HJ 212 listener failed") from self._error

    def __enter__(self) -> ListenerThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
