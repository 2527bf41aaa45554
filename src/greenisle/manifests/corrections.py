"""Corrections after signing: never edits in place. One party proposes the change with a reason,
the other side applies or rejects it; applying keeps the superseded version readable and makes the
manifest's next version. One open correction per manifest at a time (a partial unique index)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from greenisle.accounts.permissions import membership_of
from greenisle.audit.services import event_record, transition_apply
from greenisle.catalog.models import WASTE_CODE_RE, WasteCode
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.manifests.choices import CorrectionStatus
from greenisle.manifests.models import Manifest, ManifestCorrection, ManifestVersion
from greenisle.manifests.receipt_totals import receipt_totals_refresh
from greenisle.manifests.services import _events, _lock, _weight, party_roles
from greenisle.manifests.transitions import CORRECTABLE, CORRECTION_TRANSITIONS
from greenisle.notifications.services import notify


def manifest_snapshot(manifest: Manifest) -> dict[str, Any]:
    """The manifest's content as it stands: what a superseded version keeps."""
    return {
        "number": manifest.number,
        "version": manifest.version,
        "status": manifest.status,
        "producer": manifest.producer.name,
        "carrier": manifest.carrier.name,
        "receiver": manifest.receiver.name,
        "producer_signed_at": manifest.producer_signed_at.isoformat()
        if manifest.producer_signed_at
        else None,
        "lines": [
            {
                "id": line.pk,
                "container_code": line.container_code,
                "waste_code": line.waste_code.code,
                "weight_kg": str(line.weight_kg),
                "received_weight_kg": None
                if line.received_weight_kg is None
                else str(line.received_weight_kg),
                "accepted_weight_kg": None
                if line.accepted_weight_kg is None
                else str(line.accepted_weight_kg),
                "decision": line.decision,
            }
            for line in manifest.lines.select_related("waste_code").order_by("id")
        ],
    }


def _validated_changes(manifest: Manifest, changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict) or not isinstance(changes.get("lines"), dict) or not changes["lines"]:
        raise ServiceError(
            "更正须至少修改一个容器 / a correction changes at least one line", field="changes.lines"
        )
    lines = {str(line.pk): line for line in manifest.lines.select_related("waste_code")}
    clean: dict[str, dict[str, str]] = {}
    for line_id, fields in changes["lines"].items():
        field = f"changes.lines.{line_id}"
        line = lines.get(str(line_id))
        if line is None:
            raise ServiceError("该行不属于本联单 / no such line on this manifest", field=field)
        if not isinstance(fields, dict) or not fields or set(fields) - {"weight_kg", "waste_code"}:
            raise ServiceError(
                "只能更正重量(weight_kg)和废物代码(waste_code) / only weight_kg and waste_code can be corrected",
                field=field,
            )
        row: dict[str, str] = {}
        if "weight_kg" in fields:
            weight = _weight(fields["weight_kg"], f"{field}.weight_kg")
            if weight != line.weight_kg:
                row["weight_kg"] = str(weight)
        if "waste_code" in fields:
            code = str(fields["waste_code"] or "").strip()
            if (
                not WASTE_CODE_RE.fullmatch(code)
                or not WasteCode.objects.current().filter(code=code).exists()
            ):
                raise ServiceError(
                    "废物代码不在现行名录中 / waste code not in the catalogue in force",
                    field=f"{field}.waste_code",
                )
            if code != line.waste_code.code:
                row["waste_code"] = code
        if row:
            clean[str(line.pk)] = row
    if not clean:
        raise ServiceError("更正与现有内容相同 / the correction changes nothing", field="changes.lines")
    return {"lines": clean}


