"""The findings count in the navigation: findings still being followed up (not closed or dismissed)
that the person may see. One COUNT per page, none where the view already counted them."""

from __future__ import annotations

from typing import Any

from django import template

from greenisle.supervision.models import Finding

register = template.Library()


@register.simple_tag(takes_context=True)
def active_findings_count(context: Any) -> int:
    counted = context.get("open_findings")
    if isinstance(counted, int):
        return counted
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return int(Finding.objects.visible_to(user).active().count())
