"""Headless Debian Chromium driven by Playwright (sync API) against pytest-django's live server.

Playwright's sync API runs an event loop in the test's thread; Django then refuses ORM calls from that
thread as "async-unsafe" unless told otherwise (DJANGO_ALLOW_ASYNC_UNSAFE, set only while Chromium
runs, and Chromium is stopped before the database is flushed). The browser reaches nothing but the live
server: every other request (map tiles) is aborted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from browser.helpers import CHROMIUM, CHROMIUM_ARGS, DESKTOP


@pytest.fixture
def chromium(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots() -> Callable[[Any, str, str], Path]:
    """``shoot(page, role, name)`` saves var/screenshots/<nn>-<role>-<name>.png, numbered in order."""
    directory = Path(settings.VAR_DIR) / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.png"):
        old.unlink()
    counter = iter(range(1, 100))

    def shoot(page: Any, role: str, name: str) -> Path:
        path = directory / f"{next(counter):02d}-{role}-{name}.png"
        # Animations off: a full-page shot resizes the viewport, and Leaflet would be caught mid-zoom.
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return shoot


@pytest.fixture
def open_page(chromium: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """``open_page(viewport=PHONE)``: a fresh browser context (its own cookies) and page on the live server."""
    contexts: list[Any] = []
    allowed = {urlsplit(live_server.url).netloc}

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).netloc in allowed:
            route.continue_()
        else:
            route.abort()

    def _open(viewport: dict[str, int] = DESKTOP, **options: Any) -> Any:
        context = chromium.new_context(base_url=live_server.url, viewport=viewport, locale="zh-CN", **options)
        context.route("**/*", only_loopback)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()