@transaction.atomic
def correction_open(*, actor: Any, manifest_id: Any, reason: str, changes: Any) -> ManifestCorrection:
    """A party to a signed manifest proposes a correction (weight or waste code of its lines)."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise ServiceError("请填写更正原因（不超过300字） / give a reason (≤ 300 characters)", field="reason")
    manifest = _lock(manifest_id)
    membership = membership_of(actor)
    if not party_roles(manifest, membership):
        raise PermissionDenied("只有联单当事方可提出更正 / only a party to the manifest may correct it")
    if manifest.status not in CORRECTABLE:
        raise Conflict(
            "签署后、取消前的联单才可更正 / only a signed, not cancelled manifest is corrected",
            field="status",
            code="not_correctable",
        )
    clean = _validated_changes(manifest, changes)
    if ManifestCorrection.objects.filter(manifest=manifest, status=CorrectionStatus.OPEN).exists():
        raise Conflict(
            "已有待处理的更正 / a correction is already open", field="manifest_id", code="correction_open"
        )
    try:
        with transaction.atomic():
            correction = ManifestCorrection.objects.create(
                manifest=manifest,
                base_version=manifest.version,
                requested_by=actor,
                requested_by_organization=membership.organization,
                reason=reason,
                changes=clean,
            )
    except IntegrityError:
        raise Conflict(
            "已有待处理的更正 / a correction is already open", field="manifest_id", code="correction_open"
        ) from None
    event_record(
        action="manifests.manifest.correction_opened",
        obj=manifest,
        actor=actor,
        organization=membership.organization,
        payload={"correction": str(correction.pk), "reason": reason, "changes": clean},
        **_events(manifest),
    )
    other = manifest.producer if membership.organization_id != manifest.producer_id else manifest.receiver
    notify(
        organization=other,
        kind="manifest.correction",
        message=f"联单 {manifest.number} 有更正待确认：{reason} / a correction awaits your decision",
        obj=manifest,
        key=f"manifest.correction:{correction.pk}",
    )
    return correction


def correction_roles(correction: ManifestCorrection, membership: Any) -> set[str]:
    manifest = correction.manifest
    roles: set[str] = set()
    if membership.organization_id == correction.requested_by_organization_id:
        roles.add("requester")
    # The other side: the producer when the collector side asked, otherwise the receiver.
    counter = (
        manifest.producer_id
        if correction.requested_by_organization_id != manifest.producer_id
        else manifest.receiver_id
    )
    if membership.organization_id == counter and party_roles(manifest, membership):
        roles.add("counterparty")
    return roles


def _lock_correction(correction_id: Any) -> ManifestCorrection:
    correction = ManifestCorrection.objects.select_for_update().filter(pk=correction_id).first()
    if correction is None:
        raise NotFound("更正不存在 / no such correction", field="correction_id")
    correction.manifest = _lock(correction.manifest_id)
    return correction


@transaction.atomic
def correction_decide(*, actor: Any, correction_id: Any, target: str, note: str = "") -> ManifestCorrection:
    """Apply or reject (the other side) or withdraw (the proposer) an open correction. Applying
    stores the current content as the superseded version and writes the new one."""
    note = (note or "").strip()
    if len(note) > 300:
        raise ServiceError("说明不超过300字 / note ≤ 300 characters", field="note")
    if target not in (CorrectionStatus.APPLIED, CorrectionStatus.REJECTED, CorrectionStatus.WITHDRAWN):
        raise ServiceError(
            "目标须为 applied、rejected 或 withdrawn / target is applied, rejected or withdrawn",
            field="target",
        )
    correction = _lock_correction(correction_id)
    manifest = correction.manifest
    membership = membership_of(actor)
    row = CORRECTION_TRANSITIONS.row(correction.status, target)
    if row is None:
        raise Conflict(
            f"更正已是 {correction.status} / the correction is {correction.status}", field="status"
        )
    roles = sorted(correction_roles(correction, membership) & row.roles)
    if not roles:
        raise PermissionDenied("您无权处理此更正 / you may not decide this correction", field="correction_id")
    if target == CorrectionStatus.APPLIED:
        if manifest.version != correction.base_version:
            raise Conflict("联单已有新版本 / the manifest changed since", field="correction_id")
        ManifestVersion.objects.create(
            manifest=manifest, version=manifest.version, snapshot=manifest_snapshot(manifest)
        )
        codes = {
            c.code: c
            for c in WasteCode.objects.current().filter(
                code__in=[f["waste_code"] for f in correction.changes["lines"].values() if "waste_code" in f]
            )
        }
        for line in manifest.lines.filter(pk__in=[int(k) for k in correction.changes["lines"]]):
            fields = correction.changes["lines"][str(line.pk)]
            if "weight_kg" in fields:
                line.weight_kg = Decimal(fields["weight_kg"])
            if "waste_code" in fields:
                line.waste_code = codes[fields["waste_code"]]
            line.save(update_fields=["weight_kg", "waste_code", "updated_at"])
        manifest.version += 1
        manifest.save(update_fields=["version", "updated_at"])
        # A received manifest's weights and codes count in the statistics (ADR 15).
        receipt_totals_refresh([manifest.pk])
        event_record(
            action="manifests.manifest.corrected",
            obj=manifest,
            actor=actor,
            organization=membership.organization,
            payload={
                "correction": str(correction.pk),
                "version": manifest.version,
                "changes": correction.changes,
            },
            **_events(manifest),
        )
    transition_apply(
        table=CORRECTION_TRANSITIONS,
        obj=correction,
        target=target,
        role=roles[0],
        actor=actor,
        organization=membership.organization,
        payload={"manifest": str(manifest.pk), "version": manifest.version, "note": note},
        extra_fields={"decided_by": actor, "decided_at": timezone.now(), "decision_note": note},
        **_events(manifest),
    )
    return correction
