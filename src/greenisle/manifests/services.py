"""Manifest workflow at the stop, on the road and at delivery. Each transition: lock, check the table
and its guards, write, and record the audit event, in one transaction. Receipt and treatment are in
:mod:`.receipt`, corrections in :mod:`.corrections`, paper manifests in :mod:`.paper`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import DRIVER_ROLES, RECEIVE_ROLES, membership_of
from greenisle.audit.services import event_record, transition_apply
from greenisle.catalog.models import WASTE_CODE_RE, WasteCode
from greenisle.core.counters import counter_next
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.core.workdays import add_working_days
from greenisle.dispatch.choices import RequestStatus, TripStatus
from greenisle.dispatch.models import PickupRequest, Trip
from greenisle.dispatch.services import request_mark_collected
from greenisle.ledger.events import has_production
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.ledger.services import ledger_record_add
from greenisle.manifests.choices import ManifestKind, ManifestStatus, SignatureMethod
from greenisle.manifests.models import Manifest, ManifestLine, ManifestSerial
from greenisle.manifests.numbering import format_number
from greenisle.manifests.transitions import MANIFEST_TRANSITIONS
from greenisle.manifests.validation import ManifestInvalid, manifest_check
from greenisle.organizations.identifiers import province_city
from greenisle.organizations.models import ServiceContract, Site


def manifest_number_next(*, division_code: str, year: int) -> str:
    """办法 Art. 15: year + province + city + a per-city serial from a row-locked counter. Never reused."""
    region = province_city(division_code)
    return format_number(year, region, counter_next(ManifestSerial, province_city=region, year=year))


def party_roles(manifest: Manifest, membership: Any) -> set[str]:
    """The roles the member's organisation plays on this manifest (see :mod:`.transitions`)."""
    roles: set[str] = set()
    org_id = membership.organization_id
    if org_id == manifest.producer_id:
        roles.add("producer")
    if org_id == manifest.carrier_id and membership.role in DRIVER_ROLES:
        roles.add("carrier")
    if org_id == manifest.receiver_id and membership.role in RECEIVE_ROLES:
        roles.add("receiver")
    return roles


def role_for(manifest: Manifest, membership: Any, target: str) -> str:
    """The role under which this member may take the manifest to ``target``: Conflict when no row
    leads there from the manifest's state, PermissionDenied when the member plays none of its roles."""
    row = MANIFEST_TRANSITIONS.row(manifest.status, target)
    if row is None:
        raise Conflict(
            f"联单状态为 {manifest.status}，不能变为 {target} / manifest is {manifest.status}, cannot become {target}",
            field="status",
            code="transition_not_allowed",
        )
    mine = sorted(party_roles(manifest, membership) & row.roles)
    if not mine:
        raise PermissionDenied(
            f"您的单位在此联单上无权执行 / your organisation may not take this manifest to {target}",
            field="manifest_id",
            code="role_not_allowed",
        )
    return mine[0]


def manifest_actions(manifest: Manifest, membership: Any) -> set[str]:
    """The states this member may take the manifest to now: what pages offer as buttons, from the
    same table the services enforce."""
    mine = party_roles(manifest, membership)
    return {
        row.target for row in MANIFEST_TRANSITIONS.rows if row.source == manifest.status and mine & row.roles
    }


def signature_time(previous: dt.datetime | None) -> dt.datetime:
    """Now, but never earlier than the previous party's signature (clocks of two servers differ)."""
    now = timezone.now()
    return max(now, previous) if previous is not None else now


def _events(manifest: Manifest) -> dict[str, Any]:
    return {"subject_organization": manifest.producer, "division_code": manifest.producer_site.division_id}


def _lock(manifest_id: Any) -> Manifest:
    # of=("self",): lock the manifest only; PostgreSQL refuses FOR UPDATE on the nullable side of
    # the outer join that select_related("trip") makes.
    manifest = (
        Manifest.objects.select_for_update(of=("self",))
        .select_related("producer", "producer_site", "carrier", "receiver", "trip")
        .filter(pk=manifest_id)
        .first()
    )
    if manifest is None:
        raise NotFound("联单不存在 / no such manifest", field="manifest_id")
    return manifest


def _weight(value: Any, field: str) -> Decimal:
    try:
        weight = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ServiceError(f"{field} 不是数字 / {field} is not a number", field=field) from None
    if not weight.is_finite() or weight <= 0 or weight > Decimal("100000"):
        raise ServiceError(f"{field} 须大于0且不超过100000 / {field} must be > 0 and ≤ 100000", field=field)
    return weight


def _receiver_site(collector: Any) -> Site | None:
    return collector.sites.order_by("created_at").first()


