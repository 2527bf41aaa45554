"""Stock in store from the ledger, the storage limits (固废法 Art. 81: one year; 90 working days for a
collection licence; local caps), the sweep, storage zones (GB 18597-2023) and the label check at receipt."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from factories import SiteFactory, waste_code

from greenisle.catalog.models import HazardCategory
from greenisle.core.errors import ServiceError
from greenisle.dispatch.models import WasteClassGroup
from greenisle.ledger.models import LedgerRecord, RecordType, StoragePolicy, StorageZone
from greenisle.ledger.services import ledger_record_add, ledger_record_reverse
from greenisle.ledger.storage import (
    APPROACHING,
    COLLECTION_HANDOVER,
    LOCAL_DAYS,
    LOCAL_TONNES,
    OK,
    ONE_YEAR,
    PASSED,
    inventory,
    storage_limits,
    storage_sweep,
    zone_for,
)
from greenisle.manifests.choices import ManifestStatus
from greenisle.manifests.corrections import correction_decide, correction_open
from greenisle.manifests.labels import container_label, container_load
from greenisle.manifests.models import Manifest, ManifestLine
from greenisle.manifests.receipt import manifest_receive
from greenisle.manifests.services import manifest_deliver, manifest_depart, manifest_sign
from greenisle.notifications.models import Notification
from greenisle.supervision.models import Finding

LOCAL = dt.timezone(dt.timedelta(hours=8))


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=LOCAL)


def stored_in(world, container, kg, when, *, code="900-214-08", facility_code="A-01", site=None):
    """The collector's storage-in of a container received from Alice's workshop (stock +1)."""
    return ledger_record_add(
        organization=world.collector,
        site=site or world.warehouse,
        record_type=RecordType.STORAGE_IN,
        waste_code=waste_code(code),
        container_code=container,
        weight_kg=Decimal(kg),
        occurred_at=when,
        counterparty=world.producer,
        external=True,
        facility_code=facility_code,
    )


def record(world, record_type, container, kg, when, *, organization=None, site=None, code="900-214-08"):
    return ledger_record_add(
        organization=organization or world.collector,
        site=site or world.warehouse,
        record_type=record_type,
        waste_code=waste_code(code),
        container_code=container,
        weight_kg=Decimal(kg),
        occurred_at=when,
    )


def by_kind(statuses, kind, container=""):
    return [s for s in statuses if s.kind == kind and s.container_code == container]


# --- inventory ------------------------------------------------------------------------------------------


def test_inventory_sums_stock_effects_with_reversals_in_two_queries(world, django_assert_num_queries):
    # C-1: 50 kg in; moved between the warehouse's own points (storage-out, effect 0): still 50 kg.
    stored_in(world, "C-1", "50", at(2025, 11, 20))
    record(world, RecordType.STORAGE_OUT, "C-1", "50", at(2025, 12, 1))
    # C-2: 20 kg in, reversed (a reversing entry carries −20 kg): nothing held.
    wrong = stored_in(world, "C-2", "20", at(2026, 1, 5))
    ledger_record_reverse(actor=world.receiver, record_id=wrong.pk, reason="录错容器")
    # C-3: 80 kg in, 30 kg handed to a facility (outsourced, effect −1): 50 kg held.
    stored_in(world, "C-3", "80", at(2026, 2, 1))
    record(world, RecordType.OUTSOURCED_DISPOSAL, "C-3", "30", at(2026, 3, 1))
    # C-4: 40 kg in on 1 April, reversed and entered again as 35 kg on 2 April: 35 kg held, and the
    # clock still starts on 1 April (re-entering does not reset it).
    first = stored_in(world, "C-4", "40", at(2026, 4, 1), facility_code="A-02")
    ledger_record_reverse(actor=world.receiver, record_id=first.pk, reason="重量有误")
    stored_in(world, "C-4", "35", at(2026, 4, 2), facility_code="A-03")
    # Alice's own ledger is hers, not the collector's.
    record(
        world,
        RecordType.PRODUCTION,
        "C-1",
        "99",
        at(2026, 1, 1),
        organization=world.producer,
        site=world.site,
    )

    with django_assert_num_queries(2):
        items = inventory(world.collector, today=dt.date(2026, 6, 1))

    assert [(i.container_code, i.waste_code, i.weight_kg) for i in items] == [
        ("C-1", "900-214-08", Decimal("50.00")),
        ("C-3", "900-214-08", Decimal("50.00")),
        ("C-4", "900-214-08", Decimal("35.00")),
    ]
    c1, c3, c4 = items
    # 2025-11-20 → 2026-06-01: 11 (to 1 Dec) + 31 + 31 + 28 + 31 + 30 + 31 = 193 days.
    assert (c1.since, c1.age_days) == (at(2025, 11, 20), 193)
    assert (c3.since, c3.age_days) == (at(2026, 2, 1), 120)  # 28 + 31 + 30 + 31 days
    assert (c4.since, c4.age_days) == (at(2026, 4, 1), 61)
    assert c4.facility_code == "A-03"  # the latest storage-in's storage point
    assert c1.counterparty == world.producer.name
    assert c1.site_id == world.warehouse.pk
    assert c1.received and c3.received
    assert (
        c1.record_id == LedgerRecord.objects.get(container_code="C-1", record_type=RecordType.STORAGE_IN).pk
    )
    # Per site: another site of the collector holds nothing.
    assert inventory(world.collector, site=SiteFactory(organization=world.collector)) == []
    assert [i.container_code for i in inventory(world.producer)] == ["C-1"]


# --- limits ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (dt.date(2026, 11, 9), OK),
        (dt.date(2026, 11, 10), APPROACHING),  # 10 reminder days (STORAGE_REMINDER_DAYS) before
        (dt.date(2026, 11, 20), APPROACHING),  # the last day of the year
        (dt.date(2026, 11, 21), PASSED),
    ],
)
def test_one_year_limit_counts_from_the_day_the_container_came_in(world, today, state):
    stored_in(world, "OLD-1", "50", at(2025, 11, 20))
    [limit] = by_kind(storage_limits(world.collector, today), ONE_YEAR, "OLD-1")
    # 2025-11-20 + 365 days (2026 is not a leap year).
    assert limit.due_on == dt.date(2026, 11, 20)
    assert limit.state == state


def test_the_90_working_day_hand_over_is_counted_on_the_official_calendar(world):
    # Received on Wed 2026-07-01 by a 收集经营许可证 holder. Working days after it, by the State
    # Council's 2026 calendar: Jul 2–3 (2), Jul 6–31 (20) = 22; Aug 3–31 (21) = 43; Sep 1–18 (14) = 57;
    # Sun Sep 20 is a make-up workday = 58; Sep 21–24 = 62 (Fri Sep 25 is the Mid-Autumn holiday);
    # Sep 28–30 = 65; Oct 1–7 National Day off; Oct 8–9 = 67; Sat Oct 10 make-up = 68; Oct 12–30 (15)
    # = 83; Nov 2–6 = 88; Nov 9 = 89; Tue Nov 10 = 90. (Monday–Friday counting would say Nov 4.)
    stored_in(world, "R-1", "20", at(2026, 7, 1))
    record(world, RecordType.PRODUCTION, "OWN-1", "5", at(2026, 7, 1))  # its own waste, not collected

    def handover(today):
        return by_kind(storage_limits(world.collector, today), COLLECTION_HANDOVER, "R-1")[0]

    assert handover(dt.date(2026, 10, 30)).due_on == dt.date(2026, 11, 10)
    assert handover(dt.date(2026, 10, 30)).state == OK
    assert handover(dt.date(2026, 10, 31)).state == APPROACHING  # 10 days before
    assert handover(dt.date(2026, 11, 10)).state == APPROACHING
    assert handover(dt.date(2026, 11, 11)).state == PASSED
    assert by_kind(storage_limits(world.collector, dt.date(2026, 11, 11)), COLLECTION_HANDOVER, "OWN-1") == []


def test_a_producer_has_the_one_year_limit_but_no_hand_over_deadline(world):
    record(
        world,
        RecordType.PRODUCTION,
        "P-1",
        "12",
        at(2026, 7, 1),
        organization=world.producer,
        site=world.site,
    )
    statuses = storage_limits(world.producer, dt.date(2026, 12, 1))
    assert {s.kind for s in statuses} == {ONE_YEAR}


def test_local_caps_come_from_the_collectors_storage_policy(world):
    StoragePolicy.objects.create(
        organization=world.collector, max_days=30, max_tonnes=Decimal("0.100"), reminder_days=5
    )
    stored_in(world, "L-1", "60", at(2026, 3, 1))
    stored_in(world, "L-2", "35", at(2026, 3, 20))

    statuses = storage_limits(world.collector, dt.date(2026, 3, 28))
    [l1] = by_kind(statuses, LOCAL_DAYS, "L-1")
    [l2] = by_kind(statuses, LOCAL_DAYS, "L-2")
    assert (l1.due_on, l1.state) == (dt.date(2026, 3, 31), APPROACHING)  # 1 Mar + 30 d; reminders from 26 Mar
    assert (l2.due_on, l2.state) == (dt.date(2026, 4, 19), OK)
    # The policy's reminder days apply to the legal limits too: 5 days before 2027-03-01.
    assert by_kind(statuses, ONE_YEAR, "L-1")[0].remind_from == dt.date(2027, 2, 24)
    [tonnes] = by_kind(statuses, LOCAL_TONNES)
    # 95 kg against a 100 kg cap: at least 90 % of it.
    assert (tonnes.held_kg, tonnes.cap_kg, tonnes.state) == (
        Decimal("95.00"),
        Decimal("100.000"),
        APPROACHING,
    )
    assert by_kind(storage_limits(world.collector, dt.date(2026, 4, 1)), LOCAL_DAYS, "L-1")[0].state == PASSED

    stored_in(world, "L-3", "10", at(2026, 3, 27))  # 105 kg
    [tonnes] = by_kind(storage_limits(world.collector, dt.date(2026, 3, 28)), LOCAL_TONNES)
    assert tonnes.state == PASSED


def test_a_collector_without_a_policy_has_no_local_caps(world):
    stored_in(world, "N-1", "9000", at(2026, 1, 5))
    statuses = storage_limits(world.collector, dt.date(2026, 11, 1))
    assert {s.kind for s in statuses} == {ONE_YEAR, COLLECTION_HANDOVER}
    storage_sweep(now=at(2026, 11, 1))
    assert not Finding.objects.filter(rule__in=["storage.local_days", "storage.local_tonnes"]).exists()


# --- the sweep ------------------------------------------------------------------------------------------


def test_the_sweep_reminds_before_and_raises_findings_after_a_limit_once(world):
    StoragePolicy.objects.create(organization=world.collector, max_tonnes=Decimal("0.050"))
    old = stored_in(world, "OLD-1", "50", at(2025, 11, 20))  # one year passed on 2026-11-21
    stored_in(world, "NEW-1", "10", at(2026, 11, 15))  # young
    alices = record(
        world,
        RecordType.PRODUCTION,
        "P-1",
        "12",
        at(2025, 11, 25),
        organization=world.producer,
        site=world.site,
    )  # one year ends 2026-11-25: 4 days to go

    first = storage_sweep(now=at(2026, 11, 21))
    again = storage_sweep(now=at(2026, 11, 21, 18))

    assert (first["units"], first["containers"]) == (2, 3)
    findings = {
        (f.rule, f.severity, f.organization_id, f.object_type, f.object_id) for f in Finding.objects.all()
    }
    assert findings == {
        ("storage.over_one_year", "A", world.collector.pk, "ledger.ledgerrecord", str(old.pk)),
        ("storage.collection_handover_overdue", "B", world.collector.pk, "ledger.ledgerrecord", str(old.pk)),
        # 60 kg against a 50 kg cap: on the unit's storage policy.
        (
            "storage.local_tonnes",
            "C",
            world.collector.pk,
            "ledger.storagepolicy",
            str(world.collector.storage_policy.pk),
        ),
    }
    assert first["findings"] == 3 and again["findings"] == 0
    assert Finding.objects.get(rule="storage.over_one_year").evidence["due_on"] == "2026-11-20"
    reminders = Notification.objects.filter(kind__startswith="storage.")
    assert [(n.organization_id, n.kind, n.object_id) for n in reminders] == [
        (world.producer.pk, "storage.one_year_due", str(alices.pk))
    ]
    assert first["reminded"] == 1 and again["reminded"] == 0
    assert "P-1" in reminders[0].message and "2026-11-25" in reminders[0].message


def test_a_unit_whose_stock_is_gone_is_not_swept(world):
    gone = stored_in(world, "G-1", "50", at(2025, 1, 2))
    record(world, RecordType.OUTSOURCED_DISPOSAL, "G-1", "50", at(2025, 3, 1))
    assert storage_sweep(now=at(2026, 11, 21))["units"] == 0
    assert not Finding.objects.filter(object_id=str(gone.pk)).exists()


# --- zones (GB 18597-2023) -------------------------------------------------------------------------------


def category(code):
    return HazardCategory.objects.get(code=code, edition__is_current=True)


@pytest.fixture
def zones(world):
    """The warehouse keeps waste oil (HW08) in zone A and other waste (HW49) in zone B."""
    oil = WasteClassGroup.objects.create(collector=world.collector, name="废矿物油")
    oil.categories.add(category("HW08"))
    other = WasteClassGroup.objects.create(collector=world.collector, name="其他废物")
    other.categories.add(category("HW49"))
    zone_a = StorageZone.objects.create(site=world.warehouse, code="ZONE-A", name="油品区")
    zone_a.groups.add(oil)
    zone_b = StorageZone.objects.create(site=world.warehouse, code="ZONE-B", name="综合区")
    zone_b.groups.add(other)
    return zone_a, zone_b


def test_zone_is_chosen_by_the_group_of_the_hazard_category(world, zones, collector_b):
    zone_a, zone_b = zones
    assert zone_for(world.warehouse, waste_code("900-214-08")) == zone_a
    assert zone_for(world.warehouse, waste_code("900-041-49")) == zone_b
    # Another collector's group for HW12 on zone B does not make the warehouse take HW12.
    foreign = WasteClassGroup.objects.create(collector=collector_b, name="染料")
    foreign.categories.add(category("HW12"))
    zone_b.groups.add(foreign)
    with pytest.raises(ServiceError) as refused:
        zone_for(world.warehouse, waste_code("900-252-12"), field="lines.7")
    assert refused.value.field == "lines.7"
    assert zone_for(SiteFactory(organization=world.collector), waste_code("900-252-12")) is None


def test_receipt_stores_each_container_in_its_zone(world, zones, delivered_manifest):
    oil, rags = delivered_manifest.lines.order_by("id")
    manifest_receive(
        actor=world.receiver, manifest_id=delivered_manifest.pk, lines={oil.pk: "35.5", rags.pk: "12"}
    )
    stored = LedgerRecord.objects.filter(organization=world.collector, record_type=RecordType.STORAGE_IN)
    assert {(r.container_code, r.facility_code) for r in stored} == {
        ("RQ-0001", "ZONE-A"),
        ("RQ-0002", "ZONE-B"),
    }
    assert {(i.container_code, i.facility_code) for i in inventory(world.collector)} == {
        ("RQ-0001", "ZONE-A"),
        ("RQ-0002", "ZONE-B"),
    }


def test_receipt_is_refused_naming_the_line_when_no_zone_takes_its_code(world, zones, delivered_manifest):
    zones[1].delete()  # no zone for HW49 any more
    oil, rags = delivered_manifest.lines.order_by("id")
    with pytest.raises(ServiceError) as refused:
        manifest_receive(
            actor=world.receiver, manifest_id=delivered_manifest.pk, lines={oil.pk: "35.5", rags.pk: "12"}
        )
    assert refused.value.field == f"lines.{rags.pk}"
    assert "HW49" in refused.value.message and "/" in refused.value.message
    # Nothing of the receipt is kept.
    assert Manifest.objects.get(pk=delivered_manifest.pk).status == ManifestStatus.DELIVERED
    assert ManifestLine.objects.get(pk=oil.pk).decision == ""
    assert not LedgerRecord.objects.filter(organization=world.collector).exists()
    # A rejected container is not stored, so it needs no zone.
    manifest_receive(
        actor=world.receiver,
        manifest_id=delivered_manifest.pk,
        lines={
            oil.pk: "35.5",
            rags.pk: {"received_weight_kg": "12", "decision": "rejected", "note": "无分区"},
        },
    )
    assert list(
        LedgerRecord.objects.filter(organization=world.collector).values_list(
            "container_code", "facility_code"
        )
    ) == [("RQ-0001", "ZONE-A")]


def test_a_site_without_zones_stores_without_zoning(world, delivered_manifest):
    oil, rags = delivered_manifest.lines.order_by("id")
    manifest_receive(
        actor=world.receiver, manifest_id=delivered_manifest.pk, lines={oil.pk: "35.5", rags.pk: "12"}
    )
    stored = LedgerRecord.objects.filter(organization=world.collector, record_type=RecordType.STORAGE_IN)
    assert sorted(r.facility_code for r in stored) == ["", ""]


# --- label check before storage-in (GB 18597-2023) -------------------------------------------------------


@pytest.fixture
def relabelled(world, open_request, trip):
    """A labelled drum of waste oil (900-214-08), loaded and signed; then the manifest is corrected
    to 900-249-08 while the label still says 900-214-08. Delivered to the warehouse."""
    drum = container_label(
        actor=world.alice, site_id=world.site.pk, waste_code="900-214-08", weight_kg="30", form="liquid",
        main_constituents="矿物油", hazardous_constituents="多环芳烃",
    )  # fmt: skip
    line = container_load(
        actor=world.driver, request_id=open_request.pk, scanned=drum.code, weight_kg="30"
    ).line
    manifest = manifest_sign(actor=world.alice, manifest_id=line.manifest_id, method="session")
    correction = correction_open(
        actor=world.alice,
        manifest_id=manifest.pk,
        reason="代码填错",
        changes={"lines": {str(line.pk): {"waste_code": "900-249-08"}}},
    )
    correction_decide(actor=world.receiver, correction_id=correction.pk, target="applied")
    manifest_depart(actor=world.driver, manifest_id=manifest.pk)
    manifest_deliver(actor=world.driver, manifest_id=manifest.pk)
    return ManifestLine.objects.get(pk=line.pk)


def test_a_label_that_disagrees_with_the_line_cannot_be_accepted_in_full(world, relabelled):
    line = relabelled
    assert line.waste_code.code == "900-249-08" and line.container.waste_code.code == "900-214-08"
    for given in ("30", {"received_weight_kg": "30", "decision": "accepted"}):
        with pytest.raises(ServiceError) as refused:
            manifest_receive(actor=world.receiver, manifest_id=line.manifest_id, lines={line.pk: given})
        assert refused.value.field == f"lines.{line.pk}.decision"
    assert not LedgerRecord.objects.filter(organization=world.collector).exists()

    manifest_receive(
        actor=world.receiver,
        manifest_id=line.manifest_id,
        lines={line.pk: {"received_weight_kg": "30", "decision": "rejected"}},
    )
    line.refresh_from_db()
    assert line.discrepancies == ["name"]  # added although the receiver did not name it


def test_a_label_mismatch_may_be_partly_accepted(world, relabelled):
    line = relabelled
    manifest_receive(
        actor=world.receiver,
        manifest_id=line.manifest_id,
        lines={
            line.pk: {"received_weight_kg": "30", "decision": "partly_accepted", "accepted_weight_kg": "20"}
        },
    )
    line.refresh_from_db()
    assert (line.decision, line.discrepancies, line.accepted_weight_kg) == (
        "partly_accepted",
        ["name"],
        Decimal("20.00"),
    )
    [stored] = LedgerRecord.objects.filter(organization=world.collector, record_type=RecordType.STORAGE_IN)
    assert stored.weight_kg == Decimal("20.00")


def test_ledger_maintain_runs_every_sweep_once_and_prints_the_counts(world):
    stored_in(world, "OLD-1", "50", at(2024, 1, 2))
    out = io.StringIO()
    call_command("ledger_maintain", stdout=out)
    report = json.loads(out.getvalue())
    assert report["storage"]["findings"] == 2  # one year and the 90 working days
    assert set(report["mass_balance"]) == {"units", "off_balance", "findings"}
