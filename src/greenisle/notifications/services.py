"""Telling an organisation something, once."""

from __future__ import annotations

from typing import Any

from greenisle.notifications.models import Notification


def notify(*, organization: Any, kind: str, message: str, obj: Any, key: str | None = None) -> bool:
    """Record a notification for ``organization`` about ``obj``; a repeated ``key`` is not sent
    again. Returns whether it is new. Runs in the caller's transaction."""
    object_type = f"{obj._meta.app_label}.{obj._meta.model_name}"
    _n, created = Notification.objects.get_or_create(
        organization=organization,
        key=key or f"{kind}:{object_type}:{obj.pk}",
        defaults={"kind": kind, "message": message, "object_type": object_type, "object_id": str(obj.pk)},
    )
    return created