def driver_request(actor: Any, request_id: Any) -> tuple[PickupRequest, Trip]:
    """The request at a stop, locked, when the actor is the trip's driver (or its dispatcher) and the
    waste is still waiting for collection."""
    membership = membership_of(actor)
    request = (
        PickupRequest.objects.select_for_update(of=("self",))  # bin and stop are outer joins: see _lock
        .select_related("site", "producer", "bin", "stop__trip__vehicle")
        .filter(pk=request_id)
        .first()
    )
    if request is None or not hasattr(request, "stop"):
        raise NotFound("该请求不在任何车次上 / request is not on a trip", field="request_id")
    trip: Trip = request.stop.trip
    if (
        membership.organization_id != trip.collector_id
        or membership.role not in DRIVER_ROLES
        or (membership.role == Role.DRIVER and trip.driver_id != actor.pk)
    ):
        raise PermissionDenied(
            "只有本车次司机可记录 / only this trip's driver may record", field="request_id"
        )
    if request.status != RequestStatus.ASSIGNED:
        raise ServiceError("请求已收运 / request is no longer waiting for collection", field="request_id")
    return request, trip


@transaction.atomic
def manifest_add_container(
    *, actor: Any, request_id: Any, waste_code: str, weight_kg: Any, container_code: str
) -> ManifestLine:
    """At the stop the driver records one weighed container. The producer's draft manifest for this trip
    is created on the first container (办法 Art. 16: one manifest per producer per trip)."""
    request, trip = driver_request(actor, request_id)
    container_code = (container_code or "").strip()
    # Control characters would end up on labels and QR codes; NUL is refused by PostgreSQL (a 500).
    if not container_code or len(container_code) > 64 or not container_code.isprintable():
        raise ServiceError(
            "容器编码必填，最长64字符 / container code is required, ≤ 64 characters", field="container_code"
        )
    waste_code = (waste_code or "").strip()
    code = (
        WasteCode.objects.current().filter(code=waste_code).first()
        if WASTE_CODE_RE.fullmatch(waste_code)
        else None
    )
    if code is None:
        raise ServiceError(
            "废物代码不在现行名录中 / waste code not in the catalogue in force", field="waste_code"
        )
    if request.bin is not None and not request.bin.waste_codes.filter(pk=code.pk).exists():
        raise ServiceError("该云仓不收此类废物 / this bin does not hold that waste code", field="waste_code")
    weight = _weight(weight_kg, "weight_kg")
    manifest = (
        Manifest.objects.select_for_update()
        .filter(trip=trip, producer=request.producer)
        .exclude(status=ManifestStatus.CANCELLED)
        .first()
    )
    if manifest is None:
        now = timezone.localtime()
        manifest = Manifest.objects.create(
            number=manifest_number_next(division_code=request.site.division_id, year=now.year),
            trip=trip,
            producer=request.producer,
            producer_site=request.site,
            carrier=trip.collector,
            receiver=trip.collector,
            receiver_site=_receiver_site(trip.collector),
            vehicle=trip.vehicle,
        )
        event_record(
            action="manifests.manifest.created",
            obj=manifest,
            actor=actor,
            organization=trip.collector,
            payload={"number": manifest.number, "trip": str(trip.pk)},
            **_events(manifest),
        )
    elif manifest.status != ManifestStatus.DRAFT:
        raise ServiceError("联单已签署，不能再加容器 / manifest already signed", field="request_id")
    if manifest.lines.filter(container_code=container_code).exists():
        raise ServiceError("容器编码重复 / container code already on this manifest", field="container_code")
    line = ManifestLine.objects.create(
        manifest=manifest, waste_code=code, container_code=container_code, request=request, weight_kg=weight
    )
    event_record(
        action="manifests.manifest.line_added",
        obj=manifest,
        actor=actor,
        organization=trip.collector,
        payload={"container_code": container_code, "waste_code": code.code, "weight_kg": str(weight)},
        **_events(manifest),
    )
    return line


def _signing_role(manifest: Manifest, actor: Any, method: str, signature_code: str | None) -> str:
    membership = membership_of(actor)
    org_id = membership.organization_id
    if method == SignatureMethod.SESSION:
        if org_id != manifest.producer_id:
            raise PermissionDenied(
                "只有产废单位本人可签 / only the producer signs in its session", field="method"
            )
        return "producer"
    if method == SignatureMethod.CODE:
        if org_id != manifest.carrier_id or membership.role not in DRIVER_ROLES:
            raise PermissionDenied(
                "签字码只能在承运司机手机上输入 / codes are entered on the carrier's phone", field="method"
            )
        if not signature_code or not manifest.producer.check_signature_code(signature_code):
            raise PermissionDenied(
                "签字码不正确 / signature code is wrong", field="signature_code", code="bad_signature_code"
            )
        return "producer_code"
    if method == SignatureMethod.DELEGATED:
        delegated = (
            ServiceContract.objects.active()
            .filter(collector_id=org_id, producer_id=manifest.producer_id, delegated_signing=True)
            .exists()
        )
        if org_id != manifest.carrier_id or not delegated:
            raise PermissionDenied(
                "产废单位未委托代签 / the producer has not delegated signing", field="method"
            )
        return "producer_delegated"
    raise ServiceError("未知签署方式 / unknown signature method", field="method")


