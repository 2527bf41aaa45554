"""HTTP helpers for the JSON API: a client that speaks JSON as a person (token or session) or as a bin."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from greenisle.accounts.models import ApiToken, User

API = "/api/v1"


class JsonClient:
    """Django's test client with JSON bodies, API-relative paths and fixed headers (auth)."""

    def __init__(self, headers: dict[str, str] | None = None, *, user: User | None = None) -> None:
        # CSRF is enforced as for a real client: Django's test client skips it unless asked.
        self.client = Client(enforce_csrf_checks=True)
        self.headers = dict(headers or {})
        if user is not None:
            # A browser session: the session cookie, and the CSRF cookie echoed in a header (as htmx does).
            self.client.force_login(user)
            csrf = get_random_string(32)
            self.client.cookies[settings.CSRF_COOKIE_NAME] = csrf
            self.headers["X-CSRFToken"] = csrf

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"{API}{path}", params, headers=self.headers)

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(
            f"{API}{path}",
            json.dumps(body, default=str),
            content_type="application/json",
            headers=self.headers,
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(f"{API}{path}", headers=self.headers)

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(
            f"{API}{path}",
            json.dumps(body if body is not None else {}, default=str),
            content_type="application/json",
            headers={**self.headers, **headers},
        )


def bearer_headers(user: User, name: str = "tests") -> dict[str, str]:
    """A fresh personal token for the person's current membership."""
    membership = user.current_membership
    assert membership is not None, f"{user} has no membership"
    _token, raw = ApiToken.issue(membership=membership, name=name)
    return {"Authorization": f"Bearer {raw}"}


def reading(fill: Any, *, minutes_ago: float = 5, **fields: Any) -> dict[str, Any]:
    """A reading body as a bin sends it: observed_at in ISO 8601 with the +08:00 offset."""
    observed_at = timezone.localtime(timezone.now() - dt.timedelta(minutes=minutes_ago))
    return {"observed_at": observed_at.isoformat(), "fill_pct": fill, **fields}


def items(response: Any) -> list[dict[str, Any]]:
    """The rows of a paginated list (LimitOffsetPagination: {"items": [...], "count": n})."""
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] >= len(body["items"])
    return body["items"]


def ids(response: Any) -> set[str]:
    return {row["id"] for row in items(response)}
