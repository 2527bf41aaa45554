"""The Nantong demo: a small demo load end to end (the simulator is tested in test_simulate.py).

The load test writes a 30-producer demo into the test database and checks what the demo promises: valid
registry identifiers, sites inside Nantong, bins with catalogue codes, contracted producers, the
printed logins, an idempotent second run and an intact audit chain.
"""

from __future__ import annotations

import io
import json
import stat
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from greenisle.accounts.choices import Role
from greenisle.accounts.models import Membership, User
from greenisle.audit.models import Event
from greenisle.audit.services import chain_verify
from greenisle.catalog.models import WasteCode
from greenisle.demo import nantong
from greenisle.demo.loading import (
    DEMO_PRODUCER_NAME,
    DemoSummary,
    demo_is_loaded,
    demo_load,
    demo_logins,
    keys_path,
)
from greenisle.devices.models import Bin, hash_device_key
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest, Vehicle
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.identifiers import validate_uscc
from greenisle.organizations.models import Licence, Organization, ServiceContract, Site
from greenisle.telemetry.models import Reading

# --- a small demo load ----------------------------------------------------------------------------

DEMO_PRODUCERS = 30
NANTONG_LAT = (Decimal("31.5"), Decimal("32.8"))
NANTONG_LON = (Decimal("120.2"), Decimal("122.0"))
# username → (role, kind of organisation, division) of the membership the printed login starts in.
EXPECTED_LOGINS = {
    "clerk": (Role.CLERK, OrganizationKind.PRODUCER, "320602"),
    "dispatcher": (Role.DISPATCHER, OrganizationKind.COLLECTOR, None),
    "driver": (Role.DRIVER, OrganizationKind.COLLECTOR, None),
    "receiver": (Role.RECEIVER, OrganizationKind.COLLECTOR, None),
    "facility": (Role.RECEIVER, OrganizationKind.FACILITY, "320623"),
    "inspector": (Role.INSPECTOR, OrganizationKind.REGULATOR, "320602"),
    "city": (Role.INSPECTOR, OrganizationKind.REGULATOR, nantong.CITY_CODE),
}


def row_counts() -> dict[str, int]:
    models: list[Any] = [
        Organization,
        Site,
        Licence,
        Vehicle,
        ServiceContract,
        Bin,
        User,
        Membership,
        Reading,
        PickupRequest,
        Event,
    ]
    return {m.__name__: m.objects.count() for m in models}


@pytest.fixture
def var_dir(settings: Any, tmp_path: Any) -> Any:
    """keys_path() is settings.VAR_DIR/demo/device_keys.json: keep the keys file in tmp."""
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def loaded(var_dir: Any) -> DemoSummary:
    assert not demo_is_loaded()
    progress: list[float] = []
    summary = demo_load(producers=DEMO_PRODUCERS, progress=lambda fraction, label: progress.append(fraction))
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    return summary


