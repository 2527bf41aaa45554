"""Provisioning smart bins: create, change, enable or disable, and rotate their credentials.

Only the administrator of the collector that runs a bin provisions it; a dispatcher sees bins but does
not create or change them. A bin stands at a site of a producer that has a service contract in force with
the collector. Every change and its audit event commit in one transaction.

Credentials are shown once: ``bin_create`` and ``bin_rotate_credentials`` return the raw HTTP device key
(every bin has one) and, for a bin with an MQTT username, the MQTT password; only their hashes are kept.
The HJ 212 PW is not generated: the installer configures it on the data logger and types it here.

Checking a bin's fields (``bin_clean``, ``BinInvalid``) is in ``greenisle.devices.validation``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import require
from greenisle.audit.services import event_record
from greenisle.catalog.models import WasteCode
from greenisle.core.errors import NotFound, ServiceError
from greenisle.devices.models import Bin, CrcMode, Transport
from greenisle.devices.validation import UNSET, BinLookups, bin_clean, uniqueness_error
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Organization

PROVISION_ROLES = {Role.ADMIN}
VIEW_ROLES = {Role.ADMIN, Role.DISPATCHER}


# --- who may ----------------------------------------------------------------------------------------


def collector_admin(actor: Any, collector: Any = None) -> Any:
    """The actor's membership if it is an administrator of ``collector`` (of any collector if None)."""
    organization_id = getattr(collector, "pk", collector)
    return require(actor, kind="collector", roles=PROVISION_ROLES, organization_id=organization_id)


def collector_viewer(actor: Any) -> Any:
    """The actor's membership if it may look at the collector's provisioning (admin or dispatcher)."""
    return require(actor, kind="collector", roles=VIEW_ROLES)


def can_provision(user: Any) -> bool:
    membership = getattr(user, "current_membership", None) if user is not None else None
    return bool(
        membership is not None
        and membership.organization.kind == OrganizationKind.COLLECTOR
        and membership.role in PROVISION_ROLES
    )


# --- what the services share ------------------------------------------------------------------------


def _event_kwargs(obj: Bin, membership: Any) -> dict[str, Any]:
    return {
        "organization": membership.organization,
        "subject_organization": obj.site.organization,
        "division_code": obj.site.division_id,
    }


def _snapshot(obj: Bin, codes: Iterable[WasteCode]) -> dict[str, Any]:
    return {
        "serial": obj.serial,
        "name": obj.name,
        "site": str(obj.site_id),
        "capacity_l": obj.capacity_l,
        "capacity_kg": str(obj.capacity_kg),
        "waste_codes": sorted(c.code for c in codes),
        "threshold_pct": str(obj.threshold_pct),
        "reporting_interval_s": obj.reporting_interval_s,
        "transport": obj.transport,
        "mqtt_username": obj.mqtt_username,
        "hj212_mn": obj.hj212_mn,
        "hj212_crc_mode": obj.hj212_crc_mode,
        "enabled": obj.enabled,
    }


def _collector_of(collector: Any, membership: Any) -> Organization:
    org: Organization = membership.organization
    if collector is not None and str(getattr(collector, "pk", collector)) != str(org.pk):
        raise ServiceError("不属于本单位 / belongs to another organisation", field="collector")
    return org


# --- services ---------------------------------------------------------------------------------------


