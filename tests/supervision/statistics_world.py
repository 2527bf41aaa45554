"""A small hand-built world for the statistics, with every figure worked out by hand (see the test
module for the arithmetic). All of it happens in 2025 (a past year, so "today" does not move it), in
two districts of Nantong: 崇川区 320602 and 通州区 320612.

Producers: P1 and P2 in 崇川, P3 and P4 in 通州 (P4 never served). Collectors: C (通州, warehouse W)
and C2 (如皋). Facility F (如东).

Manifests (received = confirmed by the receiver, 办法 Art. 18; due = 5 working days after delivery):

| name | from → to | kind | state | delivered | due | received (local) | lines: code declared/received/accepted |
| --- | --- | --- | --- | --- | --- | --- | --- |
| M1 | P1 → C | collection | received | 03-03 | 03-10 | 03-10 10:00 | HW08 100/100/100; HW49 20/19.5/19.5 |
| M2 | P1 → C | collection | received | 03-25 | 04-01 | 04-02 09:00 | HW08 50/48/40 (partly accepted) |
| M3 | P2 → C | collection | treated | 04-18 | 04-25 | 04-20 11:00 | HW12 30/30/30; HW08 10/10/0 (rejected) |
| M4 | P3 → C2 | collection | received | 04-01 | 04-09 | 04-05 15:00 | HW08 200/200/200 |
| M5 | P1 → C | collection | received | 2024-12-24 | 12-31 | 2024-12-31 23:30 | HW08 999 (outside) |
| M6 | P1 → C | collection | received | 2024-12-30 | 01-07 | 2025-01-01 00:30 | HW08 5/5/5 |
| M7 | C(W) → F | onward | received | 05-08 | 05-15 | 05-15 16:00 | HW08 120/120/120 |
| M8 | P2 → C | collection | delivered | 06-03 | 06-10 | — | HW08 15 |
| M9 | P1 → C | collection | cancelled | — | — | — | HW08 8 |
| M10 | P3 → C2 | collection | draft | — | — | — | HW08 12 |

Plans in force for 2025: S1 (P1) HW08 + HW49; S2 (P2) HW08 + HW12; S4 (P4) HW08. Not counted: P4's
draft plan with HW49, and S1's 2024 plan with HW12.

Bins (newest reading, threshold): at S1 B1 10 %, B2 20 %; at S2 B3 79.99 % (holds HW12 only),
B4 80 % (threshold 80), B5 85 % (threshold 90), B6 no reading, B7 95 % but disabled; at S3 (C2's)
B8 95 % (threshold 90), B9 70 % (threshold 60).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone
from factories import (
    BinFactory,
    CollectorFactory,
    FacilityFactory,
    ManifestFactory,
    ManifestLineFactory,
    ProducerFactory,
    ServiceContractFactory,
    SiteFactory,
    division,
    waste_code,
)

from greenisle.core.workdays import add_working_days
from greenisle.manifests.choices import LineDecision, ManifestKind, ManifestStatus
from greenisle.manifests.models import Manifest
from greenisle.manifests.receipt_totals import receipt_totals_refresh
from greenisle.organizations.models import Organization, Site
from greenisle.plans.models import ManagementPlan, PlanStatus, PlanWaste
from greenisle.telemetry.models import BinState

HW08, HW49, HW12 = "900-214-08", "900-041-49", "900-252-12"
YEAR = {"date_from": "2025-01-01", "date_to": "2025-12-31"}


def local(text: str) -> dt.datetime:
    """A Beijing-time moment, ``2025-03-10 10:00``."""
    return timezone.make_aware(dt.datetime.fromisoformat(text), timezone.get_default_timezone())


@dataclass
class StatsWorld:
    p1: Organization
    p2: Organization
    p3: Organization
    p4: Organization
    c: Organization
    c2: Organization
    f: Organization
    s1: Site
    s2: Site
    s3: Site
    s4: Site
    warehouse: Site
    manifests: dict[str, Manifest]


def _manifest(
    name: str,
    site: Site,
    receiver: Organization,
    *,
    status: str,
    lines: list[tuple[str, str, str | None, str | None, str]],
    delivered: str | None = None,
    received: str | None = None,
    created: str = "2025-06-01 08:00",
    kind: str = ManifestKind.COLLECTION,
) -> Manifest:
    delivered_at = local(delivered) if delivered else None
    manifest = ManifestFactory(
        producer_site=site,
        producer=site.organization,
        carrier=receiver if kind == ManifestKind.COLLECTION else site.organization,
        receiver=receiver,
        kind=kind,
        status=status,
        delivered_at=delivered_at,
        receipt_due_on=add_working_days(timezone.localtime(delivered_at).date(), 5) if delivered_at else None,
        received_at=local(received) if received else None,
        treated_at=local(received) + dt.timedelta(days=1)
        if status == ManifestStatus.TREATED and received
        else None,
    )
    for index, (code, declared, got, accepted, decision) in enumerate(lines):
        ManifestLineFactory(
            manifest=manifest,
            container_code=f"{name}-{index}",
            waste_code=waste_code(code),
            weight_kg=Decimal(declared),
            received_weight_kg=Decimal(got) if got is not None else None,
            accepted_weight_kg=Decimal(accepted) if accepted is not None else None,
            decision=decision,
        )
    # created_at is stamped on insert; the statistics read it for "manifests made in the period".
    Manifest.objects.filter(pk=manifest.pk).update(created_at=local(created))
    # Written straight to the tables, as the receipt would have left them: its totals too.
    receipt_totals_refresh([manifest.pk])
    return manifest


def _plan(site: Site, year: int, codes: list[str], status: str = PlanStatus.FILED, revision: int = 0) -> None:
    plan = ManagementPlan.objects.create(site=site, year=year, status=status, revision=revision)
    for code in codes:
        PlanWaste.objects.create(plan=plan, waste_code=waste_code(code), annual_t=Decimal("1"))


def _bin(site: Site, collector: Organization, fill: str | None, threshold: str = "80", **kwargs: Any) -> Any:
    b = BinFactory(site=site, collector=collector, threshold_pct=Decimal(threshold), **kwargs)
    if fill is not None:
        BinState.objects.create(device=b, fill_pct=Decimal(fill), observed_at=timezone.now())
    return b


def build() -> StatsWorld:
    chongchuan, tongzhou = division("320602"), division("320612")
    p1 = ProducerFactory(name="崇川甲汽修", division=chongchuan)
    p2 = ProducerFactory(name="崇川乙家具", division=chongchuan)
    p3 = ProducerFactory(name="通州丙机械", division=tongzhou)
    p4 = ProducerFactory(name="通州丁实验室", division=tongzhou)
    c = CollectorFactory(name="绿岛收集C", division=tongzhou)
    c2 = CollectorFactory(name="如皋收集C2", division=division("320682"))
    f = FacilityFactory(name="如东处置F")
    s1, s2, s3, s4 = (SiteFactory(organization=p) for p in (p1, p2, p3, p4))
    warehouse = SiteFactory(organization=c, name="通州仓库W")
    SiteFactory(organization=f, name="如东焚烧厂")

    ServiceContractFactory(collector=c, producer=p1, valid_from=dt.date(2025, 1, 1))
    ServiceContractFactory(
        collector=c, producer=p2, valid_from=dt.date(2024, 1, 1), valid_to=dt.date(2024, 12, 31)
    )
    ServiceContractFactory(collector=c2, producer=p3, valid_from=dt.date(2025, 3, 1))

    acc, part, rej = LineDecision.ACCEPTED, LineDecision.PARTLY_ACCEPTED, LineDecision.REJECTED
    received, treated = ManifestStatus.RECEIVED, ManifestStatus.TREATED
    m: dict[str, Manifest] = {}
    m["M1"] = _manifest(
        "M1", s1, c, status=received, delivered="2025-03-03 09:00", received="2025-03-10 10:00",
        created="2025-03-03 08:00",
        lines=[(HW08, "100", "100", "100", acc), (HW49, "20", "19.5", "19.5", acc)],
    )  # fmt: skip
    m["M2"] = _manifest(
        "M2", s1, c, status=received, delivered="2025-03-25 09:00", received="2025-04-02 09:00",
        created="2025-03-25 08:00", lines=[(HW08, "50", "48", "40", part)],
    )  # fmt: skip
    m["M3"] = _manifest(
        "M3", s2, c, status=treated, delivered="2025-04-18 09:00", received="2025-04-20 11:00",
        created="2025-04-18 08:00",
        lines=[(HW12, "30", "30", "30", acc), (HW08, "10", "10", "0", rej)],
    )  # fmt: skip
    m["M4"] = _manifest(
        "M4", s3, c2, status=received, delivered="2025-04-01 09:00", received="2025-04-05 15:00",
        created="2025-04-01 08:00", lines=[(HW08, "200", "200", "200", acc)],
    )  # fmt: skip
    m["M5"] = _manifest(
        "M5", s1, c, status=received, delivered="2024-12-24 09:00", received="2024-12-31 23:30",
        created="2024-12-24 08:00", lines=[(HW08, "999", "999", "999", acc)],
    )  # fmt: skip
    m["M6"] = _manifest(
        "M6", s1, c, status=received, delivered="2024-12-30 09:00", received="2025-01-01 00:30",
        created="2024-12-30 08:00", lines=[(HW08, "5", "5", "5", acc)],
    )  # fmt: skip
    m["M7"] = _manifest(
        "M7", warehouse, f, kind=ManifestKind.ONWARD, status=received, delivered="2025-05-08 09:00",
        received="2025-05-15 16:00", created="2025-05-07 08:00", lines=[(HW08, "120", "120", "120", acc)],
    )  # fmt: skip
    m["M8"] = _manifest(
        "M8", s2, c, status=ManifestStatus.DELIVERED, delivered="2025-06-03 09:00", created="2025-06-03 08:00",
        lines=[(HW08, "15", None, None, "")],
    )  # fmt: skip
    m["M9"] = _manifest(
        "M9", s1, c, status=ManifestStatus.CANCELLED, created="2025-07-01 08:00", lines=[(HW08, "8", None, None, "")]
    )  # fmt: skip
    m["M10"] = _manifest(
        "M10", s3, c2, status=ManifestStatus.DRAFT, created="2025-08-01 08:00", lines=[(HW08, "12", None, None, "")]
    )  # fmt: skip

    _plan(s1, 2025, [HW08, HW49])
    _plan(s2, 2025, [HW08, HW12], status=PlanStatus.APPROVED)
    _plan(s4, 2025, [HW08])
    _plan(s4, 2025, [HW49], status=PlanStatus.DRAFT, revision=1)
    _plan(s1, 2024, [HW12])

    _bin(s1, c, "10")
    _bin(s1, c, "20")
    _bin(s2, c, "79.99", waste_codes=(HW12,))
    _bin(s2, c, "80", threshold="80")
    _bin(s2, c, "85", threshold="90")
    _bin(s2, c, None)
    _bin(s2, c, "95", enabled=False)
    _bin(s3, c2, "95", threshold="90")
    _bin(s3, c2, "70", threshold="60")
    return StatsWorld(p1, p2, p3, p4, c, c2, f, s1, s2, s3, s4, warehouse, m)
