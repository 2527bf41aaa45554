"""Permission predicates: what a person's current membership allows."""

from __future__ import annotations

from typing import Any

from greenisle.accounts.choices import Role
from greenisle.core.errors import PermissionDenied

DISPATCH_ROLES = {Role.ADMIN, Role.DISPATCHER}
DRIVER_ROLES = {Role.ADMIN, Role.DISPATCHER, Role.DRIVER}
RECEIVE_ROLES = {Role.ADMIN, Role.DISPATCHER, Role.RECEIVER}


def membership_of(user: Any) -> Any:
    membership = getattr(user, "current_membership", None) if user is not None else None
    if membership is None:
        raise PermissionDenied("没有有效的单位身份 / no organisation membership")
    return membership


def require(user: Any, *, kind: str, roles: set[str] | None = None, organization_id: Any = None) -> Any:
    """The current membership, if it is of ``kind`` (and one of ``roles``, and of that organisation)."""
    membership = membership_of(user)
    org = membership.organization
    if org.kind != kind:
        raise PermissionDenied(f"需要{kind}单位身份 / requires acting for a {kind}")
    if roles is not None and membership.role not in roles:
        raise PermissionDenied(f"角色 {membership.role} 无此权限 / role {membership.role} may not do this")
    if organization_id is not None and str(org.id) != str(organization_id):
        raise PermissionDenied("不属于本单位 / belongs to another organisation")
    return membership
