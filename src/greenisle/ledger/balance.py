"""Mass balance of a unit per waste code (HJ 1259-2022 §6: the ledger accounts for every container).

What came in is set against what the unit holds, what left it on manifests and what it used or
disposed of itself. Each figure comes from other records than the one it is set against, so a gap
means the records disagree (a ledger entry no container or manifest backs, a container that vanished):

- a producer: came in = its production records (ledger); stored = its labelled containers not on a
  signed manifest (containers); transferred = its signed manifests' lines (the accepted weight once
  the receiver has confirmed, the declared weight before); own = its own use/disposal (ledger).
- a collector or facility: came in = what it accepted on the manifests it received (manifests);
  stored = its ledger inventory (:func:`greenisle.ledger.storage.inventory`), less the containers on
  its own onward manifests still under way; transferred = its onward manifests' lines (manifests);
  own = its own use/disposal records (ledger).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from greenisle.ledger import core
from greenisle.ledger.models import LedgerRecord
from greenisle.ledger.storage import inventory
from greenisle.manifests.choices import ManifestKind, ManifestStatus
from greenisle.manifests.models import Container, Manifest, ManifestLine
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Organization
from greenisle.supervision.models import Severity
from greenisle.supervision.services import finding_raise

RULE_MASS_BALANCE = "ledger.mass_balance"

RECEIVED = (ManifestStatus.RECEIVED, ManifestStatus.TREATED)
# Signed by the producer and not yet confirmed by the receiver: the declared weight has left.
UNDER_WAY = (ManifestStatus.PRODUCER_SIGNED, ManifestStatus.IN_TRANSIT, ManifestStatus.DELIVERED)
NOT_SIGNED = (ManifestStatus.DRAFT, ManifestStatus.CANCELLED)
RECEIVING_KINDS = (OrganizationKind.COLLECTOR, OrganizationKind.FACILITY)
BALANCED_KINDS = (OrganizationKind.PRODUCER, *RECEIVING_KINDS)

ZERO = Decimal("0.00")
KG = DecimalField(max_digits=14, decimal_places=2)


def _by_code(rows: Iterable[dict[str, Any]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        if row["kg"] is not None:
            totals[row["waste"]] += Decimal(row["kg"]).quantize(Decimal("0.01"))
    return totals


def _ledger_sum(organization: Any, types: Iterable[str]) -> dict[str, Decimal]:
    """Σ weight of the unit's records of ``types`` per waste code, reversing entries included."""
    return _by_code(
        LedgerRecord.objects.filter(organization=organization, record_type__in=list(types))
        .values(waste=F("waste_code__code"))
        .annotate(kg=Sum("weight_kg"))
        .order_by()
    )


def _shipped_weight() -> Case:
    # The receiver's accepted weight once it has confirmed receipt (办法 Art. 18), the declared weight
    # while the manifest is under way.
    return Case(
        When(manifest__status__in=RECEIVED, then=Coalesce(F("accepted_weight_kg"), Value(ZERO))),
        default=F("weight_kg"),
        output_field=KG,
    )


def _transferred(lines: QuerySet[ManifestLine]) -> dict[str, Decimal]:
    return _by_code(
        lines.exclude(manifest__status__in=NOT_SIGNED)
        .values(waste=F("waste_code__code"))
        .annotate(kg=Sum(_shipped_weight()))
        .order_by()
    )


def _balances(
    came_in: dict[str, Decimal],
    stored: dict[str, Decimal],
    transferred: dict[str, Decimal],
    own: dict[str, Decimal],
) -> list[core.Balance]:
    codes = sorted(set(came_in) | set(stored) | set(transferred) | set(own))
    balances = [
        core.Balance(
            waste_code=code,
            came_in_kg=came_in.get(code, ZERO),
            stored_kg=stored.get(code, ZERO),
            transferred_kg=transferred.get(code, ZERO),
            own_kg=own.get(code, ZERO),
        )
        for code in codes
    ]
    return [b for b in balances if any((b.came_in_kg, b.stored_kg, b.transferred_kg, b.own_kg, b.gap_kg))]


