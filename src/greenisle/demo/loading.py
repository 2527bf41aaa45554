"""Load the Nantong demo into the database: the registry, the fleet, the smart bins and their first fills.

The registry is written with ``bulk_create`` (one INSERT per few hundred rows) because a thousand
producers created one by one would take minutes. Bypassing the services does not bypass the audit
chain: every created organisation, site, licence, vehicle, bin, service contract and membership
gets its own ``*.created`` event through :func:`greenisle.audit.services.event_record`, in the same
transaction as the rows. One event per object was measured at well under a millisecond on SQLite
(about 5,000 events in 2–3 s), so per-batch events, which would hide single objects from the
chain, were not needed.

Bins get their readings through the real ingest path (``reading_validate`` + ``reading_ingest``),
so their states, the pickup requests that crossing the threshold opens and those requests' audit
events are exactly what a live bin would produce.

The whole load is one transaction: a failure leaves nothing behind, and the presence of the city
bureau tells a later run that the demo is complete. About half the bins report over HTTP, a quarter
each over MQTT and HJ 212. Device secrets are random (HTTP keys, MQTT passwords, HJ 212 PWs) and
written, raw, to the credentials file (:mod:`greenisle.demo.credentials`); everything else comes from
``random.Random(seed)``, so two runs with the same seed and on the same day give the same registry.

The code is in three parts: :mod:`greenisle.demo.plan` decides what to create (no database
writes), :mod:`greenisle.demo.writer` writes it, and this module holds the public entry points, the
transaction around them and the device credentials files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.models import Membership, User
from greenisle.audit.services import event_record
from greenisle.catalog.models import WasteCode
from greenisle.demo import nantong
from greenisle.demo.assessment import demo_assessment
from greenisle.demo.credentials import (
    DeviceCredentials,
    credentials_ensure,
    credentials_issue,
    credentials_path,
    keys_path,
    read_credentials,
    write_credentials,
    write_keys,
)
from greenisle.demo.filings import demo_filings
from greenisle.demo.history import HistoryWriter
from greenisle.demo.plan import (
    BIN_SERIAL_PREFIX,
    BIN_SIZES,
    DEMO_PRODUCER_NAME,
    FULL_BINS,
    FULL_BINS_DEMO_COLLECTOR,
    INDUSTRY_ABBR,
    SITE_NAMES,
    Builder,
)
from greenisle.demo.round import demo_round
from greenisle.demo.writer import PLANNING_SHARE, Progress, Writer
from greenisle.devices.models import Bin, Transport
from greenisle.dispatch.choices import RequestStatus
from greenisle.dispatch.models import PickupRequest
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Division, Organization

__all__ = [
    # Defined here.
    "DEFAULT_PRODUCERS",
    "DEMO_SIGNATURE_CODE",
    "LOGINS",
    "OTHER_SIGNATURE_CODE",
    "DemoSummary",
    "Login",
    "demo_bins",
    "demo_credentials_restore",
    "demo_is_loaded",
    "demo_keys_reissue",
    "demo_load",
    "demo_logins",
    # Moved to credentials.py, still importable from here.
    "credentials_path",
    "keys_path",
    "write_keys",
    # Moved to plan.py and writer.py, still importable from here.
    "BIN_SERIAL_PREFIX",
    "BIN_SIZES",
    "DEMO_PRODUCER_NAME",
    "FULL_BINS",
    "FULL_BINS_DEMO_COLLECTOR",
    "INDUSTRY_ABBR",
    "PLANNING_SHARE",
    "SITE_NAMES",
    "Progress",
]

DEFAULT_PRODUCERS = 1200
# Shares of the progress bar: the registry and the bins' readings, the history, the filings.
REGISTRY_SHARE = 0.55
HISTORY_SHARE = 0.25
# The demo producer signs with this code on the driver's phone; every other producer shares the
# second one. Fixed, like the password, so the logins can be printed again on a later run.
DEMO_SIGNATURE_CODE = "246810"
OTHER_SIGNATURE_CODE = "135790"


@dataclass(frozen=True)
class Login:
    """One printed demo login."""

    role: str
    username: str
    organization: str
    note: str = ""


# The printed logins, in the order the loop is walked. Role labels are shown as they are.
LOGINS: tuple[tuple[str, str], ...] = (
    ("产废单位 经办人 producer clerk", "clerk"),
    ("收集单位 调度 collector dispatcher", "dispatcher"),
    ("收集单位 司机 driver", "driver"),
    ("收集单位 仓库接收 collector receiver", "receiver"),
    ("处置单位 接收 facility receiver", "facility"),
    ("区生态环境局 district regulator", "inspector"),
    ("市生态环境局 city regulator", "city"),
)


@dataclass
class DemoSummary:
    """What a load created, for the command to print."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    keys_file: Path | None = None
    credentials_file: Path | None = None
    round: dict[str, str] = field(default_factory=dict)


