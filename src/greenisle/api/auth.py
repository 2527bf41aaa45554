"""API authentication: people by session or personal token, devices by their device key."""

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from greenisle.accounts.models import user_for_token
from greenisle.telemetry.services import device_authenticate


class BearerToken(HttpBearer):
    """``Authorization: Bearer gi_…`` — a personal API token bound to one membership."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class DeviceKey(APIKeyHeader):
    """``X-Device-Key: dk_…`` — a smart bin's own key."""

    param_name = "X-Device-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return device_authenticate(key)


person_auth = [SessionAuth(), BearerToken()]
device_auth = DeviceKey()