def bin_create(
    *,
    actor: Any,
    collector: Any,
    serial: Any,
    name: Any,
    site: Any,
    capacity_l: Any,
    capacity_kg: Any,
    waste_codes: Any,
    threshold_pct: Any = 80,
    reporting_interval_s: Any = 900,
    transport: Any = Transport.HTTP,
    mqtt_username: Any = None,
    hj212_mn: Any = None,
    hj212_pw: Any = None,
    hj212_crc_mode: Any = CrcMode.STANDARD,
    enabled: Any = True,
    lookups: BinLookups | None = None,
    source: str = "",
) -> tuple[Bin, dict[str, str]]:
    """Register a bin for ``collector``. Returns the bin and its credentials, which are shown only now:
    ``http_key`` always, ``mqtt_username`` and ``mqtt_password`` when the bin has an MQTT username."""
    membership = collector_admin(actor, getattr(collector, "pk", collector))
    org = _collector_of(collector, membership)
    data = bin_clean(
        collector=org,
        values={
            "serial": serial,
            "name": name,
            "site": site,
            "capacity_l": capacity_l,
            "capacity_kg": capacity_kg,
            "waste_codes": waste_codes,
            "threshold_pct": threshold_pct,
            "reporting_interval_s": reporting_interval_s,
            "transport": transport,
            "mqtt_username": mqtt_username,
            "hj212_mn": hj212_mn,
            "hj212_pw": hj212_pw,
            "hj212_crc_mode": hj212_crc_mode,
            "enabled": enabled,
        },
        lookups=lookups,
    )
    assert data.site is not None
    obj = Bin(
        serial=data.serial,
        name=data.name,
        site=data.site,
        collector=org,
        capacity_l=data.capacity_l,
        capacity_kg=data.capacity_kg,
        threshold_pct=data.threshold_pct,
        reporting_interval_s=data.reporting_interval_s,
        transport=data.transport,
        mqtt_username=data.mqtt_username,
        hj212_mn=data.hj212_mn,
        hj212_crc_mode=data.hj212_crc_mode,
        enabled=data.enabled,
    )
    credentials = {"http_key": obj.rotate_key()}
    if data.mqtt_username:
        credentials["mqtt_username"] = data.mqtt_username
        credentials["mqtt_password"] = obj.rotate_mqtt_password()
    if data.hj212_pw is not None:
        obj.set_hj212_password(data.hj212_pw)
    # One savepoint for the row (a refusal at write time undoes the row alone); a serial or device id
    # someone registered since the check is named as the field at fault.
    try:
        with transaction.atomic():
            obj.save(force_insert=True)
            through = Bin.waste_codes.through
            through.objects.bulk_create([through(bin_id=obj.pk, wastecode_id=c.pk) for c in data.waste_codes])
            payload = {**_snapshot(obj, data.waste_codes), "key_prefix": obj.key_prefix}
            if source:
                payload["source"] = source
            event_record(
                action="devices.bin.created",
                obj=obj,
                actor=actor,
                payload=payload,
                **_event_kwargs(obj, membership),
            )
    except IntegrityError:
        raise uniqueness_error(obj) from None
    return obj, credentials


def _lock_own(membership: Any, bin_id: Any) -> Bin:
    pk = getattr(bin_id, "pk", bin_id)
    try:
        pk = uuid.UUID(str(pk))
    except ValueError:
        raise NotFound("云仓不存在 / no such bin of yours", field="bin_id") from None
    obj = (
        Bin.objects.select_for_update(of=("self",))
        .select_related("site__organization", "collector")
        .filter(pk=pk, collector=membership.organization)
        .first()
    )
    if obj is None:
        raise NotFound("云仓不存在 / no such bin of yours", field="bin_id")
    return obj


def bin_update(
    *,
    actor: Any,
    bin_id: Any,
    name: Any = UNSET,
    site: Any = UNSET,
    capacity_l: Any = UNSET,
    capacity_kg: Any = UNSET,
    waste_codes: Any = UNSET,
    threshold_pct: Any = UNSET,
    reporting_interval_s: Any = UNSET,
    transport: Any = UNSET,
    mqtt_username: Any = UNSET,
    hj212_mn: Any = UNSET,
    hj212_pw: Any = UNSET,
    hj212_crc_mode: Any = UNSET,
    enabled: Any = UNSET,
    lookups: BinLookups | None = None,
    source: str = "",
) -> tuple[Bin, dict[str, str]]:
    """Change the named fields of one of the collector's bins (those left UNSET stay as they are).

    Setting an MQTT username on a bin without an MQTT password issues one, returned in the credentials
    (shown once); clearing the username drops the password; clearing the MN drops the HJ 212 PW. A change
    that changes nothing writes nothing and records no event."""
    membership = collector_admin(actor)
    supplied = {
        "name": name,
        "site": site,
        "capacity_l": capacity_l,
        "capacity_kg": capacity_kg,
        "waste_codes": waste_codes,
        "threshold_pct": threshold_pct,
        "reporting_interval_s": reporting_interval_s,
        "transport": transport,
        "mqtt_username": mqtt_username,
        "hj212_mn": hj212_mn,
        "hj212_pw": hj212_pw,
        "hj212_crc_mode": hj212_crc_mode,
        "enabled": enabled,
    }
    values = {k: v for k, v in supplied.items() if v is not UNSET}
    with transaction.atomic():
        obj = _lock_own(membership, bin_id)
        data = bin_clean(collector=membership.organization, instance=obj, values=values, lookups=lookups)
        old_codes = list(obj.waste_codes.all())
        before = _snapshot(obj, old_codes)
        for name_ in (
            "name",
            "capacity_l",
            "capacity_kg",
            "threshold_pct",
            "reporting_interval_s",
            "transport",
            "mqtt_username",
            "hj212_mn",
            "hj212_crc_mode",
            "enabled",
        ):
            if name_ in values:
                setattr(obj, name_, getattr(data, name_))
        if "site" in values and data.site is not None:
            obj.site = data.site
        credentials: dict[str, str] = {}
        secrets_changed: list[str] = []
        if not obj.mqtt_username and obj.mqtt_password_hash:
            obj.mqtt_password_hash = ""
            secrets_changed.append("mqtt_password_cleared")
        elif obj.mqtt_username and not obj.mqtt_password_hash:
            credentials = {"mqtt_username": obj.mqtt_username, "mqtt_password": obj.rotate_mqtt_password()}
            secrets_changed.append("mqtt_password_issued")
        if not obj.hj212_mn and obj.hj212_pw_hash:
            obj.hj212_pw_hash = ""
            secrets_changed.append("hj212_pw_cleared")
        elif data.hj212_pw is not None and not obj.hj212_password_matches(data.hj212_pw):
            obj.set_hj212_password(data.hj212_pw)
            secrets_changed.append("hj212_pw_set")
        new_codes = data.waste_codes if "waste_codes" in values else old_codes
        after = _snapshot(obj, new_codes)
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        if not changes and not secrets_changed:
            return obj, {}
        try:
            with transaction.atomic():
                obj.save()
        except IntegrityError:
            raise uniqueness_error(obj) from None
        if "waste_codes" in changes:
            obj.waste_codes.set(new_codes)
        payload: dict[str, Any] = {"serial": obj.serial, "changes": changes}
        if secrets_changed:
            payload["credentials"] = secrets_changed
        if source:
            payload["source"] = source
        event_record(
            action="devices.bin.updated",
            obj=obj,
            actor=actor,
            payload=payload,
            **_event_kwargs(obj, membership),
        )
    return obj, credentials


