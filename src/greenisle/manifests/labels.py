"""Container labels (HJ 1276-2022) and loading against them (办法 Art. 13).

A label carries the waste's name, category, code, form, hazard characteristics, main and hazardous
constituents, precautions, the producer and its contact, the date, the weight and a digital
identification code whose QR code resolves to the container's page. The identification code is the
producer's unified social credit code (18), the waste code's 8 digits, the date (YYYYMMDD) and a
4-digit serial per producer and day, from a row-locked counter (ADR 4).

At loading the driver scans the label (or types its code) and weighs the container: a label of
another producer, a waste code the bin does not hold, a weight off the label's by more than
``LABEL_WEIGHT_TOLERANCE_PCT`` or a container already on a manifest stops that container, and the
refusal is recorded with its reasons (and committed: nothing valid is lost, nothing invalid loads).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from greenisle.accounts.permissions import DRIVER_ROLES, membership_of
from greenisle.audit.services import event_record
from greenisle.catalog.models import WASTE_CODE_RE, WasteCode
from greenisle.core.counters import counter_next
from greenisle.core.errors import NotFound, PermissionDenied, ServiceError
from greenisle.dispatch.models import PickupRequest
from greenisle.ledger.events import record_labelled, record_loaded
from greenisle.manifests.choices import LoadingRefusalReason, ManifestStatus, WasteForm
from greenisle.manifests.models import Container, ContainerSerial, LoadingRefusal, ManifestLine
from greenisle.manifests.services import _weight, driver_request, manifest_add_container
from greenisle.organizations.models import ServiceContract, Site

CODE_RE = re.compile(r"^[0-9A-Z]{18}\d{8}\d{8}\d{4}$")


def container_code(uscc: str, waste_code: str, day: dt.date, serial: int) -> str:
    if not 1 <= serial <= 9999:
        raise ServiceError(
            "当日容器编号已用尽 / the day's container serials are used up", field="produced_on"
        )
    return f"{uscc}{waste_code.replace('-', '')}{day:%Y%m%d}{serial:04d}"


def _text(value: Any, field: str, limit: int, *, required: bool = True) -> str:
    text = str(value or "").strip()
    if (required and not text) or len(text) > limit or (text and not text.isprintable()):
        raise ServiceError(
            f"{field} {'必填，' if required else ''}不超过{limit}字 / {field}: "
            f"{'required, ' if required else ''}≤ {limit} printable characters",
            field=field,
        )
    return text


@transaction.atomic
def container_label(
    *,
    actor: Any,
    site_id: Any,
    waste_code: str,
    weight_kg: Any,
    form: str,
    main_constituents: str,
    hazardous_constituents: str,
    precautions: str = "",
    produced_on: dt.date | None = None,
    request_id: Any = None,
) -> Container:
    """Make a container's label: by the producer, or by its collector's driver at the stop."""
    membership = membership_of(actor)
    site = Site.objects.select_related("organization").filter(pk=site_id).first()
    if site is None:
        raise NotFound("场所不存在 / no such site", field="site_id")
    producer = site.organization
    contract = ServiceContract.objects.active().filter(producer=producer).order_by("valid_from").first()
    own = membership.organization_id == producer.pk
    serving = (
        contract is not None
        and membership.organization_id == contract.collector_id
        and membership.role in DRIVER_ROLES
    )
    if not (own or serving):
        raise PermissionDenied(
            "只有产废单位或其收集单位可打印标签 / only the producer or its collector labels"
        )
    code_text = (waste_code or "").strip()
    code = (
        WasteCode.objects.current().filter(code=code_text).first()
        if WASTE_CODE_RE.fullmatch(code_text)
        else None
    )
    if code is None:
        raise ServiceError(
            "废物代码不在现行名录中 / waste code not in the catalogue in force", field="waste_code"
        )
    if form not in WasteForm.values:
        raise ServiceError(
            f"形态须为 {WasteForm.values} / form must be one of {WasteForm.values}", field="form"
        )
    weight = _weight(weight_kg, "weight_kg")
    main = _text(main_constituents, "main_constituents", 200)
    hazardous = _text(hazardous_constituents, "hazardous_constituents", 200)
    notes = _text(precautions, "precautions", 300, required=False)
    day = produced_on or timezone.localdate()
    if day > timezone.localdate():
        raise ServiceError("产生日期不能晚于今天 / the date cannot be in the future", field="produced_on")
    request = None
    if request_id is not None:
        request = PickupRequest.objects.filter(pk=request_id, producer=producer).first()
        if request is None:
            raise NotFound("该产废单位没有此收运请求 / no such request of this producer", field="request_id")
    serial = counter_next(ContainerSerial, producer=producer, day=day)
    container = Container.objects.create(
        code=container_code(producer.uscc, code.code, day, serial),
        producer=producer,
        site=site,
        collector_id=contract.collector_id if contract else None,
        waste_code=code,
        waste_name=code.short_name,
        form=form,
        hazard_characteristics=code.hazard_characteristics,
        main_constituents=main,
        hazardous_constituents=hazardous,
        precautions=notes or _default_precautions(code.hazard_characteristics),
        contact_name=producer.contact_name or producer.name,
        contact_phone=producer.contact_phone or "—",
        produced_on=day,
        weight_kg=weight,
        request=request,
    )
    event_record(
        action="manifests.container.labelled",
        obj=container,
        actor=actor,
        organization=membership.organization,
        subject_organization=producer,
        division_code=site.division_id,
        payload={"code": container.code, "waste_code": code.code, "weight_kg": str(weight)},
    )
    # HJ 1259 §6.2: one ledger record per container, from the moment it is labelled.
    record_labelled(container=container, actor=actor)
    return container


def _default_precautions(characteristics: str) -> str:
    said = {
        "T": "有毒，避免接触和吸入",
        "C": "腐蚀性，佩戴防护用品",
        "I": "易燃，远离火源",
        "R": "反应性，避免混合",
        "In": "感染性，密闭处置",
    }
    parts = [said[c] for c in re.findall(r"In|T|C|I|R", characteristics or "") if c in said]
    return "；".join(dict.fromkeys(parts)) or "按危险废物管理"


def scanned_code(scanned: str) -> str:
    """The identification code in what the phone read: the QR code's URL (…/c/<code>/) or the code."""
    text = (scanned or "").strip()
    match = re.search(r"/c/([0-9A-Za-z]+)/?$", text)
    return (match.group(1) if match else text).upper()


