import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.api.schemas import ErrorOut
from greenisle.core.errors import NotFound
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.corrections import correction_decide, correction_open
from greenisle.manifests.documents import labels_pdf, manifest_pdf
from greenisle.manifests.labels import container_label, container_load
from greenisle.manifests.models import Container, ManifestVersion
from greenisle.manifests.onward import manifest_onward_create, stock_lines
from greenisle.manifests.paper import manifest_paper_enter
from greenisle.manifests.receipt import manifest_receive, manifest_record_treatment
from greenisle.manifests.selectors import manifest_get_visible_to, manifest_list_visible_to, object_timeline
from greenisle.manifests.services import (
    manifest_add_container,
    manifest_cancel,
    manifest_deliver,
    manifest_depart,
    manifest_sign,
)
from greenisle.manifests.validation import manifest_check

router = Router(tags=["manifests"], auth=person_auth)
WRITE_ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class LineOut(Schema):
    id: int
    container_code: str
    waste_code: str
    weight_kg: Decimal
    received_weight_kg: Decimal | None
    accepted_weight_kg: Decimal | None
    decision: str
    discrepancies: list[str]
    discrepancy_note: str

    @staticmethod
    def resolve_waste_code(obj: Any) -> str:
        return obj.waste_code.code


class ManifestOut(Schema):
    id: uuid.UUID
    number: str
    status: str
    producer: str
    producer_site_id: uuid.UUID
    division_code: str
    carrier: str
    receiver: str
    trip_id: uuid.UUID | None
    producer_signed_at: dt.datetime | None
    producer_signature_method: str
    departed_at: dt.datetime | None
    delivered_at: dt.datetime | None
    receipt_due_on: dt.date | None
    received_at: dt.datetime | None
    receipt_outcome: str
    treated_at: dt.datetime | None
    treatment_method: str
    cancelled_at: dt.datetime | None
    cancel_reason: str
    kind: str
    version: int
    paper: bool
    paper_reference: str
    paper_entry_due_on: dt.date | None
    sources: list[str] = Field(
        default_factory=list, description="numbers of the manifests an onward one carries on"
    )
    created_at: dt.datetime

    @staticmethod
    def resolve_sources(obj: Any) -> list[str]:
        return sorted(m.number for m in obj.sources.all())

    @staticmethod
    def resolve_producer(obj: Any) -> str:
        return obj.producer.name

    @staticmethod
    def resolve_carrier(obj: Any) -> str:
        return obj.carrier.name

    @staticmethod
    def resolve_receiver(obj: Any) -> str:
        return obj.receiver.name

    @staticmethod
    def resolve_division_code(obj: Any) -> str:
        return obj.producer_site.division_id


class TimelineOut(Schema):
    id: int
    created_at: dt.datetime
    action: str
    actor_label: str
    hash: str


class ManifestDetailOut(ManifestOut):
    lines: list[LineOut]
    timeline: list[TimelineOut]

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())


class ContainerIn(Schema):
    request_id: uuid.UUID
    waste_code: str = Field(max_length=10)
    weight_kg: Decimal = Field(gt=0, le=100000, max_digits=11, decimal_places=2)
    container_code: str = Field(min_length=1, max_length=64)


class ContainerOut(Schema):
    manifest_id: uuid.UUID
    manifest_number: str
    line: LineOut


class SignIn(Schema):
    method: Literal["session", "code", "delegated"]
    signature_code: str | None = Field(default=None, max_length=64)


class LineReceiptIn(Schema):
    received_weight_kg: Decimal = Field(gt=0, le=100000, max_digits=11, decimal_places=2)
    decision: Literal["accepted", "partly_accepted", "rejected"] | None = Field(
        default=None, description="required when there is a discrepancy; default accepted"
    )
    accepted_weight_kg: Decimal | None = Field(
        default=None, gt=0, le=100000, max_digits=11, decimal_places=2, description="for partly_accepted"
    )
    discrepancies: list[Literal["name", "quantity", "characteristics", "form", "packaging"]] = Field(
        default_factory=list, description="办法 Art. 18 discrepancy types"
    )
    note: str = Field(default="", max_length=300)


class ReceiveIn(Schema):
    lines: dict[str, LineReceiptIn] = Field(description="line id → its receipt; every line of the manifest")


