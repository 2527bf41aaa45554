import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from greenisle.api.auth import person_auth

router = Router(tags=["accounts"], auth=person_auth)


class MembershipOut(Schema):
    id: int
    organization_id: uuid.UUID
    organization: str
    kind: str
    role: str


class MeOut(Schema):
    username: str
    display_name: str
    current_membership: MembershipOut | None
    memberships: list[MembershipOut]


def _membership(m: Any) -> dict[str, Any]:
    return {
        "id": m.id,
        "organization_id": m.organization_id,
        "organization": m.organization.name,
        "kind": m.organization.kind,
        "role": m.role,
    }


@router.get("/me", response=MeOut, summary="Who you are and which organisation you act for")
def me(request: HttpRequest) -> Any:
    user: Any = request.user
    current = user.current_membership
    return {
        "username": user.username,
        "display_name": str(user),
        "current_membership": _membership(current) if current else None,
        "memberships": [_membership(m) for m in user.memberships.select_related("organization")],
    }