def call(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_small_demo_load(loaded: DemoSummary, var_dir: Any) -> None:
    counts = loaded.counts
    assert demo_is_loaded()
    assert counts["producers"] == DEMO_PRODUCERS
    assert counts["collectors"] == len(nantong.COLLECTORS) and counts["facilities"] == 1
    assert counts["regulators"] == 1 + len(nantong.DIVISIONS)
    assert counts["bins"] == counts["service_contracts"] == DEMO_PRODUCERS
    # The loaded history, and the one reading of the walked round that opened its pickup request.
    assert counts["readings"] == 3 * DEMO_PRODUCERS == Reading.objects.count() - 1
    assert counts["open_requests"] == PickupRequest.objects.filter(status=RequestStatus.OPEN).count() > 0
    assert Organization.objects.count() == counts["organizations"]

    # The walked round: labels, a refused load, signature by code, a correction, receipt with a
    # discrepancy, and the onward manifest in transit to the facility.
    from greenisle.manifests.models import LoadingRefusal, Manifest

    walked = Manifest.objects.get(number=loaded.round["manifest"])
    assert (walked.status, walked.receipt_outcome, walked.version) == ("received", "partly_accepted", 2)
    assert walked.producer_signature_method == "code"
    assert LoadingRefusal.objects.filter(request__manifest_lines__manifest=walked).distinct().count() == 1
    onward = Manifest.objects.get(number=loaded.round["onward_manifest"])
    assert (onward.kind, onward.status, onward.receiver.kind) == ("onward", "in_transit", "facility")
    assert list(onward.sources.all()) == [walked]

    history_and_filings(loaded)

    # Registry identifiers: valid and unique 统一社会信用代码.
    usccs = list(Organization.objects.values_list("uscc", flat=True))
    assert len(usccs) == len(set(usccs)) == counts["organizations"]
    for uscc in usccs:
        assert validate_uscc(uscc) == uscc

    # Every site is in Nantong.
    sites = list(Site.objects.values_list("name", "latitude", "longitude"))
    assert len(sites) == counts["sites"]
    for name, lat, lon in sites:
        assert NANTONG_LAT[0] <= lat <= NANTONG_LAT[1], (name, lat)
        assert NANTONG_LON[0] <= lon <= NANTONG_LON[1], (name, lon)

    # Every bin holds codes of the catalogue in force.
    current = set(WasteCode.objects.current().values_list("pk", flat=True))
    for device in Bin.objects.prefetch_related("waste_codes"):
        codes = {wc.pk for wc in device.waste_codes.all()}
        assert codes and codes <= current, device.serial

    # Every producer is some collector's client today.
    producers = set(Organization.objects.filter(kind=OrganizationKind.PRODUCER).values_list("pk", flat=True))
    contracted = set(ServiceContract.objects.active().values_list("producer_id", flat=True))
    assert len(producers) == DEMO_PRODUCERS and producers <= contracted

    # The printed logins exist, with their roles, and the demo password works.
    logins = {lg.username: lg for lg in demo_logins()}
    assert set(logins) == set(EXPECTED_LOGINS)
    for username, (role, kind, division) in EXPECTED_LOGINS.items():
        user = User.objects.get(username=username)
        assert user.check_password(nantong.DEMO_PASSWORD)
        first = Membership.objects.filter(user=user).order_by("created_at").select_related("organization")[0]
        assert (first.role, first.organization.kind) == (role, kind), username
        assert division is None or first.organization.division_id == division, username
        assert logins[username].organization == first.organization.name
    assert Membership.objects.filter(user__username="dispatcher", role=Role.ADMIN).count() == 1

    # The keys file is in tmp, private, and holds every bin's working key.
    path = keys_path()
    assert loaded.keys_file == path and path.is_relative_to(var_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text(encoding="utf-8"))
    hashes = dict(Bin.objects.values_list("serial", "key_hash"))
    assert set(keys) == set(hashes) and len(keys) == DEMO_PRODUCERS
    assert all(hash_device_key(keys[serial]) == hashes[serial] for serial in keys)

    assert "audit chain intact" in call("audit_verify")
    assert chain_verify() is None
    supervision_walk(loaded)

    # A second load changes nothing.
    before = row_counts()
    keys_text = path.read_text(encoding="utf-8")
    assert (
        call("load_demo", "--producers", str(DEMO_PRODUCERS), "--no-logins").strip() == "demo already loaded"
    )
    with pytest.raises(RuntimeError, match="already loaded"):
        demo_load(producers=DEMO_PRODUCERS)
    assert row_counts() == before
    assert path.read_text(encoding="utf-8") == keys_text
    assert "audit chain intact" in call("audit_verify")


def history_and_filings(loaded: DemoSummary) -> None:
    """Every producer has a ledger built from its pickups since 1 January last year, this year's plan
    in force and last year's declaration; the units balance; the live counters go on from the history."""
    import datetime as dt

    from django.utils import timezone

    from greenisle.demo.history import history_start
    from greenisle.ledger import core as ledger_core
    from greenisle.ledger.balance import mass_balance
    from greenisle.ledger.declarations import declaration_submit, fingerprint
    from greenisle.ledger.exports import declaration_pdf, declaration_xlsx
    from greenisle.ledger.models import Declaration, DeclarationStatus, LedgerRecord, RecordType
    from greenisle.ledger.storage import PASSED, storage_limits
    from greenisle.manifests.models import Container, Manifest, ManifestLine
    from greenisle.plans.services import plan_in_force

    today = timezone.localdate()
    counts = loaded.counts
    producers = list(Organization.objects.filter(kind=OrganizationKind.PRODUCER))
    start = timezone.make_aware(dt.datetime.combine(history_start(today), dt.time()))
    history = Container.objects.filter(produced_on__lt=today)
    assert history.count() == counts["history_containers"] > 0
    assert (
        Manifest.objects.filter(kind="onward", status="treated").count() == counts["history_onward_manifests"]
    )
    # Made when they happened, not when the demo was loaded.
    week_ago = timezone.now() - dt.timedelta(days=6)
    assert not history.filter(created_at__gte=week_ago, lines__isnull=False).exists()
    assert not Manifest.objects.filter(status="treated", created_at__gte=week_ago).exists()

    # Every container of the history: produced, stored in and out at the bin, received by the
    # collector and handed over by the producer, one record each (HJ 1259 §6.2).
    by_type = {
        t: LedgerRecord.objects.filter(
            record_type=t,
            occurred_at__gte=start,
            occurred_at__lt=timezone.make_aware(dt.datetime.combine(today, dt.time())),
        ).count()
        for t in (RecordType.PRODUCTION, RecordType.OUTSOURCED_DISPOSAL, RecordType.OWN_DISPOSAL)
    }
    assert by_type[RecordType.PRODUCTION] == counts["history_containers"]
    # What the bins hold now was labelled since their last pickup and is in store at the producer.
    waiting = history.filter(lines__isnull=True)
    assert waiting.count() == counts["history_containers_in_bins"] >= len(producers)
    assert not LedgerRecord.objects.filter(
        record_type=RecordType.STORAGE_OUT, container_code__in=waiting.values("code")
    ).exists()
    onward_lines = ManifestLine.objects.filter(manifest__kind="onward", manifest__status="treated").count()
    # Each container handed over twice (producer → collector, collector → facility once shipped on).
    collected = counts["history_containers"] - counts["history_containers_in_bins"]
    assert by_type[RecordType.OUTSOURCED_DISPOSAL] == collected + onward_lines
    assert by_type[RecordType.OWN_DISPOSAL] == onward_lines > 0
    with_ledger = set(
        LedgerRecord.objects.filter(record_type=RecordType.PRODUCTION).values_list(
            "organization_id", flat=True
        )
    )
    assert with_ledger == {p.pk for p in producers}

    # Every unit balances within the tolerance: the walked round's 1.3 kg of spilt rags is well under
    # 5 % of what the demo producer's history generated.
    for org in Organization.objects.filter(kind__in=["producer", "collector", "facility"]):
        off = [b for b in mass_balance(org) if b.beyond(pct=Decimal(5), kg=Decimal(1))]
        assert off == [], (org.name, [b.as_dict() for b in off])
    # Nothing in store past a limit: collectors ship on monthly, within their 90 working days.
    for collector in Organization.objects.filter(kind="collector"):
        assert all(status.state != PASSED for status in storage_limits(collector, today)), collector.name

    # This year's plan of every producer is in force (filed by its collector, or by the demo clerk).
    for producer in producers:
        site = producer.sites.get()
        plan = plan_in_force(site, today.year)
        assert plan is not None and plan.filing_number, producer.name
        assert plan.basic["legal_representative"] and plan.basic["permit_reference"]
        assert all(w.annual_t > 0 for w in plan.wastes.all())
    assert counts["plans_filed"] == len(producers) - 1

    # Last year's annual declarations: submitted by each collector for its clients, but the demo
    # collector's, which wait for the clerk or the dispatcher.
    last_year = Declaration.objects.filter(kind=ledger_core.YEAR, label=str(today.year - 1))
    demo_collector = Organization.objects.get(name=nantong.COLLECTORS[0][1])
    drafts = last_year.filter(status=DeclarationStatus.DRAFT)
    assert drafts.count() == counts["declarations_draft"] > 0
    assert (
        last_year.filter(status=DeclarationStatus.SUBMITTED).count() == counts["declarations_submitted"] > 0
    )
    served = ServiceContract.objects.filter(collector=demo_collector).values_list("producer_id", flat=True)
    assert set(drafts.values_list("site__organization_id", flat=True)) <= set(served)
    # Generated less handed over is what the stock moved by (a client since late last year may have
    # generated nothing yet).
    generated_any = False
    for declaration in last_year:
        rows, totals = declaration.content["rows"], declaration.content["totals"]
        moved = sum(Decimal(r["closing_t"]) - Decimal(r["opening_t"]) for r in rows)
        generated, outsourced = Decimal(totals["generated_t"]), Decimal(totals["outsourced_t"])
        assert abs(generated - outsourced - moved) <= Decimal("0.001") * len(rows), declaration.label
        generated_any = generated_any or generated > 0
    assert generated_any

    demo_producer = Organization.objects.get(name=DEMO_PRODUCER_NAME)
    clerk = User.objects.get(username="clerk")
    own = drafts.get(site__organization=demo_producer)
    submitted = declaration_submit(actor=clerk, declaration_id=own.pk, figures_seen=fingerprint(own.content))
    assert submitted.status == DeclarationStatus.SUBMITTED and submitted.receipt_number
    dispatcher = User.objects.get(username="dispatcher")
    client = drafts.exclude(pk=own.pk).first()
    assert client is not None
    assert (
        declaration_submit(actor=dispatcher, declaration_id=client.pk).status == DeclarationStatus.SUBMITTED
    )
    assert declaration_xlsx(submitted)[:2] == b"PK" and declaration_pdf(submitted)[:5] == b"%PDF-"

    # The walked round's manifest numbers follow the history's.
    walked = Manifest.objects.get(number=loaded.round["manifest"])
    year_numbers = Manifest.objects.filter(number__startswith=str(today.year)).exclude(
        number__in=[loaded.round["manifest"], loaded.round["onward_manifest"]]
    )
    assert walked.number > max(year_numbers.values_list("number", flat=True))


def supervision_walk(loaded: DemoSummary) -> None:
    """The bureau's side of the demo: the clerk's self-assessment waits for the district inspector, who
    reviews it and makes it final; the rules' sweep raises findings on the loaded data, and the
    inspector assigns one, its owner rectifies it, and the inspector verifies and closes it."""
    from django.utils import timezone

    from greenisle.assessment.models import Assessment
    from greenisle.assessment.services import assessment_finalise, assessment_review
    from greenisle.core.errors import PermissionDenied
    from greenisle.supervision.models import Finding
    from greenisle.supervision.services import (
        finding_assign,
        finding_close,
        finding_rectify,
        finding_verify,
    )

    inspector = User.objects.get(username="inspector")
    assessment = Assessment.objects.get()
    assert assessment.status == "self_submitted" and assessment.year == timezone.localdate().year - 1
    assessment_review(actor=inspector, assessment_id=assessment.pk, note="复核通过 / reviewed")
    final = assessment_finalise(actor=inspector, assessment_id=assessment.pk)
    assert final.status == "final" and final.result in {"pass", "basic", "fail"}

    before = Finding.objects.count()
    call("supervision_maintain")
    assert Finding.objects.count() > before
    # Last year's declarations left as drafts by the demo collector's clients are findings.
    assert Finding.objects.filter(rule="declaration.annual_overdue").exists()
    finding = Finding.objects.visible_to(inspector).filter(status="open").order_by("created_at").first()
    assert finding is not None, "the district inspector has findings to follow up"
    finding_assign(actor=inspector, finding_id=finding.pk, assigned_to_id=inspector.pk)
    owners = [
        m.user
        for m in Membership.objects.filter(organization=finding.owner_organization).select_related("user")
    ] + [User.objects.get(username="dispatcher")]
    for owner in owners:
        try:
            finding_rectify(actor=owner, finding_id=finding.pk, rectification="已整改 / put right")
            break
        except PermissionDenied:
            continue
    else:
        raise AssertionError(f"nobody of {finding.owner_organization} could rectify {finding.rule}")
    finding_verify(actor=inspector, finding_id=finding.pk, decision="accept", note="核实 / checked")
    assert finding_close(actor=inspector, finding_id=finding.pk).status == "closed"
