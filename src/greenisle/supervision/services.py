"""Raising findings (idempotent per rule and object) with their audit events."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from greenisle.audit.services import event_record
from greenisle.supervision.models import Finding, FindingStatus


def finding_raise(
    *,
    rule: str,
    severity: str,
    organization: Any,
    division_code: str,
    obj: Any,
    message: str,
    evidence: dict[str, Any] | None = None,
) -> Finding | None:
    """Open a finding for ``rule`` on ``obj`` unless one is open already. Returns the new finding or
    None. Call inside the caller's transaction."""
    object_type = f"{obj._meta.app_label}.{obj._meta.model_name}"
    if Finding.objects.filter(
        rule=rule, object_type=object_type, object_id=str(obj.pk), status=FindingStatus.OPEN
    ).exists():
        return None
    try:
        with transaction.atomic():
            finding = Finding.objects.create(
                rule=rule,
                severity=severity,
                organization=organization,
                division_code=division_code,
                object_type=object_type,
                object_id=str(obj.pk),
                message=message,
                evidence=evidence or {},
            )
    except IntegrityError:  # raised by a concurrent sweep
        return None
    event_record(
        action="supervision.finding.raised",
        obj=finding,
        actor=None,
        organization=None,
        subject_organization=organization,
        division_code=division_code,
        payload={"rule": rule, "severity": severity, "object": f"{object_type}:{obj.pk}", "message": message},
    )
    return finding
