"""What a new management plan starts from (HJ 1259-2022 §5.4–5.5): Table A.1 from the registry,
A.3/A.7 from last year's ledger."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from greenisle.catalog.models import WasteCode
from greenisle.ledger import core as ledger_core
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.organizations.models import ServiceContract

# GB/T 4754-2017 codes of the industries small producers are in (A.1 行业代码); others are typed in.
INDUSTRY_CODES: dict[str, str] = {
    "汽车修理": "8111",
    "汽车修理与维护": "8111",
    "机动车维修": "8111",
    "家具制造": "C21",
    "木质家具制造": "2110",
    "金属家具制造": "2130",
    "机械加工": "C34",
    "通用设备制造": "C34",
    "专用设备制造": "C35",
    "实验室": "M73",
    "研究和试验发展": "M73",
    "印刷": "2319",
    "医疗机构": "Q84",
}


def basic_from_registry(site: Any) -> dict[str, str]:
    """Table A.1 from what the platform knows; the rest the producer types in."""
    org = site.organization
    industry = (org.industry or "").strip()
    return {
        "name": org.name,
        "registered_address": org.address or site.address,
        "site_address": site.address,
        "division": f"{site.division_id} {site.division.name}",
        "industry": industry,
        "industry_code": INDUSTRY_CODES.get(industry, ""),
        "longitude": str(site.longitude),
        "latitude": str(site.latitude),
        "uscc": org.uscc,
        "legal_representative": org.legal_representative,
        "phone": org.contact_phone,
        "technical_lead": org.contact_name,
        "technical_lead_phone": org.contact_phone,
        "eia_reference": site.eia_reference,
        "permit_reference": site.permit_reference,
    }


def wastes_from_history(site: Any, year: int) -> list[dict[str, Any]]:
    """A.3/A.7 rows from last year's ledger: what was generated and handed over, to whom and how.
    Codes the site's bins hold but the ledger never saw get a row with nothing expected yet."""
    from greenisle.manifests.models import Container

    start = timezone.make_aware(dt.datetime(year - 1, 1, 1))
    end = timezone.make_aware(dt.datetime(year, 1, 1))
    records = LedgerRecord.objects.filter(
        site=site, organization_id=site.organization_id, occurred_at__gte=start, occurred_at__lt=end
    )
    generated = {
        r["waste_code__code"]: r["kg"]
        for r in records.filter(record_type=RecordType.PRODUCTION)
        .values("waste_code__code")
        .annotate(kg=Sum("weight_kg"))
    }
    transferred: dict[str, Decimal] = defaultdict(Decimal)
    receivers: dict[str, set[Any]] = defaultdict(set)
    methods: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records.filter(record_type__in=list(ledger_core.OUTSOURCED_TYPES)).values(
        "waste_code__code", "weight_kg", "counterparty_id", "method"
    ):
        transferred[r["waste_code__code"]] += r["weight_kg"]
        if r["counterparty_id"]:
            receivers[r["waste_code__code"]].add(r["counterparty_id"])
        if r["method"]:
            methods[r["waste_code__code"]][r["method"]] += 1
    contract = ServiceContract.objects.active().filter(producer_id=site.organization_id).first()
    codes = set(generated) | set(transferred)
    codes |= set(WasteCode.objects.filter(bins__site=site).values_list("code", flat=True))
    rows = []
    for code in sorted(codes):
        form = (
            Container.objects.filter(site=site, waste_code__code=code)
            .order_by("-created_at")
            .values_list("form", flat=True)
            .first()
            or ""
        )
        rows.append(
            {
                "waste_code": code,
                "annual_t": ledger_core.tonnes(generated.get(code, Decimal(0))),
                "transfer_t": ledger_core.tonnes(transferred.get(code, Decimal(0))),
                "form": form,
                "method": methods[code].most_common(1)[0][0] if methods[code] else ("C1" if contract else ""),
                "receivers": sorted(str(r) for r in receivers[code])
                or ([str(contract.collector_id)] if contract else []),
            }
        )
    return rows