class ContainerLabelIn(Schema):
    site_id: uuid.UUID
    waste_code: str = Field(max_length=10)
    weight_kg: Decimal = Field(gt=0, le=100000, max_digits=11, decimal_places=2)
    form: Literal["solid", "semi_solid", "liquid", "gas"]
    main_constituents: str = Field(min_length=1, max_length=200)
    hazardous_constituents: str = Field(min_length=1, max_length=200)
    precautions: str = Field(default="", max_length=300)
    produced_on: dt.date | None = None
    request_id: uuid.UUID | None = None


class LabelledContainerOut(Schema):
    id: uuid.UUID
    code: str
    producer: str
    site_id: uuid.UUID
    waste_code: str
    waste_name: str
    form: str
    hazard_characteristics: str
    main_constituents: str
    hazardous_constituents: str
    precautions: str
    contact_name: str
    contact_phone: str
    produced_on: dt.date
    weight_kg: Decimal

    @staticmethod
    def resolve_producer(obj: Any) -> str:
        return obj.producer.name

    @staticmethod
    def resolve_waste_code(obj: Any) -> str:
        return obj.waste_code.code


class LoadIn(Schema):
    request_id: uuid.UUID
    scanned: str = Field(min_length=1, max_length=300, description="the label's QR content or its code")
    weight_kg: Decimal = Field(gt=0, le=100000, max_digits=11, decimal_places=2)


class OnwardIn(Schema):
    receiver_id: uuid.UUID = Field(description="the licensed facility")
    line_ids: list[int] = Field(
        min_length=1, description="the stored containers: ids of the lines they came in on"
    )
    vehicle_id: uuid.UUID | None = None


class StockOut(Schema):
    line_id: int
    container_code: str
    waste_code: str
    accepted_weight_kg: Decimal
    producer: str
    manifest_number: str

    @staticmethod
    def resolve_line_id(obj: Any) -> int:
        return int(obj.pk)

    @staticmethod
    def resolve_waste_code(obj: Any) -> str:
        return obj.waste_code.code

    @staticmethod
    def resolve_producer(obj: Any) -> str:
        return obj.manifest.producer.name

    @staticmethod
    def resolve_manifest_number(obj: Any) -> str:
        return obj.manifest.number


class RefusalOut(Schema):
    detail: str
    reasons: list[str]
    scanned: str
    weight_kg: Decimal | None


class TreatmentIn(Schema):
    method: str = Field(max_length=10, description="利用处置方式代码, e.g. D10 (incineration), R9")
    note: str = Field(default="", max_length=300)


class CancelIn(Schema):
    reason: str = Field(min_length=1, max_length=300)


class CorrectionIn(Schema):
    reason: str = Field(min_length=1, max_length=300)
    changes: dict[str, Any] = Field(
        description='{"lines": {line_id: {"weight_kg": "…", "waste_code": "…"}}}',
    )


class CorrectionOut(Schema):
    id: uuid.UUID
    manifest_id: uuid.UUID
    status: str
    base_version: int
    reason: str
    changes: dict[str, Any]
    decided_at: dt.datetime | None
    decision_note: str
    created_at: dt.datetime


class DecisionIn(Schema):
    target: Literal["applied", "rejected", "withdrawn"]
    note: str = Field(default="", max_length=300)


class VersionOut(Schema):
    version: int
    created_at: dt.datetime
    snapshot: dict[str, Any]


class PaperLineIn(Schema):
    container_code: str = Field(min_length=1, max_length=64)
    waste_code: str = Field(max_length=10)
    weight_kg: Decimal = Field(gt=0, le=100000, max_digits=11, decimal_places=2)
    received_weight_kg: Decimal | None = Field(default=None, gt=0, le=100000, max_digits=11, decimal_places=2)


class PaperTimesIn(Schema):
    producer_signed_at: dt.datetime
    departed_at: dt.datetime
    delivered_at: dt.datetime
    received_at: dt.datetime


class PaperIn(Schema):
    producer_site_id: uuid.UUID
    paper_reference: str = Field(min_length=1, max_length=64)
    times: PaperTimesIn
    lines: list[PaperLineIn] = Field(min_length=1)


def _detail(request: HttpRequest, manifest_id: Any) -> Any:
    obj = manifest_get_visible_to(request.user, manifest_id)
    if obj is None:
        raise NotFound("联单不存在 / no such manifest", field="manifest_id")
    obj.timeline = list(object_timeline(request.user, object_type="manifests.manifest", object_id=obj.pk))
    return obj


@router.get("/manifests", response=list[ManifestOut], summary="Manifests you may see")
@paginate(Pagination)
def list_manifests(request: HttpRequest, status: ManifestStatus | None = None) -> Any:
    return manifest_list_visible_to(request.user, status=status)


