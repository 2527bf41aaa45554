"""The event log: every service writes dotted actions into one hash chain; tampering is named."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from greenisle.audit.chain import GENESIS
from greenisle.audit.models import Event
from greenisle.audit.services import NewEvent, chain_verify, event_record, events_record
from greenisle.manifests.receipt import manifest_receive

DOTTED = re.compile(r"[a-z_]+\.[a-z_]+\.[a-z_]+")


@pytest.fixture
def received_manifest(world, delivered_manifest):
    return manifest_receive(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        lines={line.pk: line.weight_kg for line in delivered_manifest.lines.all()},
    )


def verify_output() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_core_loop_services_write_dotted_actions(received_manifest):
    actions = list(Event.objects.values_list("action", flat=True))
    assert all(DOTTED.fullmatch(a) for a in actions), actions
    assert set(actions) == {
        "dispatch.pickup_request.opened",
        "dispatch.trip.created",
        "dispatch.pickup_request.assigned",
        "manifests.manifest.created",
        "manifests.manifest.line_added",
        "manifests.manifest.signed",
        "ledger.record.production",
        "dispatch.pickup_request.collected",
        "manifests.manifest.departed",
        "manifests.manifest.delivered",
        "manifests.manifest.received",
        "ledger.record.storage_in",
        "ledger.record.outsourced_disposal",
    }


def test_events_link_each_to_the_one_before(received_manifest):
    events = list(Event.objects.order_by("id"))
    assert events[0].prev_hash == GENESIS
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash


def test_events_record_who_acted_for_whom_and_where(world, received_manifest):
    signed = Event.objects.get(action="manifests.manifest.signed")
    assert (signed.actor, signed.actor_label, signed.organization) == (world.alice, "李爱丽", world.producer)
    assert (signed.object_type, signed.object_id) == ("manifests.manifest", str(received_manifest.pk))
    opened = Event.objects.get(action="dispatch.pickup_request.opened")
    assert (opened.actor, opened.actor_label) == (None, "system")


def test_verify_passes_on_a_fresh_chain(received_manifest):
    count = Event.objects.count()
    assert count > 10
    assert chain_verify() is None
    assert verify_output().strip() == f"audit chain intact: {count} events"


def test_verify_passes_on_an_empty_chain(db):
    assert "intact: 0 events" in verify_output()


def test_verify_passes_with_chinese_and_nested_payloads(world):
    event_record(
        action="organizations.organization.updated", obj=world.producer, actor=world.alice,
        organization=world.producer, subject_organization=world.producer, division_code="320602",
        payload={"name": "南通某汽修有限公司", "weights": {"RQ-0001": 35.5}, "codes": ["900-214-08"], "none": None},
    )  # fmt: skip
    assert chain_verify() is None


def test_event_record_refuses_to_run_outside_a_transaction(world):
    # Inside a test the connection is always in an atomic block; simulate the caller's mistake.
    in_block = connection.in_atomic_block
    connection.in_atomic_block = False
    try:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            event_record(action="x.y.z", object_type="x", object_id="1")
    finally:
        connection.in_atomic_block = in_block


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)
def test_database_refuses_update_and_delete_of_events(received_manifest):
    event = Event.objects.order_by("id")[3]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(action="manifests.manifest.cancelled")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Event.objects.filter(pk=event.pk).delete()
    assert Event.objects.get(pk=event.pk).action == event.action


def _plain_update_is_blocked_on_postgresql(event: Event) -> None:
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            Event.objects.filter(pk=event.pk).update(actor_label="someone else")


def test_verify_names_an_edited_event(received_manifest, audit_table_writable):
    target = Event.objects.get(action="manifests.manifest.signed")
    _plain_update_is_blocked_on_postgresql(target)
    with audit_table_writable():
        Event.objects.filter(pk=target.pk).update(payload={**target.payload, "method": "delegated"})
    _plain_update_is_blocked_on_postgresql(target)  # the trigger is back
    with pytest.raises(CommandError, match=f"#{target.pk}\\b") as failure:
        call_command("audit_verify")
    assert "altered" in str(failure.value)


def test_verify_names_an_event_whose_time_was_moved(received_manifest, audit_table_writable):
    target = Event.objects.get(action="manifests.manifest.received")
    with audit_table_writable():
        Event.objects.filter(pk=target.pk).update(created_at=target.created_at.replace(year=2020))
    with pytest.raises(CommandError, match=f"#{target.pk}\\b"):
        call_command("audit_verify")


def test_verify_names_the_event_after_a_deleted_one(received_manifest, audit_table_writable):
    events = list(Event.objects.order_by("id"))
    removed, following = events[4], events[5]
    _plain_update_is_blocked_on_postgresql(removed)
    with audit_table_writable():
        Event.objects.filter(pk=removed.pk).delete()
    with pytest.raises(CommandError, match=f"#{following.pk}\\b") as failure:
        call_command("audit_verify")
    assert "removed" in str(failure.value)


def test_verify_names_an_event_rehashed_after_editing_by_its_successor(
    received_manifest, audit_table_writable
):
    # A forger who also recomputes the edited event's hash still breaks the next link.
    from greenisle.audit.chain import event_hash

    events = list(Event.objects.order_by("id"))
    target, following = events[2], events[3]
    target.actor_label = "forger"
    with audit_table_writable():
        Event.objects.filter(pk=target.pk).update(
            actor_label="forger", hash=event_hash(target.prev_hash, target.chain_fields())
        )
    with pytest.raises(CommandError, match=f"#{following.pk}\\b"):
        call_command("audit_verify")


def test_verify_reads_the_chain_in_batches(received_manifest, audit_table_writable):
    last = Event.objects.order_by("-id").first()
    assert chain_verify(batch_size=3) is None
    with audit_table_writable():
        Event.objects.filter(pk=last.pk).update(object_id="tampered")
    broken = chain_verify(batch_size=3)
    assert broken is not None and broken.ident == last.pk


def test_events_record_appends_several_in_order_with_one_lock(world):
    before = Event.objects.count()
    written = events_record(
        [NewEvent(action="x.y.first", object_type="x", object_id=str(k), payload={"k": k}) for k in range(3)]
    )
    assert events_record([]) == []
    stored = list(Event.objects.order_by("id"))[before:]
    assert [e.object_id for e in stored] == ["0", "1", "2"]
    assert [e.pk for e in written] == [e.pk for e in stored]
    assert [e.prev_hash for e in stored[1:]] == [e.hash for e in stored[:-1]]
    assert chain_verify() is None
