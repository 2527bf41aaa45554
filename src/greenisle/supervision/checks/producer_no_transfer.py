"""A producer that makes hazardous waste but has transferred none for ``months`` months.

"Makes waste" is what its own records say: a management plan in force for this year or last year that
expects some waste it will transfer (HJ 1259 Table A.3 with A.7), or production records in its ledger
within the last ``history_months`` beyond what it recorded using or disposing of itself. A producer
that treats its own waste (A.5: a plan row expecting no transfer, own utilisation or disposal in the
ledger, 固废法 Art. 79 allows it with its facilities) is not asked to transfer it. "Transferred" is a manifest it signed (or a paper one whose transfer ended) within
the last ``months``; a cancelled manifest is not a transfer. A producer registered on the platform for
less than ``months`` is not judged yet. Waste that is made and never handed over is stored beyond
reason or disposed of illegally: the bureau inspects (the owner is the bureau of its division). Once
raised, the producer is raised on again only ``months`` after the previous finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from django.db.models import DecimalField, Exists, F, Max, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Organization
from greenisle.plans.models import IN_FORCE, PlanWaste
from greenisle.supervision.checks.base import (
    already_raised,
    iso,
    local_day,
    local_midnight,
    months_before,
    raise_on,
)
from greenisle.supervision.rules import HJ_1259, OWNER_REGULATOR, SOLID_WASTE_LAW, RuleInfo

RULE: Final = RuleInfo(
    code="producer.no_transfer",
    title_zh="产废单位长期无危险废物转移记录（疑似非法处置）",
    title_en="Producer made no transfer for months (possible illegal disposal)",
    regulation=(
        f"{SOLID_WASTE_LAW}第七十九条（不得擅自倾倒、堆放危险废物）、第八十二条第一款（转移危险废物应当运行转移联单）；"
        f"{HJ_1259}第5章（管理计划中的产生与转移）"
    ),
    severity="B",
    owner=OWNER_REGULATOR,
    deadline_working_days=15,
)

DEFAULTS: Final[dict[str, Any]] = {"months": 6, "history_months": 12}

TONNES = Decimal("0.001")
ZERO_KG = Value(Decimal("0.00"), output_field=DecimalField(max_digits=12, decimal_places=2))
KG = Decimal("0.01")


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    today = local_day(now)
    cutoff_day = months_before(today, params["months"])
    cutoff = local_midnight(cutoff_day)
    history_from = local_midnight(months_before(today, params["history_months"]))
    planned = PlanWaste.objects.filter(
        plan__site__organization=OuterRef("pk"),
        plan__status__in=IN_FORCE,
        plan__year__in=(today.year, today.year - 1),
        annual_t__gt=0,
    ).filter(Q(transfer_t__isnull=True) | Q(transfer_t__gt=0))

    def ledger_kg(*types: str) -> Subquery:
        rows = LedgerRecord.objects.filter(
            organization=OuterRef("pk"), record_type__in=types, occurred_at__gte=history_from
        )
        return Subquery(rows.values("organization").annotate(kg=Sum("weight_kg")).values("kg")[:1])

    transfers = Manifest.objects.filter(producer=OuterRef("pk")).exclude(status=ManifestStatus.CANCELLED)
    transferred = transfers.filter(
        Q(producer_signed_at__gte=cutoff)
        | Q(departed_at__gte=cutoff)
        | Q(paper_transfer_ended_on__gte=cutoff_day)
    )
    producers = Organization.objects.filter(kind=OrganizationKind.PRODUCER, created_at__lt=cutoff)
    generating = producers.annotate(
        produced_kg=Coalesce(ledger_kg(RecordType.PRODUCTION), ZERO_KG),
        own_kg=Coalesce(ledger_kg(RecordType.OWN_UTILISATION, RecordType.OWN_DISPOSAL), ZERO_KG),
    ).filter(Exists(planned) | Q(produced_kg__gt=F("own_kg")))
    silent = generating.exclude(Exists(transferred)).annotate(
        last_transfer=Subquery(
            transfers.filter(producer_signed_at__isnull=False)
            .order_by("-producer_signed_at")
            .values("producer_signed_at")[:1]
        )
    )
    rows = list(silent.order_by("name", "pk"))
    planned_t = dict(
        PlanWaste.objects.filter(
            plan__site__organization__in=silent.values("pk"),
            plan__status__in=IN_FORCE,
            plan__year__in=(today.year, today.year - 1),
        )
        .values("plan__site__organization_id")
        .annotate(t=Sum("annual_t"))
        .order_by()
        .values_list("plan__site__organization_id", "t")
    )
    production = {
        row["organization_id"]: row
        for row in LedgerRecord.objects.filter(
            organization__in=silent.values("pk"),
            record_type=RecordType.PRODUCTION,
            occurred_at__gte=history_from,
        )
        .values("organization_id")
        .annotate(kg=Sum("weight_kg"), last=Max("occurred_at"))
        .order_by()
    }
    done = already_raised(RULE.code, Organization, (org.pk for org in rows), since=cutoff)
    raised = 0
    for org in rows:
        if str(org.pk) in done:
            continue
        made = production.get(org.pk)
        last = org.last_transfer
        since = f"{last:%Y-%m-%d}" if last else "注册以来 / ever"
        raised += raise_on(
            RULE,
            organization=org,
            division_code=org.division_id,
            obj=org,
            message=(
                f"{org.name} 有危险废物产生记录，但 {params['months']} 个月内没有转移联单（最近一次：{since}）/ "
                f"{org.name} makes hazardous waste but transferred none in {params['months']} months "
                f"(last: {since})"
            ),
            evidence={
                "producer_id": str(org.pk),
                "months": params["months"],
                "no_transfer_since": cutoff_day.isoformat(),
                "last_transfer_at": iso(last),
                "planned_t_per_year": str(Decimal(planned_t[org.pk]).quantize(TONNES))
                if org.pk in planned_t
                else None,
                "produced_kg": str(Decimal(made["kg"] or 0).quantize(KG)) if made else None,
                "last_production_at": iso(made["last"]) if made else None,
                "history_months": params["history_months"],
            },
            now=now,
        )
    return {"checked": producers.count(), "breaches": len(rows), "raised": raised}