# Declared before /manifests/{manifest_id}: URL patterns match in order, and that one would take
# "containers" for an id and answer POST with 405.
@router.post(
    "/manifests/containers",
    response={201: ContainerOut, **WRITE_ERRORS},
    summary="Record a weighed container at a stop (creates the producer's draft manifest for the trip)",
)
def add_container(request: HttpRequest, payload: ContainerIn) -> Any:
    line = manifest_add_container(actor=request.user, **payload.dict())
    return 201, {"manifest_id": line.manifest_id, "manifest_number": line.manifest.number, "line": line}


@router.post(
    "/containers",
    response={201: LabelledContainerOut, **WRITE_ERRORS},
    tags=["containers"],
    summary="Label a container (HJ 1276-2022): by the producer or its collector's driver",
)
def label_container(request: HttpRequest, payload: ContainerLabelIn) -> Any:
    return 201, container_label(actor=request.user, **payload.dict())


def _container(request: HttpRequest, code: str) -> Container:
    found = (
        Container.objects.visible_to(request.user)
        .select_related("producer", "waste_code__category")
        .filter(code=code.upper())
        .first()
    )
    if found is None:
        raise NotFound("容器不存在 / no such container", field="code")
    return found


@router.get("/containers/{code}", response={200: LabelledContainerOut, 404: ErrorOut}, tags=["containers"])
def get_container(request: HttpRequest, code: str) -> Any:
    return _container(request, code)


@router.get(
    "/containers/{code}/label.pdf",
    response={200: None, 404: ErrorOut},
    tags=["containers"],
    summary="The container's label as PDF: layout=label (100 × 100 mm) or a4",
)
def get_label(request: HttpRequest, code: str, layout: Literal["label", "a4"] = "label") -> Any:
    container = _container(request, code)
    content = labels_pdf([container], base_url=request.build_absolute_uri("/"), layout=layout)
    return HttpResponse(content, content_type="application/pdf")


@router.post(
    "/manifests/load",
    response={201: LineOut, 422: RefusalOut, **WRITE_ERRORS},
    summary="Load a labelled container at a stop (办法 Art. 13); a label that disagrees is refused and recorded",
)
def load_container(request: HttpRequest, payload: LoadIn) -> Any:
    result = container_load(actor=request.user, **payload.dict())
    if result.refusal is not None:
        return 422, result.refusal
    return 201, result.line


@router.get(
    "/manifests/stock",
    response=list[StockOut],
    summary="The containers in your warehouse: received and not yet shipped on",
)
def list_stock(request: HttpRequest) -> Any:
    membership = request.user.current_membership  # type: ignore[union-attr]
    if membership is None or membership.organization.kind != "collector":
        return []
    return list(stock_lines(membership.organization)[:1000])


@router.post(
    "/manifests/onward",
    response={201: ManifestDetailOut, **WRITE_ERRORS},
    summary="Draft an onward manifest from your warehouse to a licensed facility (办法 Art. 31)",
)
def create_onward(request: HttpRequest, payload: OnwardIn) -> Any:
    manifest = manifest_onward_create(actor=request.user, **payload.dict())
    return 201, _detail(request, manifest.pk)


@router.post(
    "/manifests/paper",
    response={201: ManifestDetailOut, **WRITE_ERRORS},
    summary="Enter a transfer made on a paper manifest (办法 Art. 20: within 10 working days)",
)
def enter_paper(request: HttpRequest, payload: PaperIn) -> Any:
    data = payload.dict()
    lines = [
        {**line, "received_weight_kg": line["received_weight_kg"] or line["weight_kg"]}
        for line in data["lines"]
    ]
    manifest = manifest_paper_enter(
        actor=request.user,
        producer_site_id=data["producer_site_id"],
        paper_reference=data["paper_reference"],
        times=data["times"],
        lines=lines,
    )
    return 201, _detail(request, manifest.pk)


@router.post(
    "/manifests/corrections/{correction_id}",
    response={200: CorrectionOut, **WRITE_ERRORS},
    summary="Apply or reject (the other party) or withdraw (the proposer) an open correction",
)
def decide_correction(request: HttpRequest, correction_id: uuid.UUID, payload: DecisionIn) -> Any:
    return correction_decide(actor=request.user, correction_id=correction_id, **payload.dict())


