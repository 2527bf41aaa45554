"""Who may see what: one place that turns a person's current membership into a query filter.

Rules (DESIGN.md "The people"): a regulator sees its division-code prefix; a producer its own
organisation; a collector its clients (producers with a service contract) and its own assets;
a facility what is sent to it; a carrier what it carries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import models
from django.db.models import Q

from greenisle.organizations.identifiers import division_prefix


@dataclass
class Scope:
    kind: str
    role: str
    organization_id: uuid.UUID
    division_code: str
    _clients: list[uuid.UUID] | None = field(default=None, repr=False)

    @property
    def division_prefix(self) -> str:
        return division_prefix(self.division_code)

    def client_ids(self) -> list[uuid.UUID]:
        if self._clients is None:
            from greenisle.organizations.models import ServiceContract

            self._clients = list(
                ServiceContract.objects.active()
                .filter(collector_id=self.organization_id)
                .values_list("producer_id", flat=True)
            )
        return self._clients

    def visible_org_ids(self) -> list[uuid.UUID]:
        if self.kind == "collector":
            return [self.organization_id, *self.client_ids()]
        return [self.organization_id]


def scope_for(user: Any) -> Scope | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    membership = user.current_membership
    if membership is None:
        return None
    cached: Scope | None = getattr(membership, "_scope", None)
    if cached is None:
        org = membership.organization
        cached = Scope(
            kind=org.kind, role=membership.role, organization_id=org.id, division_code=org.division_id
        )
        membership._scope = cached
    return cached


class VisibleQuerySet(models.QuerySet[Any]):
    """Base for every QuerySet that pages or the API list. Subclasses name the paths to the parties."""

    producer_path: ClassVar[str | None] = None
    collector_path: ClassVar[str | None] = None
    facility_path: ClassVar[str | None] = None
    carrier_path: ClassVar[str | None] = None
    division_path: ClassVar[str | None] = None

    def visible_to(self, user: Any) -> Any:
        scope = scope_for(user)
        if scope is None:
            return self.none()
        return self.filter(self.visibility_q(scope))

    @classmethod
    def visibility_q(cls, scope: Scope) -> Q:
        nothing = Q(pk__in=[])
        if scope.kind == "regulator":
            if cls.division_path is None:
                return nothing
            return Q(**{f"{cls.division_path}__startswith": scope.division_prefix})
        q = nothing
        if scope.kind == "producer" and cls.producer_path:
            q |= Q(**{cls.producer_path: scope.organization_id})
        if scope.kind == "collector":
            if cls.collector_path:
                q |= Q(**{cls.collector_path: scope.organization_id})
            if cls.producer_path:
                q |= Q(**{f"{cls.producer_path}__in": scope.client_ids()})
        if scope.kind == "facility" and cls.facility_path:
            q |= Q(**{cls.facility_path: scope.organization_id})
        if scope.kind == "carrier" and cls.carrier_path:
            q |= Q(**{cls.carrier_path: scope.organization_id})
        return q
