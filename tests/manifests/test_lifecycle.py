"""The manifest lifecycle under the 2021 transfer rules: the transition table exhaustively, delivery
and the Art. 18 receipt deadline, receipt per line with discrepancies, treatment, cancelling,
corrections as new versions, and paper manifests (Art. 20)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.choices import CorrectionStatus, LineDecision, ManifestStatus, ReceiptOutcome
from greenisle.manifests.corrections import correction_decide, correction_open
from greenisle.manifests.models import Manifest, ManifestCorrection, ManifestVersion
from greenisle.manifests.paper import RULE_PAPER_LATE, manifest_paper_enter
from greenisle.manifests.receipt import (
    RULE_RECEIPT_OVERDUE,
    manifest_deadlines_sweep,
    manifest_receive,
    manifest_record_treatment,
)
from greenisle.manifests.services import (
    manifest_actions,
    manifest_cancel,
    manifest_deliver,
    manifest_depart,
)
from greenisle.notifications.models import Notification
from greenisle.supervision.models import Finding

LOCAL = dt.timezone(dt.timedelta(hours=8))

# --- the table (exhaustively in tests/core/test_transitions.py) as pages offer it -----------------


def test_pages_offer_what_the_table_allows(world, signed_manifest):
    driver = world.driver.current_membership
    assert manifest_actions(signed_manifest, driver) == {"in_transit"}
    assert manifest_actions(signed_manifest, world.alice.current_membership) == set()
    assert manifest_actions(signed_manifest, world.receiver.current_membership) == set()


# --- delivery and the Art. 18 deadline ----------------------------------------------------------------


def _back_date(manifest, *, signed, departed):
    Manifest.objects.filter(pk=manifest.pk).update(producer_signed_at=signed, departed_at=departed)


def test_delivery_sets_receipt_due_five_working_days_later_across_spring_festival(
    world, departed_manifest, monkeypatch
):
    # Thursday 12 Feb 2026: Fri 13 (1), make-up Saturday 14 (2), the holiday 15–23 Feb, Tue 24 (3),
    # Wed 25 (4), Thu 26 (5).
    at = dt.datetime(2026, 2, 12, 15, 0, tzinfo=LOCAL)
    _back_date(departed_manifest, signed=at - dt.timedelta(hours=3), departed=at - dt.timedelta(hours=2))
    monkeypatch.setattr(timezone, "now", lambda: at)
    manifest = manifest_deliver(actor=world.driver, manifest_id=departed_manifest.pk)
    assert manifest.status == ManifestStatus.DELIVERED
    assert manifest.receipt_due_on == dt.date(2026, 2, 26)
    event = Event.objects.get(action="manifests.manifest.delivered", object_id=str(manifest.pk))
    assert event.payload["receipt_due_on"] == "2026-02-26"


def test_the_receiver_also_records_delivery(world, departed_manifest):
    manifest = manifest_deliver(actor=world.receiver, manifest_id=departed_manifest.pk)
    assert manifest.delivered_by == world.receiver


def test_producer_cannot_record_delivery(world, departed_manifest):
    with pytest.raises(PermissionDenied):
        manifest_deliver(actor=world.alice, manifest_id=departed_manifest.pk)


def test_delivery_before_departure_is_a_conflict(world, signed_manifest):
    with pytest.raises(Conflict):
        manifest_deliver(actor=world.driver, manifest_id=signed_manifest.pk)


def test_a_signature_is_never_earlier_than_the_previous_one(world, signed_manifest, monkeypatch):
    # The server's clock is behind the one that recorded the producer's signature.
    signed_at = Manifest.objects.get(pk=signed_manifest.pk).producer_signed_at
    monkeypatch.setattr(timezone, "now", lambda: signed_at - dt.timedelta(minutes=7))
    manifest = manifest_depart(actor=world.driver, manifest_id=signed_manifest.pk)
    assert manifest.departed_at == signed_at


def _deliver_on(world, manifest, day: dt.date, monkeypatch):
    at = dt.datetime.combine(day, dt.time(10, 0), tzinfo=LOCAL)
    _back_date(manifest, signed=at - dt.timedelta(hours=2), departed=at - dt.timedelta(hours=1))
    with monkeypatch.context() as m:
        m.setattr(timezone, "now", lambda: at)
        return manifest_deliver(actor=world.driver, manifest_id=manifest.pk)


def test_sweep_reminds_the_receiver_the_working_day_before_and_once(world, departed_manifest, monkeypatch):
    manifest = _deliver_on(world, departed_manifest, dt.date(2026, 11, 2), monkeypatch)  # a Monday
    assert manifest.receipt_due_on == dt.date(2026, 11, 9)
    friday = dt.datetime(2026, 11, 5, 9, 0, tzinfo=LOCAL)
    assert manifest_deadlines_sweep(now=friday) == {"reminded": 0, "overdue": 0}
    last_friday = dt.datetime(2026, 11, 6, 9, 0, tzinfo=LOCAL)  # one working day before Monday 9th
    assert manifest_deadlines_sweep(now=last_friday) == {"reminded": 1, "overdue": 0}
    assert manifest_deadlines_sweep(now=last_friday) == {"reminded": 0, "overdue": 0}
    note = Notification.objects.get(organization=world.collector, kind="manifest.receipt_due")
    assert "2026-11-09" in note.message
    assert not Finding.objects.exists()


def test_sweep_raises_one_finding_after_the_fifth_working_day(world, departed_manifest, monkeypatch):
    manifest = _deliver_on(world, departed_manifest, dt.date(2026, 11, 2), monkeypatch)
    on_due_day = dt.datetime(2026, 11, 9, 17, 0, tzinfo=LOCAL)
    assert manifest_deadlines_sweep(now=on_due_day)["overdue"] == 0
    after = dt.datetime(2026, 11, 10, 9, 0, tzinfo=LOCAL)
    assert manifest_deadlines_sweep(now=after)["overdue"] == 1
    assert manifest_deadlines_sweep(now=after)["overdue"] == 0
    finding = Finding.objects.get(rule=RULE_RECEIPT_OVERDUE)
    assert (finding.organization, finding.object_id, finding.severity) == (
        world.collector,
        str(manifest.pk),
        "B",
    )
    assert finding.evidence["working_days_late"] == 1
    assert Event.objects.filter(action="supervision.finding.raised").count() == 1


def test_the_maintenance_command_runs_the_sweep(world, departed_manifest, monkeypatch):
    import json
    from io import StringIO

    from django.core.management import call_command

    _deliver_on(world, departed_manifest, dt.date(2026, 11, 2), monkeypatch)
    out = StringIO()
    call_command("manifests_maintain", stdout=out)  # today is past 9 Nov 2026
    assert json.loads(out.getvalue())["overdue"] == 1
    assert Finding.objects.filter(rule=RULE_RECEIPT_OVERDUE).count() == 1


def test_sweep_ignores_manifests_already_received(world, delivered_manifest):
    lines = {line.pk: line.weight_kg for line in delivered_manifest.lines.all()}
    manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=lines)
    later = timezone.now() + dt.timedelta(days=30)
    assert manifest_deadlines_sweep(now=later) == {"reminded": 0, "overdue": 0}


# --- receipt per line ----------------------------------------------------------------------------------


def _lines(manifest):
    return {line.container_code: line for line in manifest.lines.order_by("id")}


def test_weight_beyond_tolerance_is_a_quantity_discrepancy_that_needs_a_decision(world, delivered_manifest):
    oil, rags = _lines(delivered_manifest).values()  # 35.5 kg and 12 kg declared
    with pytest.raises(ServiceError) as refused:
        manifest_receive(
            actor=world.receiver,
            manifest_id=delivered_manifest.pk,
            lines={oil.pk: "30.0", rags.pk: "12"},  # 15.5 % less than declared
        )
    assert refused.value.field == f"lines.{oil.pk}.decision"
    assert Manifest.objects.get(pk=delivered_manifest.pk).status == ManifestStatus.DELIVERED


def test_partly_accepted_and_rejected_lines_tell_the_producer_and_store_only_what_was_accepted(
    world, delivered_manifest
):
    oil, rags = _lines(delivered_manifest).values()
    manifest = manifest_receive(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        lines={
            oil.pk: {
                "received_weight_kg": "30.0",
                "decision": "partly_accepted",
                "accepted_weight_kg": "25",
                "discrepancies": ["packaging"],
                "note": "桶盖破损 / lid broken",
            },
            rags.pk: {"received_weight_kg": "12", "decision": "rejected", "discrepancies": ["name"]},
        },
    )
    assert manifest.receipt_outcome == ReceiptOutcome.PARTLY_ACCEPTED
    oil, rags = _lines(manifest).values()
    assert (oil.decision, oil.accepted_weight_kg, oil.discrepancies) == (
        LineDecision.PARTLY_ACCEPTED,
        Decimal("25.00"),
        ["packaging", "quantity"],  # the weight's difference is found without being named
    )
    assert (rags.decision, rags.accepted_weight_kg) == (LineDecision.REJECTED, Decimal("0.00"))
    stored = LedgerRecord.objects.filter(manifest=manifest, record_type=RecordType.STORAGE_IN)
    assert [(r.container_code, r.weight_kg) for r in stored] == [("RQ-0001", Decimal("25.00"))]
    told = Notification.objects.get(organization=world.producer, kind="manifest.discrepancy")
    assert "RQ-0001" in told.message and "RQ-0002" in told.message
    event = Event.objects.get(action="manifests.manifest.received", object_id=str(manifest.pk))
    assert event.payload["outcome"] == "partly_accepted"


def test_a_fully_rejected_manifest_has_no_treatment(world, delivered_manifest):
    manifest_receive(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        lines={
            line.pk: {
                "received_weight_kg": str(line.weight_kg),
                "decision": "rejected",
                "note": "未按约定分类",
            }
            for line in delivered_manifest.lines.all()
        },
    )
    assert Manifest.objects.get(pk=delivered_manifest.pk).receipt_outcome == ReceiptOutcome.REJECTED
    with pytest.raises(Conflict):
        manifest_record_treatment(actor=world.receiver, manifest_id=delivered_manifest.pk, method="D10")


def test_partly_accepted_weight_must_be_less_than_received(world, delivered_manifest):
    oil, rags = _lines(delivered_manifest).values()
    with pytest.raises(ServiceError) as refused:
        manifest_receive(
            actor=world.receiver,
            manifest_id=delivered_manifest.pk,
            lines={
                oil.pk: {
                    "received_weight_kg": "35.5",
                    "decision": "partly_accepted",
                    "accepted_weight_kg": "40",
                },
                rags.pk: "12",
            },
        )
    assert refused.value.field == f"lines.{oil.pk}.accepted_weight_kg"


def test_unknown_discrepancy_type_is_refused_naming_it(world, delivered_manifest):
    oil, rags = _lines(delivered_manifest).values()
    with pytest.raises(ServiceError) as refused:
        manifest_receive(
            actor=world.receiver,
            manifest_id=delivered_manifest.pk,
            lines={oil.pk: {"received_weight_kg": "35.5", "discrepancies": ["colour"]}, rags.pk: "12"},
        )
    assert refused.value.field == f"lines.{oil.pk}.discrepancies"


# --- treatment -------------------------------------------------------------------------------------------


@pytest.fixture
def received_manifest(world, delivered_manifest):
    lines = {line.pk: line.weight_kg for line in delivered_manifest.lines.all()}
    return manifest_receive(actor=world.receiver, manifest_id=delivered_manifest.pk, lines=lines)


def test_receiver_records_treatment(world, received_manifest):
    manifest = manifest_record_treatment(
        actor=world.receiver, manifest_id=received_manifest.pk, method="r9", note="再生基础油"
    )
    assert (manifest.status, manifest.treatment_method) == (ManifestStatus.TREATED, "R9")
    assert manifest.treated_at >= manifest.received_at


def test_unknown_treatment_method_is_refused(world, received_manifest):
    with pytest.raises(ServiceError) as refused:
        manifest_record_treatment(actor=world.receiver, manifest_id=received_manifest.pk, method="X1")
    assert refused.value.field == "method"


def test_producer_cannot_record_treatment(world, received_manifest):
    with pytest.raises(PermissionDenied):
        manifest_record_treatment(actor=world.alice, manifest_id=received_manifest.pk, method="D10")


# --- cancelling ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["alice", "driver"])
def test_producer_or_carrier_cancels_a_draft_with_a_reason(world, draft_manifest, persona):
    manifest = manifest_cancel(
        actor=getattr(world, persona), manifest_id=draft_manifest.pk, reason="重复创建"
    )
    assert (manifest.status, manifest.cancel_reason) == (ManifestStatus.CANCELLED, "重复创建")


def test_cancelling_needs_a_reason(world, draft_manifest):
    with pytest.raises(ServiceError) as refused:
        manifest_cancel(actor=world.alice, manifest_id=draft_manifest.pk, reason="  ")
    assert refused.value.field == "reason"


def test_a_signed_manifest_is_not_cancelled_but_corrected(world, signed_manifest):
    with pytest.raises(Conflict):
        manifest_cancel(actor=world.alice, manifest_id=signed_manifest.pk, reason="搞错了")


# --- corrections -----------------------------------------------------------------------------------------


def _propose(world, manifest, actor=None, weight="33.0"):
    oil = _lines(manifest)["RQ-0001"]
    return correction_open(
        actor=actor or world.driver,
        manifest_id=manifest.pk,
        reason="称重录入错误 / weighed wrongly",
        changes={"lines": {str(oil.pk): {"weight_kg": weight}}},
    )


def test_applied_correction_makes_a_new_version_and_keeps_the_old_one_readable(world, departed_manifest):
    correction = _propose(world, departed_manifest)
    assert correction.status == CorrectionStatus.OPEN
    correction_decide(actor=world.alice, correction_id=correction.pk, target="applied")
    manifest = Manifest.objects.get(pk=departed_manifest.pk)
    assert manifest.version == 2
    assert _lines(manifest)["RQ-0001"].weight_kg == Decimal("33.00")
    old = ManifestVersion.objects.get(manifest=manifest, version=1)
    assert {line["container_code"]: line["weight_kg"] for line in old.snapshot["lines"]} == {
        "RQ-0001": "35.50",
        "RQ-0002": "12.00",
    }
    assert Event.objects.filter(action="manifests.manifest.corrected", object_id=str(manifest.pk)).exists()


def test_only_one_correction_is_open_at_a_time(world, departed_manifest):
    _propose(world, departed_manifest)
    with pytest.raises(Conflict) as refused:
        _propose(world, departed_manifest, actor=world.alice, weight="34")
    assert refused.value.code == "correction_open"


def test_the_proposer_cannot_apply_its_own_correction_but_may_withdraw_it(world, departed_manifest):
    correction = _propose(world, departed_manifest)
    with pytest.raises(PermissionDenied):
        correction_decide(actor=world.dispatcher, correction_id=correction.pk, target="applied")
    correction_decide(actor=world.driver, correction_id=correction.pk, target="withdrawn")
    assert ManifestCorrection.objects.get(pk=correction.pk).status == CorrectionStatus.WITHDRAWN
    assert Manifest.objects.get(pk=departed_manifest.pk).version == 1
    _propose(world, departed_manifest)  # a new one may now be opened


def test_a_rejected_correction_changes_nothing(world, departed_manifest):
    correction = _propose(world, departed_manifest)
    correction_decide(actor=world.alice, correction_id=correction.pk, target="rejected", note="重量无误")
    assert _lines(Manifest.objects.get(pk=departed_manifest.pk))["RQ-0001"].weight_kg == Decimal("35.50")
    with pytest.raises(Conflict):
        correction_decide(actor=world.alice, correction_id=correction.pk, target="applied")


def test_a_producers_correction_is_decided_by_the_receiver(world, departed_manifest):
    correction = _propose(world, departed_manifest, actor=world.alice)
    with pytest.raises(PermissionDenied):
        correction_decide(actor=world.alice, correction_id=correction.pk, target="applied")
    correction_decide(actor=world.receiver, correction_id=correction.pk, target="applied")
    assert Manifest.objects.get(pk=departed_manifest.pk).version == 2


def test_a_draft_is_edited_not_corrected(world, draft_manifest):
    with pytest.raises(Conflict):
        _propose(world, draft_manifest)


def test_a_correction_that_changes_nothing_is_refused(world, departed_manifest):
    with pytest.raises(ServiceError) as refused:
        _propose(world, departed_manifest, weight="35.5")
    assert refused.value.field == "changes.lines"


def test_outsiders_cannot_correct(world, departed_manifest, bob):
    with pytest.raises(PermissionDenied):
        _propose(world, departed_manifest, actor=bob)


# --- paper manifests (Art. 20) ---------------------------------------------------------------------------


def _paper(world, ended: dt.datetime, **overrides):
    times = {
        "producer_signed_at": ended - dt.timedelta(hours=3),
        "departed_at": ended - dt.timedelta(hours=2),
        "delivered_at": ended - dt.timedelta(hours=1),
        "received_at": ended,
    }
    times.update(overrides.pop("times", {}))
    return manifest_paper_enter(
        actor=world.receiver,
        producer_site_id=world.site.pk,
        paper_reference=overrides.pop("reference", "JS-2026-000123"),
        times=times,
        lines=overrides.pop(
            "lines",
            [
                {
                    "container_code": "P-1",
                    "waste_code": "900-214-08",
                    "weight_kg": "20",
                    "received_weight_kg": "19.6",
                }
            ],
        ),
    )


def test_paper_manifest_entered_in_time_is_received_with_its_ledger(world):
    ended = timezone.now() - dt.timedelta(days=1)
    manifest = _paper(world, ended)
    assert (manifest.status, manifest.paper, manifest.paper_reference) == (
        ManifestStatus.RECEIVED,
        True,
        "JS-2026-000123",
    )
    assert len(manifest.number) == 14
    types = sorted(LedgerRecord.objects.filter(manifest=manifest).values_list("record_type", flat=True))
    assert types == ["outsourced_disposal", "production", "storage_in"]
    assert not Finding.objects.filter(rule=RULE_PAPER_LATE).exists()


def test_paper_manifest_entered_late_is_kept_and_raises_a_finding(world):
    ended = dt.datetime(2026, 9, 25, 16, 0, tzinfo=LOCAL)  # before the National Day holiday
    manifest = _paper(world, ended)
    # 10 working days after Fri 25 Sep 2026: 28–30 Sep, then 8, 9, make-up Sat 10, 12–15 Oct.
    assert manifest.paper_entry_due_on == dt.date(2026, 10, 15)
    finding = Finding.objects.get(rule=RULE_PAPER_LATE)
    assert finding.object_id == str(manifest.pk)


def test_paper_times_out_of_order_are_refused_naming_the_field(world):
    ended = timezone.now() - dt.timedelta(days=1)
    with pytest.raises(ServiceError) as refused:
        _paper(world, ended, times={"delivered_at": ended - dt.timedelta(hours=5)})
    assert refused.value.field == "times.delivered_at"
    assert not Manifest.objects.filter(paper=True).exists()


def test_paper_manifest_for_a_site_that_is_not_a_client_is_not_found(world, producer_b):
    from factories import SiteFactory

    other = SiteFactory(organization=producer_b)
    with pytest.raises(NotFound):
        manifest_paper_enter(
            actor=world.receiver,
            producer_site_id=other.pk,
            paper_reference="X",
            times={},
            lines=[],
        )
