"""Writing to the audit chain. Call inside the transaction of the change being recorded."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
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


@dataclasses.dataclass(frozen=True)
class NewEvent:
    """One event to append; the keywords of ``event_record``."""

    action: str
    obj: models.Model | None = None
    object_type: str = ""
    object_id: str = ""
    actor: Any = None
    organization: Any = None
    subject_organization: Any = None
    division_code: str = ""
    payload: dict[str, Any] | None = None


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
    return events_record(
        [
            NewEvent(
                action=action,
                obj=obj,
                object_type=object_type,
                object_id=object_id,
                actor=actor,
                organization=organization,
                subject_organization=subject_organization,
                division_code=division_code,
                payload=payload,
            )
        ]
    )[0]


def events_record(new: Sequence[NewEvent]) -> list[Event]:
    """Append several events in order, with one lock of the chain and one insert: what a batch of
    readings opening many pickup requests at once needs. Same transaction rule as ``event_record``."""
    if not connection.in_atomic_block:
        raise RuntimeError("event_record must be called inside the transaction of the change")
    if not new:
        return []
    _lock_chain()
    last = Event.objects.order_by("-id").only("hash").first()
    prev_hash = last.hash if last else chain.GENESIS
    events = []
    for spec in new:
        obj = spec.obj
        object_type = spec.object_type or (obj._meta.label_lower if obj is not None else "")
        object_id = spec.object_id or (str(obj.pk) if obj is not None else "")
        actor = spec.actor
        actor_obj = actor if getattr(actor, "is_authenticated", False) else None
        actor_label = str(actor) if actor is not None else "system"
        event = Event(
            created_at=timezone.now(),
            actor=actor_obj,
            actor_label=actor_label[:200],
            organization=spec.organization,
            subject_organization=spec.subject_organization,
            division_code=spec.division_code or "",
            action=spec.action,
            object_type=object_type,
            object_id=object_id,
            payload=_jsonable(spec.payload or {}),
            prev_hash=prev_hash,
        )
        event.hash = prev_hash = chain.event_hash(event.prev_hash, event.chain_fields())
        events.append(event)
    if len(events) == 1:
        events[0].save(force_insert=True)
    else:
        Event.objects.bulk_create(events)
    return events


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