@dataclass(frozen=True)
class LoadResult:
    line: ManifestLine | None
    refusal: LoadingRefusal | None


@transaction.atomic
def container_load(*, actor: Any, request_id: Any, scanned: str, weight_kg: Any) -> LoadResult:
    """办法 Art. 13: load a labelled container onto the producer's manifest for the trip, or refuse it
    and record why. A refusal is committed and returned (it is not an error of the driver's input)."""
    membership = membership_of(actor)
    request, _trip = driver_request(actor, request_id)
    weight = _weight(weight_kg, "weight_kg")
    text = _text(scanned, "scanned", 300)
    code = scanned_code(text)
    container = Container.objects.select_related("waste_code").filter(code=code).first()
    reasons: list[str] = []
    details: list[str] = []
    if container is None:
        reasons.append(LoadingRefusalReason.UNKNOWN_LABEL)
        details.append(f"标签 {code} 未登记 / label {code} is not known")
    else:
        if container.producer_id != request.producer_id:
            reasons.append(LoadingRefusalReason.OTHER_PRODUCER)
            details.append("标签属于其他产废单位 / the label is another producer's")
        if (
            request.bin is not None
            and not request.bin.waste_codes.filter(pk=container.waste_code_id).exists()
        ):
            reasons.append(LoadingRefusalReason.WASTE_CODE)
            details.append(
                f"废物代码 {container.waste_code.code} 不在该云仓 / the bin does not hold {container.waste_code.code}"
            )
        limit = Decimal(str(settings.GREENISLE["LABEL_WEIGHT_TOLERANCE_PCT"])) / 100
        if abs(weight - container.weight_kg) > container.weight_kg * limit:
            reasons.append(LoadingRefusalReason.WEIGHT)
            details.append(
                f"称重 {weight} kg 与标签 {container.weight_kg} kg 不符 / weighed {weight} kg, label says "
                f"{container.weight_kg} kg"
            )
        if (
            ManifestLine.objects.filter(container=container)
            .exclude(manifest__status=ManifestStatus.CANCELLED)
            .exists()
        ):
            reasons.append(LoadingRefusalReason.ALREADY_LOADED)
            details.append("该容器已在联单上 / the container is already on a manifest")
    if reasons:
        refusal = LoadingRefusal.objects.create(
            request=request,
            container=container,
            scanned=text,
            reasons=[str(r) for r in reasons],
            detail="; ".join(details)[:500],
            weight_kg=weight,
            actor=actor,
        )
        event_record(
            action="manifests.container.load_refused",
            obj=container or request,
            actor=actor,
            organization=membership.organization,
            subject_organization=request.producer,
            division_code=request.site.division_id,
            payload={"scanned": text, "reasons": refusal.reasons, "weight_kg": str(weight)},
        )
        return LoadResult(None, refusal)
    assert container is not None
    line = manifest_add_container(
        actor=actor,
        request_id=request.pk,
        waste_code=container.waste_code.code,
        weight_kg=weight,
        container_code=container.code,
    )
    line.container = container
    line.save(update_fields=["container", "updated_at"])
    record_loaded(container=container, weight_kg=weight, carrier=membership.organization, actor=actor)
    return LoadResult(line, None)
