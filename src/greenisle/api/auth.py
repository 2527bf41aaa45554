"""API authentication: people by session or personal token, devices by their device key."""

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from greenisle.accounts.models import user_for_token
from greenisle.telemetry.services import device_authenticate


class BearerToken(HttpBearer):
    """``Authorization: Bearer gi_…`` — a personal API token bound to one membership."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(NinjaSessionAuth):
    """The browser session. CSRF is checked only when a session cookie comes with the request: a token
    client sends none, and must not be refused for lacking a CSRF cookie it has no use for."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)


class DeviceKey(APIKeyHeader):
    """``X-Device-Key: dk_…`` — a smart bin's own key."""

    param_name = "X-Device-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return device_authenticate(key)


class OptionalDeviceKey(DeviceKey):
    """A device key when one is sent (a wrong one is refused); otherwise the next method is tried."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return device_authenticate(key) if key else None


# An explicit Authorization header wins over an ambient session cookie.
person_auth = [BearerToken(), SessionAuth()]
device_auth = DeviceKey()
