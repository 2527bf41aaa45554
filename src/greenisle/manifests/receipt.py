"""At the receiver: weigh, check, decide per line (办法 Art. 18), record treatment, and the deadline
sweep that reminds receivers before the 5 working days run out and raises a finding after."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from greenisle.accounts.permissions import membership_of
from greenisle.audit.services import event_record, transition_apply
from greenisle.core.errors import ServiceError
from greenisle.core.workdays import add_working_days, working_days_between
from greenisle.ledger.events import record_received, record_treated
from greenisle.ledger.storage import zone_for
from greenisle.manifests.choices import Discrepancy, LineDecision, ManifestStatus, ReceiptOutcome
from greenisle.manifests.models import Manifest, ManifestLine
from greenisle.manifests.receipt_totals import receipt_totals_refresh
from greenisle.manifests.services import _events, _lock, _receiver_site, _weight, role_for, signature_time
from greenisle.manifests.transitions import MANIFEST_TRANSITIONS
from greenisle.notifications.services import notify
from greenisle.supervision.models import Severity
from greenisle.supervision.services import finding_raise

# Treatment and utilisation methods (危险废物利用处置方式代码) a receiver may record.
TREATMENT_METHODS: dict[str, str] = {
    **{
        f"R{n}": name
        for n, name in enumerate(
            [
                "作为燃料或以其他方式产生能量",
                "溶剂回收/再生",
                "再循环/再利用不用作溶剂的有机物",
                "再循环/再利用金属和金属化合物",
                "再循环/再利用其他无机物",
                "再生酸或碱",
                "回收污染减除剂的组分",
                "回收催化剂组分",
                "废油再提炼或其他废油的再利用",
                "生产建筑材料",
                "清洗包装容器",
                "水泥窑协同处置",
                "其他",
                "预处理后利用",
                "其他利用方式",
            ],
            start=1,
        )
    },
    "D1": "填埋",
    "D9": "物理化学处理",
    "D10": "焚烧",
    "D16": "其他处置方式",
    "D17": "预处理后处置",
    "C1": "收集贮存（转移至利用处置单位）",
}


def _tolerance_exceeded(declared: Decimal, received: Decimal) -> bool:
    limit = Decimal(str(settings.GREENISLE["RECEIPT_WEIGHT_TOLERANCE_PCT"])) / 100
    return abs(received - declared) > declared * limit


def label_mismatch(line: ManifestLine) -> bool:
    """GB 18597-2023 (and HJ 1276-2022 labels): the label is checked against the contents before
    storage-in. A labelled container whose label names another waste code than the manifest line."""
    return line.container_id is not None and line.container.waste_code_id != line.waste_code_id


def _line_receipt(line: ManifestLine, given: Any, field: str) -> dict[str, Any]:
    """Validate one line's receipt: received weight, discrepancies, decision, accepted weight."""
    if not isinstance(given, dict):
        given = {"received_weight_kg": given}
    received = _weight(given.get("received_weight_kg"), f"{field}.received_weight_kg")
    kinds = given.get("discrepancies") or []
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",") if k]
    valid = set(Discrepancy.values)
    unknown = [k for k in kinds if k not in valid]
    if unknown:
        raise ServiceError(
            f"未知差异类型 {unknown} / unknown discrepancy {unknown}; one of {sorted(valid)}",
            field=f"{field}.discrepancies",
        )
    found = list(dict.fromkeys(kinds))
    if _tolerance_exceeded(line.weight_kg, received) and Discrepancy.QUANTITY not in found:
        found.append(Discrepancy.QUANTITY)
    mismatch = label_mismatch(line)
    if mismatch and Discrepancy.NAME not in found:
        # 办法 Art. 18: a name/code difference is a typed discrepancy, whether or not the receiver names it.
        found.append(Discrepancy.NAME)
    decision = given.get("decision") or ""
    if not decision:
        if found:
            raise ServiceError(
                "有差异的容器须明确接收、部分接收或拒收 / a line with a discrepancy needs a decision",
                field=f"{field}.decision",
            )
        decision = LineDecision.ACCEPTED
    if decision not in LineDecision.values:
        raise ServiceError(
            f"结论须为 {LineDecision.values} / decision must be one of {LineDecision.values}",
            field=f"{field}.decision",
        )
    if decision == LineDecision.ACCEPTED and mismatch:
        # GB 18597-2023: what the label says is not what the manifest says; it is not stored as it
        # stands. The receiver rejects it or partly accepts it (and says why).
        raise ServiceError(
            f"容器 {line.container_code} 的标签代码 {line.container.waste_code.code} 与联单代码 {line.waste_code.code} "
            f"不符，不能全量接收，请拒收或部分接收 / the label of {line.container_code} says "
            f"{line.container.waste_code.code} but the manifest says {line.waste_code.code}: reject or partly "
            "accept it",
            field=f"{field}.decision",
            code="label_mismatch",
        )
    if decision == LineDecision.ACCEPTED:
        accepted = received
    elif decision == LineDecision.REJECTED:
        accepted = Decimal("0")
    else:
        accepted = _weight(given.get("accepted_weight_kg"), f"{field}.accepted_weight_kg")
        if accepted >= received:
            raise ServiceError(
                "部分接收的重量须小于实收重量 / a partly accepted weight is less than the weight received",
                field=f"{field}.accepted_weight_kg",
            )
    note = str(given.get("note") or "").strip()
    if len(note) > 300 or (note and not note.isprintable()):
        raise ServiceError("说明不超过300字 / note ≤ 300 printable characters", field=f"{field}.note")
    if decision != LineDecision.ACCEPTED and not note and not found:
        raise ServiceError(
            "拒收或部分接收须说明差异 / name the discrepancy or give a note when not accepting in full",
            field=f"{field}.discrepancies",
        )
    return {
        "received_weight_kg": received,
        "discrepancies": [str(k) for k in found],
        "decision": str(decision),
        "accepted_weight_kg": accepted,
        "discrepancy_note": note,
    }


