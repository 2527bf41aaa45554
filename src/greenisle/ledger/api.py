import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.ledger.models import RecordType
from greenisle.ledger.selectors import ledger_list_visible_to

router = Router(tags=["ledger"], auth=person_auth)


class LedgerRecordOut(Schema):
    id: uuid.UUID
    organization: str
    site_id: uuid.UUID
    record_type: str
    batch_code: str
    source_batch_code: str
    waste_code: str
    container_code: str
    weight_kg: Decimal
    occurred_at: dt.datetime
    manifest_id: uuid.UUID | None

    @staticmethod
    def resolve_organization(obj: Any) -> str:
        return obj.organization.name

    @staticmethod
    def resolve_waste_code(obj: Any) -> str:
        return obj.waste_code.code


@router.get("/ledger", response=list[LedgerRecordOut], summary="Ledger records (HJ 1259) you may see")
@paginate(Pagination)
def list_ledger(request: HttpRequest, record_type: RecordType | None = None) -> Any:
    return ledger_list_visible_to(request.user, record_type=record_type)
