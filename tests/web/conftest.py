"""Fixtures for the page tests: a browser-like client per person (CSRF enforced, as in a browser)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

# The whole loop and the rival collector's fleet, shared with the API tests.
from api.conftest import loop, received_manifest, rival_fleet  # noqa: F401
from dispatch.conftest import fleet, requests_  # noqa: F401

from greenisle.accounts.models import User
from web.helpers import Browser


@pytest.fixture
def browser_as(db: None) -> Callable[[User | None], Browser]:
    """``browser_as(alice)``: a client logged in as alice; ``browser_as(None)``: nobody."""

    def _as(user: User | None) -> Browser:
        browser = Browser()
        browser.csrf()
        if user is not None:
            browser.force_login(user)
        return browser

    return _as