@router.get("/manifests/{manifest_id}", response={200: ManifestDetailOut, 404: ErrorOut})
def get_manifest(request: HttpRequest, manifest_id: uuid.UUID) -> Any:
    return _detail(request, manifest_id)


class CheckOut(Schema):
    errors: list[dict[str, str]]
    warnings: list[dict[str, str]]


@router.get(
    "/manifests/{manifest_id}/check",
    response={200: CheckOut, 404: ErrorOut},
    summary="The checks a signature runs (licences, permits, the filed management plan): errors and warnings",
)
def check(request: HttpRequest, manifest_id: uuid.UUID) -> Any:
    return manifest_check(_detail(request, manifest_id)).as_dict()


@router.get(
    "/manifests/{manifest_id}/document.pdf",
    response={200: None, 404: ErrorOut},
    summary="The manifest as PDF, with its signatures and timeline",
)
def get_document(request: HttpRequest, manifest_id: uuid.UUID) -> Any:
    manifest = _detail(request, manifest_id)
    return HttpResponse(manifest_pdf(manifest, timeline=manifest.timeline), content_type="application/pdf")


@router.post("/manifests/{manifest_id}/sign", response={200: ManifestDetailOut, **WRITE_ERRORS})
def sign(request: HttpRequest, manifest_id: uuid.UUID, payload: SignIn) -> Any:
    manifest_sign(actor=request.user, manifest_id=manifest_id, **payload.dict())
    return _detail(request, manifest_id)


@router.post("/manifests/{manifest_id}/depart", response={200: ManifestDetailOut, **WRITE_ERRORS})
def depart(request: HttpRequest, manifest_id: uuid.UUID) -> Any:
    manifest_depart(actor=request.user, manifest_id=manifest_id)
    return _detail(request, manifest_id)


@router.post("/manifests/{manifest_id}/deliver", response={200: ManifestDetailOut, **WRITE_ERRORS})
def deliver(request: HttpRequest, manifest_id: uuid.UUID) -> Any:
    manifest_deliver(actor=request.user, manifest_id=manifest_id)
    return _detail(request, manifest_id)


@router.post(
    "/manifests/{manifest_id}/receive",
    response={200: ManifestDetailOut, **WRITE_ERRORS},
    summary="Confirm receipt: per line weight, discrepancies and decision (办法 Art. 18)",
)
def receive(request: HttpRequest, manifest_id: uuid.UUID, payload: ReceiveIn) -> Any:
    manifest_receive(actor=request.user, manifest_id=manifest_id, lines=payload.dict()["lines"])
    return _detail(request, manifest_id)


@router.post("/manifests/{manifest_id}/treatment", response={200: ManifestDetailOut, **WRITE_ERRORS})
def treatment(request: HttpRequest, manifest_id: uuid.UUID, payload: TreatmentIn) -> Any:
    manifest_record_treatment(actor=request.user, manifest_id=manifest_id, **payload.dict())
    return _detail(request, manifest_id)


@router.post("/manifests/{manifest_id}/cancel", response={200: ManifestDetailOut, **WRITE_ERRORS})
def cancel(request: HttpRequest, manifest_id: uuid.UUID, payload: CancelIn) -> Any:
    manifest_cancel(actor=request.user, manifest_id=manifest_id, reason=payload.reason)
    return _detail(request, manifest_id)


@router.post(
    "/manifests/{manifest_id}/corrections",
    response={201: CorrectionOut, **WRITE_ERRORS},
    summary="Propose a correction of a signed manifest (a new version once the other party applies it)",
)
def open_correction(request: HttpRequest, manifest_id: uuid.UUID, payload: CorrectionIn) -> Any:
    return 201, correction_open(actor=request.user, manifest_id=manifest_id, **payload.dict())


@router.get("/manifests/{manifest_id}/corrections", response={200: list[CorrectionOut], 404: ErrorOut})
def list_corrections(request: HttpRequest, manifest_id: uuid.UUID) -> Any:
    return list(_detail(request, manifest_id).corrections.order_by("created_at"))


@router.get(
    "/manifests/{manifest_id}/versions/{version}",
    response={200: VersionOut, 404: ErrorOut},
    summary="A superseded version of a manifest, as it was",
)
def get_version(request: HttpRequest, manifest_id: uuid.UUID, version: int) -> Any:
    manifest = _detail(request, manifest_id)
    found = ManifestVersion.objects.filter(manifest=manifest, version=version).first()
    if found is None:
        raise NotFound("没有该版本 / no such superseded version", field="version")
    return found
