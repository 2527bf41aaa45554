"""Puts the membership the person switched to (kept in the session) on request.user."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

SESSION_KEY = "greenisle_membership_id"


class CurrentMembershipMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            membership_id = request.session.get(SESSION_KEY)
            if membership_id:
                membership = (
                    user.memberships.select_related("organization").filter(pk=membership_id).first()  # type: ignore[union-attr]
                )
                if membership is not None:
                    user.set_current_membership(membership)  # type: ignore[union-attr]
        return self.get_response(request)
