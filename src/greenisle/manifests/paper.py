"""办法 Art. 20: a transfer made on a paper manifest while the system was unavailable is entered
afterwards, within 10 working days of the transfer's end. A late entry is still taken (nothing
valid is lost) and raises a finding."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from greenisle.accounts.permissions import RECEIVE_ROLES, membership_of
from greenisle.audit.services import event_record
from greenisle.catalog.models import WASTE_CODE_RE, WasteCode
from greenisle.core.errors import NotFound, PermissionDenied, ServiceError
from greenisle.core.workdays import add_working_days
from greenisle.ledger.events import record_received
from greenisle.ledger.models import RecordType
from greenisle.ledger.services import ledger_record_add
from greenisle.manifests.choices import LineDecision, ManifestStatus, ReceiptOutcome
from greenisle.manifests.models import Manifest, ManifestLine
from greenisle.manifests.receipt_totals import receipt_totals_refresh
from greenisle.manifests.services import _events, _receiver_site, _weight, manifest_number_next
from greenisle.organizations.models import ServiceContract, Site
from greenisle.supervision.models import Severity
from greenisle.supervision.services import finding_raise

RULE_PAPER_LATE = "manifest.paper_entry_late"
_STEPS = ("producer_signed_at", "departed_at", "delivered_at", "received_at")


def _moment(value: Any, field: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ServiceError(
                f"{field} 不是有效时间 / {field} is not an ISO date-time", field=field
            ) from None
    if not isinstance(value, dt.datetime):
        raise ServiceError(f"{field} 必填 / {field} is required", field=field)
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now():
        raise ServiceError(f"{field} 不能晚于现在 / {field} is in the future", field=field)
    return value


@transaction.atomic
def manifest_paper_enter(
    *,
    actor: Any,
    producer_site_id: Any,
    paper_reference: str,
    times: dict[str, Any],
    lines: list[dict[str, Any]],
) -> Manifest:
    """The receiver enters a completed paper transfer: the producer's site, the paper manifest's
    reference, when each party signed (``producer_signed_at`` ≤ ``departed_at`` ≤ ``delivered_at``
    ≤ ``received_at``) and its containers (``container_code``, ``waste_code``, ``weight_kg``,
    ``received_weight_kg``)."""
    membership = membership_of(actor)
    if membership.organization.kind != "collector" or membership.role not in RECEIVE_ROLES:
        raise PermissionDenied("只有接收单位可补录纸质联单 / only a receiver enters paper manifests")
    receiver = membership.organization
    site = Site.objects.select_related("organization").filter(pk=producer_site_id).first()
    if (
        site is None
        or not ServiceContract.objects.filter(collector=receiver, producer=site.organization).exists()
    ):
        raise NotFound("产废场所不存在或不是本单位客户 / no such site of a client", field="producer_site_id")
    reference = (paper_reference or "").strip()
    if not reference or len(reference) > 64 or not reference.isprintable():
        raise ServiceError(
            "纸质联单编号必填 / the paper manifest's reference is required", field="paper_reference"
        )
    moments = [_moment((times or {}).get(step), f"times.{step}") for step in _STEPS]
    for (a, b), (x, y) in zip(
        zip(_STEPS, _STEPS[1:], strict=False), zip(moments, moments[1:], strict=False), strict=True
    ):
        if y < x:
            raise ServiceError(f"{b} 早于 {a} / {b} is before {a}", field=f"times.{b}")
    if not lines:
        raise ServiceError("至少一个容器 / at least one container", field="lines")
    rows = []
    seen: set[str] = set()
    for n, given in enumerate(lines):
        field = f"lines.{n}"
        container = str(given.get("container_code") or "").strip()
        if not container or len(container) > 64 or not container.isprintable() or container in seen:
            raise ServiceError(
                "容器编码必填且不重复 / container code required and unique", field=f"{field}.container_code"
            )
        seen.add(container)
        code_text = str(given.get("waste_code") or "").strip()
        code = (
            WasteCode.objects.current().filter(code=code_text).first()
            if WASTE_CODE_RE.fullmatch(code_text)
            else None
        )
        if code is None:
            raise ServiceError(
                "废物代码不在现行名录中 / waste code not in the catalogue in force",
                field=f"{field}.waste_code",
            )
        weight = _weight(given.get("weight_kg"), f"{field}.weight_kg")
        received = _weight(given.get("received_weight_kg", weight), f"{field}.received_weight_kg")
        rows.append((container, code, weight, received))
    ended_on = timezone.localtime(moments[-1]).date()
    due = add_working_days(ended_on, settings.GREENISLE["PAPER_ENTRY_WORKING_DAYS"])
    manifest = Manifest.objects.create(
        number=manifest_number_next(division_code=site.division_id, year=timezone.localtime(moments[0]).year),
        status=ManifestStatus.RECEIVED,
        producer=site.organization,
        producer_site=site,
        carrier=receiver,
        receiver=receiver,
        receiver_site=_receiver_site(receiver),
        paper=True,
        paper_reference=reference,
        paper_transfer_ended_on=ended_on,
        paper_entry_due_on=due,
        receipt_outcome=ReceiptOutcome.ACCEPTED,
        received_by=actor,
        **dict(zip(_STEPS, moments, strict=True)),
    )
    for container, code, weight, _received in rows:
        ManifestLine.objects.create(
            manifest=manifest,
            waste_code=code,
            container_code=container,
            weight_kg=weight,
            received_weight_kg=received,
            accepted_weight_kg=received,
            decision=LineDecision.ACCEPTED,
        )
    receipt_totals_refresh([manifest.pk])  # entered as received: it counts in the statistics (ADR 15)
    event_record(
        action="manifests.manifest.paper_entered",
        obj=manifest,
        actor=actor,
        organization=receiver,
        payload={
            "paper_reference": reference,
            "transfer_ended_on": ended_on.isoformat(),
            "due_on": due.isoformat(),
        },
        **_events(manifest),
    )
    storage = manifest.receiver_site
    for container, code, weight, _received in rows:
        ledger_record_add(
            organization=manifest.producer,
            site=site,
            record_type=RecordType.PRODUCTION,
            waste_code=code,
            container_code=container,
            weight_kg=weight,
            occurred_at=moments[0],
            actor=actor,
            manifest=manifest,
            counterparty=receiver,
        )
    if storage is not None:
        # The receiver's storage-in and the producer's outsourced record, as for an electronic receipt.
        record_received(
            manifest=manifest,
            lines=list(manifest.lines.select_related("waste_code")),
            at=moments[-1],
            actor=actor,
            receiver_site=storage,
        )
    today = timezone.localdate()
    if today > due:
        finding_raise(
            rule=RULE_PAPER_LATE,
            severity=Severity.C,
            organization=receiver,
            division_code=receiver.division_id,
            obj=manifest,
            message=(
                f"纸质联单 {reference} 未在转移结束后10个工作日内补录（应于 {due} 前）/ paper manifest "
                f"{reference} entered after the 10 working days (due {due})"
            ),
            evidence={
                "transfer_ended_on": ended_on.isoformat(),
                "due_on": due.isoformat(),
                "entered_on": today.isoformat(),
            },
        )
    return manifest