def demo_is_loaded() -> bool:
    """The city bureau is created in the same transaction as everything else: its presence means done."""
    return Organization.objects.filter(
        kind=OrganizationKind.REGULATOR, division_id=nantong.CITY_CODE, name=nantong.CITY_BUREAU_NAME
    ).exists()


def demo_logins() -> list[Login]:
    """The printed logins, read back from the database (so a second run can print them too)."""
    first: dict[str, Membership] = {}
    for m in (
        Membership.objects.select_related("user", "organization")
        .filter(user__username__in=[username for _, username in LOGINS])
        .order_by("-created_at")
    ):
        first[m.user.username] = m  # the oldest wins: it is the membership a login starts in
    logins = []
    for role, username in LOGINS:
        m = first.get(username)
        if m is None:
            continue
        note = ""
        if username == "dispatcher":
            others = Membership.objects.filter(user=m.user).exclude(pk=m.pk).select_related("organization")
            note = "；".join(f"也是 {o.organization.name} 管理员 (切换单位)" for o in others)
        if username == "clerk":
            note = f"签字码 signature code {DEMO_SIGNATURE_CODE}"
        logins.append(Login(role=role, username=username, organization=m.organization.name, note=note))
    return logins


def _waste_codes() -> dict[str, WasteCode]:
    codes = {wc.code: wc for wc in WasteCode.objects.current().filter(code__in=nantong.DEMO_WASTE_CODES)}
    missing = sorted(set(nantong.DEMO_WASTE_CODES) - set(codes))
    if missing:
        raise RuntimeError(
            f"waste codes missing from the catalogue in force: {', '.join(missing)} (run migrate)"
        )
    return codes


def _check_divisions() -> None:
    wanted = {nantong.CITY_CODE, *nantong.DIVISION_BY_CODE}
    present = set(Division.objects.filter(code__in=wanted).values_list("code", flat=True))
    if present != wanted:
        raise RuntimeError(f"divisions missing: {', '.join(sorted(wanted - present))} (run migrate)")


