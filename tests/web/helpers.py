"""A logged-in person's browser, and reading what a page says."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.test import Client


class Browser(Client):
    """A logged-in person's browser: CSRF is enforced and every form post carries the token from the
    cookie, as the templates' {% csrf_token %} would."""

    def __init__(self) -> None:
        super().__init__(enforce_csrf_checks=True)

    def csrf(self) -> str:
        if settings.CSRF_COOKIE_NAME not in self.cookies:
            self.get("/login/")  # any page with a form sets the cookie
        return self.cookies[settings.CSRF_COOKIE_NAME].value

    def submit(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.post(path, {**(data or {}), "csrfmiddlewaretoken": self.csrf()}, **kwargs)


def page_text(response: Any) -> str:
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    return response.content.decode()


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []
