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


def acting_for(
    membership: Any, organization_id: Any, *, own_roles: set[str], collector_roles: set[str], what: str
) -> str:
    """'producer' when ``membership`` is of the organisation itself (in one of ``own_roles``),
    'collector' when it is of the organisation's collector under an active contract (in one of
    ``collector_roles``): who may keep a ledger, file a plan or declare for a small producer (HJ 1259
    §7.1.3). ``what`` names the act in the refusal."""
    from greenisle.organizations.models import ServiceContract

    org = membership.organization
    if org.pk == organization_id:
        if membership.role not in own_roles:
            raise PermissionDenied(
                f"角色 {membership.role} 不能{what} / role {membership.role} may not do this"
            )
        return "producer"
    if (
        org.kind == "collector"
        and membership.role in collector_roles
        and ServiceContract.objects.active().filter(collector=org, producer_id=organization_id).exists()
    ):
        return "collector"
    raise PermissionDenied(f"只能为本单位或服务客户{what} / only for your own organisation or a client")
