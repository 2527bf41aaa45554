"""The demo bins' raw credentials: issued here, kept in a private file for the simulator.

The database keeps only hashes of device secrets, so the raw ones exist once, when they are issued.
The demo writes them to ``var/demo/device_credentials.json`` (mode 0600) so that ``greenisle simulate``
can speak for its bins over every transport::

    {"format": 1,
     "bins": {"YC0602-00001": {"transport": "mqtt", "key": "dk_…",
                               "mqtt_username": "YC0602-00001", "mqtt_password": "…"},
              "YC0612-00003": {"transport": "hj212", "key": "dk_…",
                               "hj212_mn": "010004E5500B1A1061200003", "hj212_pw": "…"}}}

Every bin has an HTTP device ``key``, whatever its transport; the MQTT password and the HJ 212 PW are
present for the bins that have them. ``transport`` records what the bin was set to when the file was
written: the database is authoritative. The older ``device_keys.json`` (``{serial: key}``) is still
written next to it, from the same data, for scripts that read only HTTP keys in that older format,
and a demo loaded before this file existed is read from the keys file alone.

The functions that only decide (:func:`credentials_issue`, :func:`hj212_mn_for`) do not touch the
database; :func:`credentials_ensure` saves what they changed, with one audit event per change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from greenisle.audit.services import event_record
from greenisle.devices.models import Bin, Transport, hash_device_key, validate_hj212_pw

__all__ = [
    "CREDENTIALS_FORMAT",
    "HJ212_MN_PREFIX",
    "DeviceCredentials",
    "credentials_ensure",
    "credentials_issue",
    "credentials_path",
    "hj212_mn_for",
    "keys_path",
    "mqtt_username_for",
    "new_hj212_password",
    "read_credentials",
    "write_credentials",
    "write_keys",
]

CREDENTIALS_FORMAT = 1
# An EPC-96 style MN (protocols.md §1.2): header 01, a fictional maker 0004E55 and device class 00B1A1
# (15 hex digits), then 9 digits of the bin's serial (YC0602-00001 → 060200001).
HJ212_MN_PREFIX = "010004E5500B1A1"
_NOT_TOPIC_SAFE = re.compile(r"[^A-Za-z0-9_.:-]")

# The fields saved when credentials change (bulk_update skips auto_now, hence updated_at).
CREDENTIAL_FIELDS = (
    "transport",
    "key_prefix",
    "key_hash",
    "mqtt_username",
    "mqtt_password_hash",
    "hj212_mn",
    "hj212_pw_hash",
    "updated_at",
)


def keys_path() -> Path:
    """Where the plaintext HTTP device keys go (var/demo/device_keys.json): ``{serial: key}``."""
    return Path(settings.VAR_DIR) / "demo" / "device_keys.json"


def credentials_path() -> Path:
    """Where every raw device secret goes (var/demo/device_credentials.json), see the module docstring."""
    return Path(settings.VAR_DIR) / "demo" / "device_credentials.json"


@dataclass
class DeviceCredentials:
    """One bin's raw secrets, as far as they are known."""

    transport: str = Transport.HTTP
    key: str | None = None
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    hj212_mn: str | None = None
    hj212_pw: str | None = None

    def as_json(self) -> dict[str, str]:
        return {name: str(value) for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceCredentials:
        known = {name: data[name] for name in cls.__dataclass_fields__ if isinstance(data.get(name), str)}
        return cls(**known)


def _write_private(path: Path, data: Any) -> None:
    """Write JSON readable by the owner only; the rename makes a reader see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True, ensure_ascii=False)
    tmp.replace(path)


def write_keys(keys: Mapping[str, str]) -> Path:
    """Write the plaintext HTTP device keys (``{serial: key}``), readable by the owner only."""
    path = keys_path()
    _write_private(path, dict(keys))
    return path


def write_credentials(creds: Mapping[str, DeviceCredentials]) -> Path:
    """Write the credentials file and, from the same data, the keys file. Returns the credentials file."""
    path = credentials_path()
    _write_private(
        path,
        {"format": CREDENTIALS_FORMAT, "bins": {serial: c.as_json() for serial, c in sorted(creds.items())}},
    )
    write_keys({serial: c.key for serial, c in creds.items() if c.key})
    return path


def read_credentials() -> dict[str, DeviceCredentials]:
    """The demo's credentials by serial: from the credentials file, else from the older keys file.

    Empty when neither exists. ValueError when a file is not what this module writes.
    """
    path = credentials_path()
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("bins"), dict):
            raise ValueError(f"{path}: not a credentials file / 不是设备凭据文件")
        if data.get("format") != CREDENTIALS_FORMAT:
            raise ValueError(f"{path}: unknown format {data.get('format')!r} / 未知格式")
        return {
            serial: DeviceCredentials.from_json(entry)
            for serial, entry in data["bins"].items()
            if isinstance(entry, dict)
        }
    keys = keys_path()
    if keys.exists():
        data = json.loads(keys.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{keys}: not a device keys file / 不是设备密钥文件")
        return {serial: DeviceCredentials(key=key) for serial, key in data.items() if isinstance(key, str)}
    return {}


def mqtt_username_for(serial: str) -> str:
    """The MQTT username (one topic level) for a bin: its serial, made topic-safe."""
    return (_NOT_TOPIC_SAFE.sub("_", serial) or "bin")[:64]


def hj212_mn_for(serial: str) -> str:
    """A 24-hex-digit MN for a bin: :data:`HJ212_MN_PREFIX` and 9 digits of its serial.

    A serial with more than 9 digits gets 9 hex digits of its SHA-256 instead (still one MN per serial).
    """
    digits = "".join(ch for ch in serial if ch.isdigit())
    if len(digits) > 9 or not digits:
        digits = hashlib.sha256(serial.encode("utf-8")).hexdigest()[:9].upper()
    return HJ212_MN_PREFIX + digits.zfill(9)


def new_hj212_password() -> str:
    """An HJ 212 PW as an installer would type it into the data logger: 16 hex characters."""
    raw = secrets.token_hex(8)
    validate_hj212_pw(raw)
    return raw


def credentials_issue(
    device: Bin, creds: DeviceCredentials | None, *, transport: str | None = None
) -> tuple[DeviceCredentials, list[tuple[str, dict[str, Any]]]]:
    """Make ``device`` speak ``transport`` (default: its own) with working raw credentials.

    Checks the raw secrets in ``creds`` against the device's hashes and issues what is missing or does
    not match: the HTTP key always (every bin has one), the MQTT password for an MQTT bin, the HJ 212 PW
    for an HJ 212 bin. Changes ``device`` in memory only; returns the credentials and the audit events
    (action, payload) for the changes, empty when nothing changed.
    """
    creds = DeviceCredentials(**asdict(creds)) if creds is not None else DeviceCredentials()
    target = transport or device.transport
    if target not in Transport.values:
        raise ValueError(f"unknown transport {target!r}")
    events: list[tuple[str, dict[str, Any]]] = []
    if device.transport != target:
        events.append(("devices.bin.transport_changed", {"from": device.transport, "to": target}))
        device.transport = target
    if not (creds.key and device.key_hash and hash_device_key(creds.key) == device.key_hash):
        creds.key = device.rotate_key()
        events.append(("devices.bin.key_rotated", {"key_prefix": device.key_prefix}))
    if target == Transport.MQTT:
        if not device.mqtt_username:
            device.mqtt_username = mqtt_username_for(device.serial)
        if creds.mqtt_username != device.mqtt_username or not (
            creds.mqtt_password and device.mqtt_password_matches(creds.mqtt_password)
        ):
            creds.mqtt_username = device.mqtt_username
            creds.mqtt_password = device.rotate_mqtt_password()
            events.append(("devices.bin.mqtt_password_rotated", {"mqtt_username": device.mqtt_username}))
    if target == Transport.HJ212:
        if not device.hj212_mn:
            device.hj212_mn = hj212_mn_for(device.serial)
        if creds.hj212_mn != device.hj212_mn or not device.hj212_password_matches(creds.hj212_pw):
            creds.hj212_mn = device.hj212_mn
            creds.hj212_pw = new_hj212_password()
            device.set_hj212_password(creds.hj212_pw)
            events.append(("devices.bin.hj212_password_set", {"hj212_mn": device.hj212_mn}))
    creds.transport = target
    return creds, events


def credentials_ensure(
    devices: Iterable[Bin],
    creds: Mapping[str, DeviceCredentials],
    *,
    transport: str | None = None,
    source: str,
) -> tuple[dict[str, DeviceCredentials], int]:
    """Give ``devices`` working credentials (switching them to ``transport`` when given), save the
    changes with their audit events in one transaction, then write the credentials file.

    ``devices`` need ``site`` loaded (the audit events name its organisation and division). Returns the
    credentials of every bin in the file (``creds`` updated) and how many bins changed. The files are
    written after the commit, so they never hold secrets the database does not know; when nothing
    changed they are written only if one is missing (restored from ``creds``).
    """
    merged = dict(creds)
    changed: list[tuple[Bin, list[tuple[str, dict[str, Any]]]]] = []
    devices = list(devices)
    if transport == Transport.HJ212 or any(d.transport == Transport.HJ212 for d in devices):
        # An MN is unique: a bin elsewhere in the database may already use the one a serial gives.
        taken = set(
            Bin.objects.exclude(pk__in=[d.pk for d in devices])
            .exclude(hj212_mn=None)
            .values_list("hj212_mn", flat=True)
        )
        for device in devices:
            if not device.hj212_mn and hj212_mn_for(device.serial) in taken:
                device.hj212_mn = HJ212_MN_PREFIX + secrets.token_hex(5).upper()[:9]
    for device in devices:
        updated, events = credentials_issue(device, merged.get(device.serial), transport=transport)
        merged[device.serial] = updated
        if events:
            changed.append((device, events))
    if changed:
        with transaction.atomic():
            now = timezone.now()
            for device, _ in changed:
                device.updated_at = now
            Bin.objects.bulk_update([d for d, _ in changed], list(CREDENTIAL_FIELDS), batch_size=500)
            for device, events in changed:
                for action, payload in events:
                    event_record(
                        action=action,
                        obj=device,
                        subject_organization=device.site.organization,
                        division_code=device.site.division_id,
                        payload={**payload, "serial": device.serial, "source": source},
                    )
    if changed or not credentials_path().exists() or not keys_path().exists():
        write_credentials(merged)
    return merged, len(changed)
