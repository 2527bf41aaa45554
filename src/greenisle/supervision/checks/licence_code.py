"""A manifest received with a waste code that no licence of the receiver in force that day covers.

The signature check (``manifests.validation``) refuses such a manifest before it leaves, but a licence
can lapse or be narrowed between signature and receipt, and a paper manifest is entered afterwards.
Looked at: manifests received in the last ``lookback_days``, lines accepted in full or in part (a line
the receiver rejected was not taken in). Codes are compared by their catalogue code, so a licence
keeps covering a code across catalogue editions. One finding per manifest, on the receiver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from django.db.models import Exists, OuterRef
from django.db.models.functions import TruncDate

from greenisle.manifests.choices import LineDecision, ManifestStatus
from greenisle.manifests.models import Manifest, ManifestLine
from greenisle.manifests.validation import RECEIVING_LICENCES
from greenisle.organizations.models import Licence
from greenisle.supervision.checks.base import already_raised, iso, raise_on
from greenisle.supervision.rules import LICENCE_MEASURES, OWNER_ORGANIZATION, SOLID_WASTE_LAW, RuleInfo

RULE: Final = RuleInfo(
    code="licence.code_not_covered",
    title_zh="接收超出经营许可证范围的危险废物",
    title_en="Waste received outside the receiver's licence",
    regulation=(
        f"{SOLID_WASTE_LAW}第八十条第二款（禁止未按照许可证规定从事危险废物经营活动）；"
        f"{LICENCE_MEASURES}第十五条第一款（禁止不按照经营许可证规定从事收集、贮存、处置经营活动）"
    ),
    severity="A",
    owner=OWNER_ORGANIZATION,
    deadline_working_days=10,
)

DEFAULTS: Final[dict[str, Any]] = {"lookback_days": 30}

RECEIVED = (ManifestStatus.RECEIVED, ManifestStatus.TREATED)


def run(*, now: dt.datetime, params: Mapping[str, Any]) -> dict[str, int]:
    received = Manifest.objects.filter(
        status__in=RECEIVED, received_at__gte=now - dt.timedelta(days=params["lookback_days"])
    )
    covers = Licence.waste_codes.through.objects.filter(
        licence__organization=OuterRef("manifest__receiver"),
        licence__licence_type__in=RECEIVING_LICENCES,
        licence__valid_from__lte=OuterRef("received_on"),
        licence__valid_to__gte=OuterRef("received_on"),
        wastecode__code=OuterRef("waste_code__code"),
    )
    outside = (
        ManifestLine.objects.filter(manifest__in=received)
        .exclude(decision=LineDecision.REJECTED)
        .annotate(received_on=TruncDate("manifest__received_at"))
        .filter(~Exists(covers))
        .select_related("manifest__receiver", "waste_code")
        .order_by("manifest__received_at", "manifest_id", "pk")
    )
    by_manifest: dict[Any, list[ManifestLine]] = {}
    for line in outside:
        by_manifest.setdefault(line.manifest_id, []).append(line)
    done = already_raised(RULE.code, Manifest, by_manifest)
    raised = 0
    for manifest_id, lines in by_manifest.items():
        if str(manifest_id) in done:
            continue
        manifest = lines[0].manifest
        receiver = manifest.receiver
        codes = sorted({line.waste_code.code for line in lines})
        in_force = list(
            Licence.objects.filter(
                organization=receiver,
                licence_type__in=RECEIVING_LICENCES,
                valid_from__lte=lines[0].received_on,
                valid_to__gte=lines[0].received_on,
            ).values_list("number", flat=True)
        )
        raised += raise_on(
            RULE,
            organization=receiver,
            division_code=receiver.division_id,
            obj=manifest,
            message=(
                f"联单 {manifest.number} 接收的 {'、'.join(codes)} 不在 {receiver.name} 当日有效的经营许可证范围内 / "
                f"manifest {manifest.number}: {', '.join(codes)} received outside the licences {receiver.name} "
                "held that day"
            ),
            evidence={
                "manifest_id": str(manifest.pk),
                "manifest_number": manifest.number,
                "received_at": iso(manifest.received_at),
                "licences_in_force": in_force,
                "lines": [
                    {
                        "line_id": line.pk,
                        "container_code": line.container_code,
                        "waste_code": line.waste_code.code,
                        "decision": line.decision,
                        "accepted_weight_kg": str(line.accepted_weight_kg),
                    }
                    for line in lines
                ],
            },
            now=now,
        )
    return {"checked": received.count(), "breaches": len(by_manifest), "raised": raised}