def producer_balance(organization: Any) -> list[core.Balance]:
    came_in = _ledger_sum(organization, [core.PRODUCTION])
    # A container on a signed manifest has left (it counts as transferred); on a draft or cancelled
    # manifest it is still at the producer's.
    signed_lines = ManifestLine.objects.filter(container=OuterRef("pk")).exclude(
        manifest__status__in=NOT_SIGNED
    )
    stored = _by_code(
        Container.objects.filter(producer=organization)
        .exclude(Exists(signed_lines))
        .values(waste=F("waste_code__code"))
        .annotate(kg=Sum("weight_kg"))
        .order_by()
    )
    transferred = _transferred(ManifestLine.objects.filter(manifest__producer=organization))
    own = _ledger_sum(organization, core.OWN_TYPES)
    return _balances(came_in, stored, transferred, own)


def receiver_balance(organization: Any) -> list[core.Balance]:
    came_in = _by_code(
        ManifestLine.objects.filter(manifest__receiver=organization, manifest__status__in=RECEIVED)
        .values(waste=F("waste_code__code"))
        .annotate(kg=Sum("accepted_weight_kg"))
        .order_by()
    )
    onward = ManifestLine.objects.filter(manifest__producer=organization, manifest__kind=ManifestKind.ONWARD)
    # A container on an onward manifest under way still sits in the unit's ledger stock (its
    # outsourced record is written when the facility receives it) but is counted as transferred.
    leaving = set(
        onward.filter(manifest__status__in=UNDER_WAY).values_list("container_code", "waste_code__code")
    )
    stored: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for item in inventory(organization):
        if (item.container_code, item.waste_code) not in leaving:
            stored[item.waste_code] += item.weight_kg
    transferred = _transferred(onward)
    own = _ledger_sum(organization, core.OWN_TYPES)
    return _balances(came_in, stored, transferred, own)


def mass_balance(organization: Any) -> list[core.Balance]:
    """The unit's balance per waste code: a producer's, or a collector's/facility's as a receiver."""
    if organization.kind == OrganizationKind.PRODUCER:
        return producer_balance(organization)
    if organization.kind in RECEIVING_KINDS:
        return receiver_balance(organization)
    return []


def units_to_balance() -> QuerySet[Organization]:
    """Producers, collectors and facilities with a ledger or a manifest."""
    return (
        Organization.objects.filter(kind__in=BALANCED_KINDS)
        .filter(
            Q(Exists(LedgerRecord.objects.filter(organization=OuterRef("pk"))))
            | Q(Exists(Manifest.objects.filter(producer=OuterRef("pk"))))
            | Q(Exists(Manifest.objects.filter(receiver=OuterRef("pk"))))
        )
        .order_by("name", "pk")
    )


def mass_balance_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Raise a finding on each unit whose balance is off beyond the tolerance (both
    ``MASS_BALANCE_TOLERANCE_PCT`` % of what came in and ``MASS_BALANCE_TOLERANCE_KG``) for some
    waste code. Once per unit while the finding is open; each unit in its own transaction."""
    at = now or timezone.now()
    pct = Decimal(str(settings.GREENISLE.get("MASS_BALANCE_TOLERANCE_PCT", 5)))
    kg = Decimal(str(settings.GREENISLE.get("MASS_BALANCE_TOLERANCE_KG", 1)))
    counts = {"units": 0, "off_balance": 0, "findings": 0}
    for organization in units_to_balance().iterator():
        counts["units"] += 1
        off = [b for b in mass_balance(organization) if b.beyond(pct=pct, kg=kg)]
        if not off:
            continue
        counts["off_balance"] += 1
        codes = ", ".join(f"{b.waste_code} {b.gap_kg:+} kg" for b in off)
        message = (
            f"台账、容器与联单的物料不平衡：{codes} / the ledger, containers and manifests do not balance: "
            f"{codes} (HJ 1259-2022)"
        )
        with transaction.atomic():
            raised = finding_raise(
                rule=RULE_MASS_BALANCE,
                severity=str(Severity.B),
                organization=organization,
                division_code=organization.division_id,
                obj=organization,
                message=message[:500],
                evidence={
                    "checked_at": at.isoformat(),
                    "tolerance": {"pct": str(pct), "kg": str(kg)},
                    "balances": [b.as_dict() for b in off],
                },
            )
        counts["findings"] += raised is not None
    return counts
