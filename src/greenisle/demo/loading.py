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
bureau tells a later run that the demo is complete. Device keys are random (``Bin.rotate_key``);
everything else comes from ``random.Random(seed)``, so two runs with the same seed and on the same
day give the same registry.

The code is in three parts: :mod:`greenisle.demo.plan` decides what to create (no database
writes), :mod:`greenisle.demo.writer` writes it, and this module holds the public entry points, the
transaction around them and the device keys file.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.models import Membership, User
from greenisle.audit.services import event_record
from greenisle.catalog.models import WasteCode
from greenisle.demo import nantong
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
from greenisle.demo.writer import PLANNING_SHARE, Progress, Writer
from greenisle.devices.models import Bin
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
    "demo_is_loaded",
    "demo_keys_reissue",
    "demo_load",
    "demo_logins",
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
# The demo producer signs with this code on the driver's phone; every other producer shares the
# second one. Fixed, like the password, so the logins can be printed again on a later run.
DEMO_SIGNATURE_CODE = "246810"
OTHER_SIGNATURE_CODE = "135790"


def keys_path() -> Path:
    """Where the plaintext device keys go for the simulator (var/demo/device_keys.json)."""
    return Path(settings.VAR_DIR) / "demo" / "device_keys.json"


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


def write_keys(keys: dict[str, str]) -> Path:
    """Write the plaintext device keys for the simulator, readable by the owner only."""
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=1, sort_keys=True)
    tmp.replace(path)
    return path


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
    keys = {device.serial: device.rotate_key() for device, _ in plan.bins}
    writer = Writer(plan, report, seed=seed)
    with transaction.atomic():
        if demo_is_loaded():
            raise RuntimeError("demo already loaded")
        counts = writer.write(codes)
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
        counts["open_requests"] = PickupRequest.objects.filter(status=RequestStatus.OPEN).count()
        counts["open_requests_demo_collector"] = PickupRequest.objects.filter(
            status=RequestStatus.OPEN, collector=builder.collectors[0]
        ).count()
    report(1.0, "完成 done")
    path = write_keys(keys)
    return DemoSummary(counts=counts, seconds=time.monotonic() - started, keys_file=path)


def demo_keys_reissue() -> Path:
    """The demo is in the database but its keys file is gone: give every demo bin a new key and write it.

    The old keys stop working, as with any key rotation; each rotation is an audit event. The file is
    written after the commit, so it never holds keys the database does not know.
    """
    keys: dict[str, str] = {}
    with transaction.atomic():
        devices = list(
            Bin.objects.select_related("site__organization")
            .filter(serial__startswith=BIN_SERIAL_PREFIX)
            .order_by("serial")
        )
        now = timezone.now()
        for device in devices:
            keys[device.serial] = device.rotate_key()
            device.updated_at = now  # bulk_update skips auto_now
        Bin.objects.bulk_update(devices, ["key_prefix", "key_hash", "updated_at"], batch_size=500)
        for device in devices:
            event_record(
                action="devices.bin.key_rotated",
                obj=device,
                subject_organization=device.site.organization,
                division_code=device.site.division_id,
                payload={"key_prefix": device.key_prefix, "source": "load_demo"},
            )
    return write_keys(keys)