def bin_set_enabled(*, actor: Any, bin_id: Any, enabled: bool) -> Bin:
    """Switch a bin on or off. A disabled bin's reports are refused (and counted) until it is enabled."""
    membership = collector_admin(actor)
    if not isinstance(enabled, bool):
        raise ServiceError("启用须为 是/否 / enabled must be true or false", field="enabled")
    with transaction.atomic():
        obj = _lock_own(membership, bin_id)
        if obj.enabled == enabled:
            return obj
        obj.enabled = enabled
        obj.save(update_fields=["enabled", "updated_at"])
        event_record(
            action="devices.bin.enabled" if enabled else "devices.bin.disabled",
            obj=obj,
            actor=actor,
            payload={"serial": obj.serial, "enabled": enabled},
            **_event_kwargs(obj, membership),
        )
    return obj


def bin_rotate_credentials(
    *, actor: Any, bin_id: Any, http_key: bool = True, mqtt_password: bool | None = None
) -> tuple[Bin, dict[str, str]]:
    """Issue new credentials; the old ones stop working at once. ``mqtt_password=None`` rotates the MQTT
    password when the bin has an MQTT username. Returns the new secrets, shown only now."""
    membership = collector_admin(actor)
    with transaction.atomic():
        obj = _lock_own(membership, bin_id)
        if mqtt_password is None:
            mqtt_password = bool(obj.mqtt_username)
        if mqtt_password and not obj.mqtt_username:
            raise ServiceError("该云仓没有MQTT用户名 / this bin has no MQTT username", field="mqtt_password")
        if not http_key and not mqtt_password:
            raise ServiceError("请选择要更换的凭据 / choose the credentials to rotate", field="http_key")
        credentials: dict[str, str] = {}
        rotated: list[str] = []
        update_fields = ["updated_at"]
        if http_key:
            credentials["http_key"] = obj.rotate_key()
            rotated.append("http_key")
            update_fields += ["key_prefix", "key_hash"]
        if mqtt_password:
            credentials["mqtt_username"] = obj.mqtt_username or ""
            credentials["mqtt_password"] = obj.rotate_mqtt_password()
            rotated.append("mqtt_password")
            update_fields.append("mqtt_password_hash")
        obj.updated_at = timezone.now()
        obj.save(update_fields=update_fields)
        event_record(
            action="devices.bin.credentials_rotated",
            obj=obj,
            actor=actor,
            payload={"serial": obj.serial, "rotated": rotated, "key_prefix": obj.key_prefix},
            **_event_kwargs(obj, membership),
        )
    return obj, credentials
