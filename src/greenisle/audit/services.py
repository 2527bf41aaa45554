"""Writing to the audit chain. Call inside the transaction of the change being recorded."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from greenisle.audit import chain
from greenisle.audit.models import Event

# Any constant works: it only has to be the same for every writer of the chain.
_PG_CHAIN_LOCK = 0x67726565


def _lock_chain() -> None:
    # Two writers must not both link to the same previous event. PostgreSQL: a transaction-level
    # advisory lock. SQLite: transactions begin IMMEDIATE, which already serialises writers.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_CHAIN_LOCK])


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(chain.canonical(payload))
    return result


def event_record(
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    actor: Any = None,
    organization: Any = None,
    subject_organization: Any = None,
    division_code: str = "",
    payload: dict[str, Any] | None = None,
) -> Event:
    """Append one event. Must run inside the caller's transaction (the change and its event commit together)."""
    if not connection.in_atomic_block:
        raise RuntimeError("event_record must be called inside the transaction of the change")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    actor_label = str(actor) if actor is not None else "system"
    _lock_chain()
    last = Event.objects.order_by("-id").only("hash").first()
    event = Event(
        created_at=timezone.now(),
        actor=actor_obj,
        actor_label=actor_label[:200],
        organization=organization,
        subject_organization=subject_organization,
        division_code=division_code or "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        payload=_jsonable(payload or {}),
        prev_hash=last.hash if last else chain.GENESIS,
    )
    event.hash = chain.event_hash(event.prev_hash, event.chain_fields())
    event.save(force_insert=True)
    return event


@transaction.atomic
def chain_verify(*, batch_size: int = 2000) -> chain.ChainBreak | None:
    def links() -> Any:
        last_id = 0
        while True:
            batch = list(Event.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
            if not batch:
                return
            for event in batch:
                yield chain.ChainLink(event.id, event.prev_hash, event.hash, event.chain_fields())
            last_id = batch[-1].id

    return chain.verify(links())


def transition_apply(
    *,
    table: Any,
    obj: models.Model,
    target: str,
    role: str,
    actor: Any,
    organization: Any,
    subject_organization: Any,
    division_code: str,
    payload: dict[str, Any] | None = None,
    extra_fields: dict[str, Any] | None = None,
    status_field: str = "status",
) -> Event:
    """Check ``table`` for source → target, write the new state (and ``extra_fields``) and its event, in the
    caller's transaction. The caller has locked the row (select_for_update)."""
    from greenisle.core.errors import Conflict
    from greenisle.core.transitions import TransitionRefused

    source = getattr(obj, status_field)
    try:
        row = table.check(source=source, target=target, role=role, obj=obj)
    except TransitionRefused as exc:
        raise Conflict(exc.message, field=status_field, code=exc.code) from exc
    setattr(obj, status_field, target)
    update_fields = [status_field]
    for name, value in (extra_fields or {}).items():
        setattr(obj, name, value)
        update_fields.append(name)
    if any(f.name == "updated_at" for f in obj._meta.get_fields()):
        update_fields.append("updated_at")
    obj.save(update_fields=update_fields)
    return event_record(
        action=row.action,
        obj=obj,
        actor=actor,
        organization=organization,
        subject_organization=subject_organization,
        division_code=division_code,
        payload={"from": source, "to": target, "role": role, **(payload or {})},
    )
