"""What a person may do with a finding now: the steps ``FINDING_TRANSITIONS`` allows from the finding's
state to the roles the person plays on it. Pages offer exactly these as forms; the services enforce the
same table and the same roles, so a form is never shown for a step that would be refused (nor hidden
for one that would not).

Roles (``transitions.py``): ``regulator`` — an inspector or admin of a bureau whose division covers
the finding's; ``owner`` — a member of the organisation that must rectify; ``collector`` — the owner's
collector under an active service contract, acting for a small producer (HJ 1259-2022 §7.1.3).
"""

from __future__ import annotations

from typing import Any

from greenisle.accounts.permissions import acting_for
from greenisle.core.errors import PermissionDenied
from greenisle.organizations.identifiers import division_prefix
from greenisle.supervision.services import COLLECTOR_ROLES, OWNER_ROLES, REGULATOR_ROLES
from greenisle.supervision.transitions import (
    FINDING_TRANSITIONS,
    S_ASSIGNED,
    S_CLOSED,
    S_DISMISSED,
    S_SUBMITTED,
    S_VERIFIED,
)

ASSIGN = "assign"
RECTIFY = "rectify"
ACCEPT = "accept"
SEND_BACK = "send_back"
CLOSE = "close"
DISMISS = "dismiss"
ACTIONS = (ASSIGN, RECTIFY, ACCEPT, SEND_BACK, CLOSE, DISMISS)


def step_of(source: str, target: str) -> str:
    """The follow-up step (and its form) a row of the table stands for."""
    if target == S_ASSIGNED:
        # Back to assigned from a submitted rectification is the bureau sending it back; from open or
        # assigned it is (re)assigning.
        return SEND_BACK if source == S_SUBMITTED else ASSIGN
    steps = {S_SUBMITTED: RECTIFY, S_VERIFIED: ACCEPT, S_CLOSED: CLOSE, S_DISMISSED: DISMISS}
    return steps[target]


def finding_roles(membership: Any, finding: Any) -> set[str]:
    """The roles of the table the member plays on this finding (none without a membership)."""
    if membership is None:
        return set()
    roles: set[str] = set()
    org = membership.organization
    if (
        org.kind == "regulator"
        and membership.role in REGULATOR_ROLES
        and finding.division_code.startswith(division_prefix(org.division_id))
    ):
        roles.add("regulator")
    try:
        acting = acting_for(
            membership,
            finding.owner_organization_id,
            own_roles=OWNER_ROLES,
            collector_roles=COLLECTOR_ROLES,
            what="提交整改",
        )
    except PermissionDenied:
        return roles
    roles.add("collector" if acting == "collector" else "owner")
    return roles


def finding_actions(user: Any, finding: Any) -> set[str]:
    """The steps (``ACTIONS``) the person, as their current membership, may take on the finding now."""
    mine = finding_roles(getattr(user, "current_membership", None), finding)
    if not mine:
        return set()
    return {
        step_of(row.source, row.target)
        for row in FINDING_TRANSITIONS.rows
        if row.source == finding.status and mine & row.roles
    }


def finding_assignees(user: Any, finding: Any) -> list[Any]:
    """Whom the person may name to follow the finding up: the active inspectors and admins of their own
    bureau, when it covers the finding (the service accepts any bureau covering it; a page offers the
    acting bureau's people)."""
    from greenisle.accounts.models import User

    membership = getattr(user, "current_membership", None)
    if "regulator" not in finding_roles(membership, finding):
        return []
    return list(
        User.objects.filter(
            is_active=True,
            memberships__organization_id=membership.organization_id,
            memberships__role__in=REGULATOR_ROLES,
        )
        .distinct()
        .order_by("display_name", "username")
    )
