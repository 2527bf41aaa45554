"""A manifest whose weight at receipt differs from the declared weight beyond the tolerance.

At receipt the receiver weighs each line (办法 Art. 18); a line whose received weight differs from the
manifest's by more than ``tolerance_pct`` % of the declared weight is a quantity discrepancy. Waste
that weighs less on arrival than at loading may have left the chain on the way, more may be waste
added without a manifest: the bureau looks into it (the owner is the bureau of the producer's
division). ``tolerance_pct`` null means the receipt tolerance ``RECEIPT_WEIGHT_TOLERANCE_PCT``, the
one the receiver's form applies. Manifests received in the last ``lookback_days``; one finding per
manifest, listing every line beyond the tolerance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from django.conf import settings
from django.db.models import DecimalField, ExpressionWrapper, F
from django.db.models.functions import Abs

from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.models import Manifest, ManifestLine
from greenisle.supervision.checks.base import already_raised, iso, raise_on
from greenisle.supervision.rules import OWNER_REGULATOR, TRANSFER_MEASURES, RuleInfo

RULE: Final = RuleInfo(
    code="manifest.weight_discrepancy",
    title_zh="接收重量与联单申报重量差异超出允许范围",
    title_en="Weight at receipt differs from the manifest beyond the tolerance",
    regulation=(
        f"{TRANSFER_MEASURES}第十八条：接受人核实验收，危险废物的数量与联单填写内容不符的，如实记录差异并告知移出人"
    ),
    severity="B",
    owner=OWNER_REGULATOR,
    deadline_working_days=10,
)

DEFAULTS: Final[dict[str, Any]] = {"tolerance_pct": None, "lookback_days": 30}

RECEIVED = (ManifestStatus.RECEIVED, ManifestStatus.TREATED)
KG = DecimalField(max_digits=12, decimal_places=4)


def tolerance_pct(params: Mapping[str, Any]) -> Decimal:
    value = params["tolerance_pct"]
    if value is None:
        value = settings.GREENISLE["RECEIPT_WEIGHT_TOLERANCE_PCT"]
    return Decimal(str(value))


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    pct = tolerance_pct(params)
    received = Manifest.objects.filter(
        status__in=RECEIVED, received_at__gte=now - dt.timedelta(days=params["lookback_days"])
    )
    beyond = (
        ManifestLine.objects.filter(manifest__in=received, received_weight_kg__isnull=False)
        .annotate(
            gap_kg=ExpressionWrapper(Abs(F("received_weight_kg") - F("weight_kg")), output_field=KG),
            allowed_kg=ExpressionWrapper(F("weight_kg") * (pct / 100), output_field=KG),
        )
        .filter(gap_kg__gt=F("allowed_kg"))
        .select_related("manifest__producer", "manifest__producer_site", "waste_code")
        .order_by("manifest__received_at", "manifest_id", "pk")
    )
    by_manifest: dict[Any, list[ManifestLine]] = {}
    for line in beyond:
        by_manifest.setdefault(line.manifest_id, []).append(line)
    done = already_raised(RULE.code, Manifest, by_manifest)
    raised = 0
    for manifest_id, lines in by_manifest.items():
        if str(manifest_id) in done:
            continue
        manifest = lines[0].manifest
        declared = sum((line.weight_kg for line in lines), start=Decimal("0"))
        weighed = sum((line.received_weight_kg or Decimal("0") for line in lines), start=Decimal("0"))
        shown = "; ".join(
            f"{line.container_code} {line.weight_kg}→{line.received_weight_kg} kg" for line in lines
        )
        raised += raise_on(
            RULE,
            organization=manifest.producer,
            division_code=manifest.producer_site.division_id,
            obj=manifest,
            message=(
                f"联单 {manifest.number} 接收重量与申报重量差异超过 {pct}%：{shown} / manifest {manifest.number}: "
                f"weight at receipt differs from the declared weight by more than {pct} %: {shown}"
            ),
            evidence={
                "manifest_id": str(manifest.pk),
                "manifest_number": manifest.number,
                "received_at": iso(manifest.received_at),
                "receiver_id": str(manifest.receiver_id),
                "carrier_id": str(manifest.carrier_id),
                "tolerance_pct": str(pct),
                "declared_kg": str(declared),
                "received_kg": str(weighed),
                "lines": [
                    {
                        "line_id": line.pk,
                        "container_code": line.container_code,
                        "waste_code": line.waste_code.code,
                        "declared_kg": str(line.weight_kg),
                        "received_kg": str(line.received_weight_kg),
                        "gap_pct": str(
                            (
                                ((line.received_weight_kg or Decimal("0")) - line.weight_kg)
                                * 100
                                / line.weight_kg
                            ).quantize(Decimal("0.1"))
                        ),
                    }
                    for line in lines
                ],
            },
            now=now,
        )
    return {"checked": received.count(), "breaches": len(by_manifest), "raised": raised}