@transaction.atomic
def manifest_sign(
    *, actor: Any, manifest_id: Any, method: str, signature_code: str | None = None
) -> Manifest:
    """The producer signs: in its session, by its code on the driver's phone, or by delegation.
    Its requests count as collected and its ledger gets a production record per container."""
    manifest = _lock(manifest_id)
    role = _signing_role(manifest, actor, method, signature_code)
    report = manifest_check(manifest)
    if report.errors and manifest.status == ManifestStatus.DRAFT:
        raise ManifestInvalid(report)
    now = timezone.now()
    organization = membership_of(actor).organization
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.PRODUCER_SIGNED,
        role=role,
        actor=actor,
        organization=organization,
        payload={
            "method": method,
            **({"warnings": [w.as_dict() for w in report.warnings]} if report.warnings else {}),
        },
        extra_fields={
            "producer_signed_at": now,
            "producer_signed_by": actor if method == SignatureMethod.SESSION else None,
            "producer_signature_method": method,
        },
        **_events(manifest),
    )
    lines = list(manifest.lines.select_related("waste_code", "request"))
    onward = manifest.kind == ManifestKind.ONWARD
    stored = (
        {
            r.container_code: r.batch_code
            for r in LedgerRecord.objects.filter(
                organization=manifest.producer,
                record_type=RecordType.STORAGE_IN,
                manifest_id__in=manifest.sources.values("pk"),
            )
        }
        if onward
        else {}
    )
    seen: set[Any] = set()
    for line in lines:
        # A producer's container is produced now, unless its label recorded it (ledger.events); a
        # collector's onward container leaves its storage (HJ 1259 Appendix B: HWCS… production,
        # HWCK… storage-out, linked to the HWRK… storage-in).
        if onward or not has_production(manifest.producer_id, line.container_code):
            ledger_record_add(
                organization=manifest.producer,
                site=manifest.producer_site,
                record_type=RecordType.STORAGE_OUT if onward else RecordType.PRODUCTION,
                waste_code=line.waste_code,
                container_code=line.container_code,
                weight_kg=line.weight_kg,
                occurred_at=now,
                actor=actor,
                manifest=manifest,
                counterparty=manifest.receiver,
                source_batch_code=stored.get(line.container_code, ""),
            )
        if line.request_id and line.request_id not in seen:
            seen.add(line.request_id)
            request = (
                PickupRequest.objects.select_for_update(of=("self",))
                .select_related("site", "producer")
                .get(pk=line.request_id)
            )
            request_mark_collected(
                request=request, actor=actor, organization=organization, manifest_number=manifest.number
            )
    return manifest


@transaction.atomic
def manifest_depart(*, actor: Any, manifest_id: Any) -> Manifest:
    """The carrier signs for the load and leaves (办法 Art. 13): the transfer is under way."""
    manifest = _lock(manifest_id)
    membership = membership_of(actor)
    role = role_for(manifest, membership, ManifestStatus.IN_TRANSIT)
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.IN_TRANSIT,
        role=role,
        actor=actor,
        organization=membership.organization,
        extra_fields={"departed_at": signature_time(manifest.producer_signed_at), "departed_by": actor},
        **_events(manifest),
    )
    if manifest.trip and manifest.trip.status == TripStatus.PLANNED:
        Trip.objects.filter(pk=manifest.trip.pk).update(status=TripStatus.IN_PROGRESS)
    return manifest


@transaction.atomic
def manifest_deliver(*, actor: Any, manifest_id: Any) -> Manifest:
    """The load arrives at the receiver. 办法 Art. 18: the receiver's confirmation is due within
    5 working days of this day, counted on the official calendar."""
    manifest = _lock(manifest_id)
    membership = membership_of(actor)
    role = role_for(manifest, membership, ManifestStatus.DELIVERED)
    at = signature_time(manifest.departed_at)
    due = add_working_days(
        timezone.localtime(at).date(), settings.GREENISLE["RECEIPT_CONFIRMATION_WORKING_DAYS"]
    )
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.DELIVERED,
        role=role,
        actor=actor,
        organization=membership.organization,
        payload={"receipt_due_on": due.isoformat()},
        extra_fields={"delivered_at": at, "delivered_by": actor, "receipt_due_on": due},
        **_events(manifest),
    )
    return manifest


@transaction.atomic
def manifest_cancel(*, actor: Any, manifest_id: Any, reason: str) -> Manifest:
    """Call a transfer off before the producer signs: producer or carrier, with a reason."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise ServiceError("请填写取消原因（不超过300字） / give a reason (≤ 300 characters)", field="reason")
    manifest = _lock(manifest_id)
    membership = membership_of(actor)
    role = role_for(manifest, membership, ManifestStatus.CANCELLED)
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.CANCELLED,
        role=role,
        actor=actor,
        organization=membership.organization,
        payload={"reason": reason},
        extra_fields={"cancelled_at": timezone.now(), "cancel_reason": reason},
        **_events(manifest),
    )
    return manifest
