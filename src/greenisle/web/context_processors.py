from typing import Any

from django.http import HttpRequest


def membership(request: HttpRequest) -> dict[str, Any]:
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from greenisle.notifications.models import Notification

    current = user.current_membership
    unread = (
        Notification.objects.filter(organization_id=current.organization_id, read_at__isnull=True).count()
        if current is not None
        else 0
    )
    return {
        "current_membership": current,
        "memberships": list(user.memberships.select_related("organization")),
        "unread_notifications": unread,
    }
