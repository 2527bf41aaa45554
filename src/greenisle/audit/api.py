import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.pagination import paginate

from greenisle.api.auth import person_auth
from greenisle.api.pagination import Pagination
from greenisle.audit.models import Event

router = Router(tags=["audit"], auth=person_auth)


class EventOut(Schema):
    id: int
    created_at: dt.datetime
    actor_label: str
    organization_id: str | None
    action: str
    object_type: str
    object_id: str
    division_code: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    @staticmethod
    def resolve_organization_id(obj: Any) -> str | None:
        return str(obj.organization_id) if obj.organization_id else None


@router.get("/audit-events", response=list[EventOut], summary="Audit events you may see, newest first")
@paginate(Pagination)
def list_events(request: HttpRequest, object_id: str | None = None, action: str | None = None) -> Any:
    qs = Event.objects.visible_to(request.user).order_by("-id")
    if object_id:
        qs = qs.filter(object_id=object_id)
    if action:
        qs = qs.filter(action=action)
    return qs