def demo_load(
    *, seed: int = nantong.DEFAULT_SEED, producers: int = DEFAULT_PRODUCERS, progress: Progress | None = None
) -> DemoSummary:
    """Load the whole demo in one transaction and write the device keys file. Raises if already loaded."""
    started = time.monotonic()
    report = progress or (lambda fraction, label: None)
    if producers < 1:
        raise ValueError("need at least one producer")
    _check_divisions()
    codes = _waste_codes()
    report(0.0, "生成 planning")
    builder = Builder(seed=seed, producers=producers, today=timezone.localdate())
    plan = builder.build()
    assert builder.demo_producer is not None
    # Hashing is deliberately slow (PBKDF2); two hashes for 1,200 producers instead of 1,200.
    shared_code = make_password(OTHER_SIGNATURE_CODE)
    for org in plan.organizations:
        if org.kind == OrganizationKind.PRODUCER:
            org.signature_code_hash = shared_code
    builder.demo_producer.set_signature_code(DEMO_SIGNATURE_CODE)
    # Every bin gets an HTTP key, and its MQTT password or HJ 212 PW (the events of creation name them).
    creds: dict[str, DeviceCredentials] = {
        device.serial: credentials_issue(device, None)[0] for device, _ in plan.bins
    }
    writer = Writer(plan, lambda fraction, label: report(fraction * REGISTRY_SHARE, label), seed=seed)
    history = HistoryWriter(
        today=builder.today,
        seed=seed,
        progress=lambda fraction, label: report(REGISTRY_SHARE + fraction * HISTORY_SHARE, label),
    )
    with transaction.atomic():
        if demo_is_loaded():
            raise RuntimeError("demo already loaded")
        counts = writer.write(codes)
        # The platform's records since the start of last year: pickups, receipts, onward shipments.
        counts.update(history.build())
        history.write()
        # Added last, so that "dispatcher" starts in the demo collector and can switch to this one.
        dispatcher = User.objects.get(username="dispatcher")
        second = Membership.objects.create(
            user=dispatcher, organization=builder.collectors[1], role=Role.ADMIN
        )
        event_record(
            action="accounts.membership.created",
            obj=second,
            subject_organization=second.organization,
            division_code=second.organization.division_id,
            payload={"user": dispatcher.username, "role": second.role, "source": "load_demo"},
        )
        counts["memberships"] += 1
    # A round walked through the services, as each party would on its own pages.
    facility = Organization.objects.get(kind=OrganizationKind.FACILITY, name=nantong.FACILITY[1])
    walked = demo_round(
        producer=builder.demo_producer,
        collector=builder.collectors[0],
        facility=facility,
        signature_code=DEMO_SIGNATURE_CODE,
    )
    # This year's plans and last year's declarations, filed by each collector for its clients.
    counts.update(
        demo_filings(
            history.clients,
            year=builder.today.year,
            skip_producer=builder.demo_producer.pk,
            drafts_for=builder.collectors[0].pk,
            progress=lambda fraction, label: report(
                REGISTRY_SHARE + HISTORY_SHARE + fraction * (1 - REGISTRY_SHARE - HISTORY_SHARE), label
            ),
        )
    )
    # Last year's self-assessment of the demo producer, waiting for the district inspector's review.
    demo_assessment(
        clerk=User.objects.get(username="clerk"), producer=builder.demo_producer, year=builder.today.year - 1
    )
    counts["assessments"] = 1
    counts["open_requests"] = PickupRequest.objects.filter(status=RequestStatus.OPEN).count()
    counts["open_requests_demo_collector"] = PickupRequest.objects.filter(
        status=RequestStatus.OPEN, collector=builder.collectors[0]
    ).count()
    report(1.0, "完成 done")
    path = write_credentials(creds)
    counts.update(
        {f"transport_{t}": sum(1 for d, _ in plan.bins if d.transport == t) for t in sorted(Transport.values)}
    )
    return DemoSummary(
        counts=counts,
        seconds=time.monotonic() - started,
        keys_file=keys_path(),
        credentials_file=path,
        round=walked,
    )


def demo_bins() -> list[Bin]:
    """The demo's bins, by serial, with what the audit events of a credential change need."""
    return list(
        Bin.objects.select_related("site__organization")
        .filter(serial__startswith=BIN_SERIAL_PREFIX)
        .order_by("serial")
    )


def demo_credentials_restore() -> Path:
    """The demo is in the database but a credentials file is missing: restore the files.

    What the remaining file still knows is kept (a secret that matches its hash keeps working); every
    other secret a bin needs is issued anew, which retires the old one, as with any rotation, with one
    audit event each. The files are written after the commit.
    """
    credentials_ensure(demo_bins(), read_credentials(), source="load_demo")
    return credentials_path()


def demo_keys_reissue() -> Path:
    """Give every demo bin new secrets (HTTP key, and its MQTT password or HJ 212 PW) and write the files.

    The old secrets stop working; each rotation is an audit event. Returns the keys file.
    """
    credentials_ensure(demo_bins(), {}, source="load_demo")
    return keys_path()