def _outcome(decisions: list[str]) -> str:
    if all(d == LineDecision.ACCEPTED for d in decisions):
        return ReceiptOutcome.ACCEPTED
    if all(d == LineDecision.REJECTED for d in decisions):
        return ReceiptOutcome.REJECTED
    return ReceiptOutcome.PARTLY_ACCEPTED


@transaction.atomic
def manifest_receive(*, actor: Any, manifest_id: Any, lines: dict[str, Any]) -> Manifest:
    """办法 Art. 18: the receiver weighs each line, records typed discrepancies and accepts, partly
    accepts or rejects it. A weight beyond the tolerance is a quantity discrepancy whether or not
    the receiver names it. The producer is told of every discrepancy and refusal; the warehouse
    ledger gets a storage-in record per accepted container.

    ``lines`` maps each line id to ``{"received_weight_kg", "decision", "accepted_weight_kg",
    "discrepancies", "note"}`` (a bare weight means accepted without discrepancy); every line must
    be given.
    """
    manifest = _lock(manifest_id)
    membership = membership_of(actor)
    role = role_for(manifest, membership, ManifestStatus.RECEIVED)
    rows = list(manifest.lines.select_related("waste_code__category", "container__waste_code").order_by("id"))
    given = {str(k): v for k, v in (lines or {}).items()}
    receipts: dict[int, dict[str, Any]] = {}
    for line in rows:
        field = f"lines.{line.pk}"
        if str(line.pk) not in given:
            raise ServiceError(
                f"缺少容器 {line.container_code} 的接收记录 / receipt of {line.container_code} missing",
                field=field,
            )
        receipts[line.pk] = _line_receipt(line, given.pop(str(line.pk)), field)
    if given:
        raise ServiceError("包含不属于本联单的行 / lines not on this manifest", field="lines")
    site = manifest.receiver_site or _receiver_site(manifest.receiver)
    if site is None:
        raise ServiceError("接收单位没有贮存场所 / the receiver has no storage site", field="receiver_site")
    for line in rows:
        # GB 18597-2023; 固废法 Art. 81: incompatible wastes are stored apart. A site with zones puts
        # each accepted container in the zone for its group, or refuses the whole receipt (nothing is
        # written yet, and the transaction rolls back). ledger.events.record_received puts the zone in
        # the storage-in record's facility code.
        if receipts[line.pk]["accepted_weight_kg"] > 0:
            zone = zone_for(site, line.waste_code, field=f"lines.{line.pk}")
            if zone is not None:
                line.storage_zone_code = zone.code
    for line in rows:
        for name, value in receipts[line.pk].items():
            setattr(line, name, value)
        line.save(update_fields=[*receipts[line.pk], "updated_at"])
    outcome = _outcome([r["decision"] for r in receipts.values()])
    at = signature_time(manifest.delivered_at)
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.RECEIVED,
        role=role,
        actor=actor,
        organization=membership.organization,
        payload={
            "outcome": outcome,
            "lines": {
                str(k): {
                    "received_kg": str(r["received_weight_kg"]),
                    "accepted_kg": str(r["accepted_weight_kg"]),
                    "decision": r["decision"],
                    "discrepancies": r["discrepancies"],
                }
                for k, r in receipts.items()
            },
        },
        extra_fields={"received_at": at, "received_by": actor, "receipt_outcome": outcome},
        **_events(manifest),
    )
    record_received(manifest=manifest, lines=rows, at=at, actor=actor, receiver_site=site)
    # The statistics' flattened rows, in this transaction (ADR 15).
    receipt_totals_refresh([manifest.pk])
    flagged = [line for line in rows if line.discrepancies or line.decision != LineDecision.ACCEPTED]
    if flagged:
        summary = "; ".join(
            f"{line.container_code}: {line.get_decision_display()} {line.accepted_weight_kg}/{line.weight_kg} kg"
            + (f" ({', '.join(line.discrepancies)})" if line.discrepancies else "")
            for line in flagged
        )
        notify(
            organization=manifest.producer,
            kind="manifest.discrepancy",
            message=f"联单 {manifest.number} 接收有差异 / receipt differs from the manifest: {summary}",
            obj=manifest,
            key=f"manifest.discrepancy:{manifest.pk}:v{manifest.version}",
        )
    return manifest


