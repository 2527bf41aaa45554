"""One collection round of the demo, walked through the services as each party would on its own
pages: the producer labels its containers, the bin crosses its threshold, the dispatcher assigns the
request, the driver scans and weighs (one label refused for its weight first), the producer signs by
its code on the driver's phone, the driver corrects a weight (the producer applies it), the warehouse
records delivery and receipt with a discrepancy, and the collector ships the containers on to the
facility. The facility's receiver finds that onward manifest in transit and receives it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from greenisle.accounts.models import User
from greenisle.devices.models import Bin
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import Driver, PickupRequest
from greenisle.dispatch.services import trip_assign
from greenisle.manifests.corrections import correction_decide, correction_open
from greenisle.manifests.labels import container_label, container_load
from greenisle.manifests.onward import manifest_onward_create
from greenisle.manifests.receipt import manifest_receive
from greenisle.manifests.services import manifest_deliver, manifest_depart, manifest_sign
from greenisle.organizations.models import Organization
from greenisle.telemetry.ingest import reading_ingest
from greenisle.telemetry.validation import reading_validate

# (waste code, form, main constituents, hazardous constituents, label kg, weighed kg)
CONTAINERS = (
    ("900-214-08", "liquid", "废发动机油", "矿物油、多环芳烃", "42.50", "42.70"),
    ("900-041-49", "solid", "含油抹布、手套", "矿物油", "12.00", "12.20"),
)


def demo_round(
    *, producer: Organization, collector: Organization, facility: Organization, signature_code: str
) -> dict[str, Any]:
    people = {
        u.username: u for u in User.objects.filter(username__in=["clerk", "dispatcher", "driver", "receiver"])
    }
    clerk, dispatcher, driver, receiver = (people[n] for n in ("clerk", "dispatcher", "driver", "receiver"))
    device = (
        Bin.objects.filter(site__organization=producer, collector=collector, enabled=True)
        .order_by("serial")
        .first()
    )
    if device is None:
        raise RuntimeError("the demo producer has no bin of the demo collector")
    # The bin reports 88 %: past its threshold, a pickup request opens (or the open one is used).
    reading_ingest(
        device=device,
        reading=reading_validate(observed_at=timezone.now() - dt.timedelta(minutes=20), fill_pct=88),
        transport="http",
    )
    request = (
        PickupRequest.objects.filter(bin=device, status=RequestStatus.OPEN).order_by("opened_at").first()
    )
    if request is None:
        raise RuntimeError("the demo bin opened no pickup request")
    vehicle = Driver.objects.get(collector=collector, user=driver).usual_vehicle
    trip = trip_assign(
        actor=dispatcher,
        request_ids=[request.pk],
        vehicle_id=vehicle.pk,
        driver_id=driver.pk,
        service_date=timezone.localdate(),
    )
    _file_plan(clerk, device, collector)
    labels = [
        container_label(
            actor=clerk,
            site_id=device.site_id,
            waste_code=code,
            weight_kg=label_kg,
            form=form,
            main_constituents=main,
            hazardous_constituents=hazardous,
        )
        for code, form, main, hazardous, label_kg, _kg in CONTAINERS
    ]
    # Weighed at 49 kg against the label's 42.5: refused and recorded (办法 Art. 13), then re-weighed.
    container_load(actor=driver, request_id=request.pk, scanned=labels[0].code, weight_kg="49")
    lines = [
        container_load(actor=driver, request_id=request.pk, scanned=label.code, weight_kg=row[5]).line
        for label, row in zip(labels, CONTAINERS, strict=True)
    ]
    manifest = lines[0].manifest
    manifest_sign(actor=driver, manifest_id=manifest.pk, method="code", signature_code=signature_code)
    correction = correction_open(
        actor=driver,
        manifest_id=manifest.pk,
        reason="车载秤复称 / re-weighed on the truck's scale",
        changes={"lines": {str(lines[1].pk): {"weight_kg": "11.80"}}},
    )
    correction_decide(actor=clerk, correction_id=correction.pk, target="applied", note="同意 / agreed")
    manifest_depart(actor=driver, manifest_id=manifest.pk)
    manifest_deliver(actor=receiver, manifest_id=manifest.pk)
    manifest_receive(
        actor=receiver,
        manifest_id=manifest.pk,
        lines={
            lines[0].pk: "42.60",
            lines[1].pk: {
                "received_weight_kg": "11.80",
                "decision": "partly_accepted",
                "accepted_weight_kg": "10.50",
                "discrepancies": ["packaging"],
                "note": "编织袋破损，1.3 kg 散落物另行收集 / bag torn",
            },
        },
    )
    onward = manifest_onward_create(
        actor=receiver, receiver_id=facility.pk, line_ids=[line.pk for line in lines], vehicle_id=vehicle.pk
    )
    manifest_sign(actor=dispatcher, manifest_id=onward.pk, method="session")
    manifest_depart(actor=driver, manifest_id=onward.pk)
    return {"trip": str(trip.pk), "manifest": manifest.number, "onward_manifest": onward.number}


def _file_plan(clerk: User, device: Bin, collector: Organization) -> None:
    """The demo producer's clerk prepares this year's management plan, pre-filled from the registry
    (A.1) and last year's ledger (A.3/A.7), estimates 1.5 t of what last year did not show, and files it
    (HJ 1259 §5.2.2); manifests are checked against it (办法 Art. 14)."""
    from greenisle.demo.filings import rows_with_estimates
    from greenisle.plans.services import plan_file, plan_prepare, plan_update

    plan = plan_prepare(actor=clerk, site_id=device.site_id, year=timezone.localdate().year)
    estimates = {code.code: Decimal("1500") for code in device.waste_codes.all()}
    rows = rows_with_estimates(plan, estimates, collector)
    if rows is not None:
        plan_update(actor=clerk, plan_id=plan.pk, wastes=rows)
    plan_file(actor=clerk, plan_id=plan.pk)
