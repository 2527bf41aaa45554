"""Manifest workflow at the stop and at receipt. Each transition: lock, check table, write, audit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import DRIVER_ROLES, RECEIVE_ROLES, membership_of
from greenisle.audit.services import event_record, transition_apply
from greenisle.catalog.models import WASTE_CODE_RE, WasteCode
from greenisle.core.counters import counter_next
from greenisle.core.errors import NotFound, PermissionDenied, ServiceError
from greenisle.dispatch.choices import RequestStatus, TripStatus
from greenisle.dispatch.models import PickupRequest, Trip
from greenisle.dispatch.services import request_mark_collected
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.ledger.services import ledger_record_add
from greenisle.manifests.choices import LineDecision, ManifestStatus, SignatureMethod
from greenisle.manifests.models import Manifest, ManifestLine, ManifestSerial
from greenisle.manifests.numbering import format_number
from greenisle.manifests.transitions import MANIFEST_TRANSITIONS
from greenisle.organizations.identifiers import province_city
from greenisle.organizations.models import ServiceContract, Site


def manifest_number_next(*, division_code: str, year: int) -> str:
    """办法 Art. 15: year + province + city + a per-city serial from a row-locked counter. Never reused."""
    region = province_city(division_code)
    return format_number(year, region, counter_next(ManifestSerial, province_city=region, year=year))


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


@transaction.atomic
def manifest_add_container(
    *, actor: Any, request_id: Any, waste_code: str, weight_kg: Any, container_code: str
) -> ManifestLine:
    """At the stop the driver records one weighed container. The producer's draft manifest for this trip
    is created on the first container (办法 Art. 16: one manifest per producer per trip)."""
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
    now = timezone.now()
    organization = membership_of(actor).organization
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.PRODUCER_SIGNED,
        role=role,
        actor=actor,
        organization=organization,
        payload={"method": method},
        extra_fields={
            "producer_signed_at": now,
            "producer_signed_by": actor if method == SignatureMethod.SESSION else None,
            "producer_signature_method": method,
        },
        **_events(manifest),
    )
    lines = list(manifest.lines.select_related("waste_code", "request"))
    seen: set[Any] = set()
    for line in lines:
        ledger_record_add(
            organization=manifest.producer,
            site=manifest.producer_site,
            record_type=RecordType.PRODUCTION,
            waste_code=line.waste_code,
            container_code=line.container_code,
            weight_kg=line.weight_kg,
            occurred_at=now,
            actor=actor,
            manifest=manifest,
            counterparty=manifest.receiver,
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
    """The carrier loads and leaves: the transfer is under way."""
    manifest = _lock(manifest_id)
    membership = membership_of(actor)
    if membership.organization_id != manifest.carrier_id or membership.role not in DRIVER_ROLES:
        raise PermissionDenied(
            "只有承运单位司机可确认出发 / only the carrier's driver departs", field="manifest_id"
        )
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.IN_TRANSIT,
        role="carrier",
        actor=actor,
        organization=membership.organization,
        extra_fields={"departed_at": timezone.now()},
        **_events(manifest),
    )
    if manifest.trip and manifest.trip.status == TripStatus.PLANNED:
        Trip.objects.filter(pk=manifest.trip.pk).update(status=TripStatus.IN_PROGRESS)
    return manifest


@transaction.atomic
def manifest_receive(*, actor: Any, manifest_id: Any, received_weights: dict[str, Any]) -> Manifest:
    """The receiver weighs each line and accepts; the warehouse ledger gets a storage-in record per container.

    ``received_weights`` maps each line id to its received weight in kg; every line must be given.
    """
    manifest = _lock(manifest_id)
    membership = membership_of(actor)
    if membership.organization_id != manifest.receiver_id or membership.role not in RECEIVE_ROLES:
        raise PermissionDenied(
            "只有接收单位可确认接收 / only the receiver confirms receipt", field="manifest_id"
        )
    lines = list(manifest.lines.select_related("waste_code").order_by("id"))
    given = {str(k): v for k, v in (received_weights or {}).items()}
    weights: dict[int, Decimal] = {}
    for line in lines:
        field = f"received_weights.{line.pk}"
        if str(line.pk) not in given:
            raise ServiceError(
                f"缺少容器 {line.container_code} 的接收重量 / received weight missing", field=field
            )
        weights[line.pk] = _weight(given.pop(str(line.pk)), field)
    if given:
        raise ServiceError("包含不属于本联单的行 / lines not on this manifest", field="received_weights")
    now = timezone.now()
    transition_apply(
        table=MANIFEST_TRANSITIONS,
        obj=manifest,
        target=ManifestStatus.RECEIVED,
        role="receiver",
        actor=actor,
        organization=membership.organization,
        payload={"received_kg": {str(k): str(v) for k, v in weights.items()}},
        extra_fields={"received_at": now, "received_by": actor},
        **_events(manifest),
    )
    production = {
        r.container_code: r.batch_code
        for r in LedgerRecord.objects.filter(manifest=manifest, record_type=RecordType.PRODUCTION)
    }
    site = manifest.receiver_site or _receiver_site(manifest.receiver)
    if site is None:
        raise ServiceError("接收单位没有贮存场所 / the receiver has no storage site", field="receiver_site")
    for line in lines:
        line.received_weight_kg = weights[line.pk]
        line.decision = LineDecision.ACCEPTED
        line.save(update_fields=["received_weight_kg", "decision", "updated_at"])
        ledger_record_add(
            organization=manifest.receiver,
            site=site,
            record_type=RecordType.STORAGE_IN,
            waste_code=line.waste_code,
            container_code=line.container_code,
            weight_kg=weights[line.pk],
            occurred_at=now,
            actor=actor,
            manifest=manifest,
            counterparty=manifest.producer,
            source_batch_code=production.get(line.container_code, ""),
        )
    return manifest