@transaction.atomic
def manifest_record_treatment(*, actor: Any, manifest_id: Any, method: str, note: str = "") -> Manifest:
    """The receiver records how the accepted waste was used or disposed of."""
    method = (method or "").strip().upper()
    if method not in TREATMENT_METHODS:
        raise ServiceError(
            f"未知利用处置方式 {method!r} / unknown treatment method; one of {sorted(TREATMENT_METHODS)}",
            field="method",
        )
    note = (note or "").strip()
    if len(note) > 300:
        raise ServiceError("说明不超过300字 / note ≤ 300 characters", field="note")
    manifest = _lock(manifest_id)
    membership = membership_of(actor)
    role = role_for(manifest, membership, ManifestStatus.TREATED)
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.TREATED,
        role=role,
        actor=actor,
        organization=membership.organization,
        payload={"method": method},
        extra_fields={
            "treated_at": signature_time(manifest.received_at),
            "treatment_method": method,
            "treatment_note": note,
        },
        **_events(manifest),
    )
    record_treated(manifest=manifest, method=method, at=manifest.treated_at, actor=actor)
    return manifest


RULE_RECEIPT_OVERDUE = "manifest.receipt_overdue"


def manifest_deadlines_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """办法 Art. 18: remind the receiver of each delivered manifest when its confirmation is due
    within the reminder window, and raise a finding once the 5 working days have passed."""
    today = timezone.localtime(now or timezone.now()).date()
    window = settings.GREENISLE["RECEIPT_REMINDER_WORKING_DAYS"]
    reminded = overdue = 0
    waiting = Manifest.objects.filter(
        status=ManifestStatus.DELIVERED, receipt_due_on__isnull=False
    ).select_related("receiver", "producer", "producer_site")
    for manifest in waiting.iterator():
        due = manifest.receipt_due_on
        assert due is not None
        with transaction.atomic():
            if today > due:
                late = working_days_between(due, today)
                raised = finding_raise(
                    rule=RULE_RECEIPT_OVERDUE,
                    severity=Severity.B,
                    organization=manifest.receiver,
                    division_code=manifest.receiver.division_id,
                    obj=manifest,
                    message=(
                        f"联单 {manifest.number} 交付后未在5个工作日内确认接收（应于 {due} 前）/ receipt of "
                        f"manifest {manifest.number} not confirmed within 5 working days (due {due})"
                    ),
                    evidence={
                        "delivered_at": manifest.delivered_at.isoformat() if manifest.delivered_at else None,
                        "due_on": due.isoformat(),
                        "working_days_late": late,
                    },
                )
                overdue += raised is not None
            elif add_working_days(today, window) >= due:
                created = notify(
                    organization=manifest.receiver,
                    kind="manifest.receipt_due",
                    message=(
                        f"联单 {manifest.number} 须于 {due} 前确认接收 / confirm receipt of manifest "
                        f"{manifest.number} by {due}"
                    ),
                    obj=manifest,
                    key=f"manifest.receipt_due:{manifest.pk}",
                )
                if created:
                    reminded += 1
                    event_record(
                        action="manifests.manifest.receipt_reminded",
                        obj=manifest,
                        payload={"due_on": due.isoformat()},
                        **_events(manifest),
                    )
    return {"reminded": reminded, "overdue": overdue}
