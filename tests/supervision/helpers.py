"""Raising a finding the way the sweeps do."""

from __future__ import annotations

from typing import Any

from greenisle.organizations.models import Organization
from greenisle.supervision.models import Finding
from greenisle.supervision.services import finding_raise

RULE = "ledger.mass_balance"


def raise_on(
    organization: Organization, obj: Any = None, *, rule: str = RULE, **kwargs: Any
) -> Finding | None:
    return finding_raise(
        rule=rule,
        organization=organization,
        division_code=organization.division_id,
        obj=obj if obj is not None else organization,
        message="台账、容器与联单的物料不平衡 / the ledger, containers and manifests do not balance",
        **{"evidence": {"balances": [{"waste_code": "900-214-08", "gap_kg": "-12.00"}]}, **kwargs},
    )
