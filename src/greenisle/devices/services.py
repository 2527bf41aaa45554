"""Provisioning smart bins: create, change, enable or disable, and rotate their credentials.

Only the administrator of the collector that runs a bin provisions it; a dispatcher sees bins but does
not create or change them. A bin stands at a site of a producer that has a service contract in force with
the collector. Every change and its audit event commit in one transaction.

Credentials are shown once: ``bin_create`` and ``bin_rotate_credentials`` return the raw HTTP device key
(every bin has one) and, for a bin with an MQTT username, the MQTT password; only their hashes are kept.
The HJ 212 PW is not generated: the installer configures it on the data logger and types it here.

Validation collects every refusal of a bin's fields (``BinInvalid.errors``), so a form or an import row
can show them all; ``field`` and ``message`` name the first.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from greenisle.accounts.choices import Role
from greenisle.accounts.permissions import require
from greenisle.audit.services import event_record
from greenisle.catalog.models import WASTE_CODE_RE, WasteCode
from greenisle.core.errors import NotFound, ServiceError
from greenisle.devices.models import (
    Bin,
    CrcMode,
    Transport,
    validate_hj212_mn,
    validate_hj212_pw,
    validate_mqtt_username,
)
from greenisle.organizations.choices import OrganizationKind
from greenisle.organizations.models import Organization, ServiceContract, Site

PROVISION_ROLES = {Role.ADMIN}
VIEW_ROLES = {Role.ADMIN, Role.DISPATCHER}

THRESHOLD_MIN, THRESHOLD_MAX = Decimal("1"), Decimal("100")
INTERVAL_MIN_S, INTERVAL_MAX_S = 30, 86400
CAPACITY_L_MAX = 100_000
CAPACITY_KG_MAX = Decimal("100000")
MAX_WASTE_CODES = 50
SERIAL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#-]{0,63}")
WASTE_CODE_SEPARATORS = re.compile(r"[;；,，、\s]+")

# Fields a change may name (the serial is the device's identity and the collector who runs it is fixed).
UPDATABLE = (
    "name",
    "site",
    "capacity_l",
    "capacity_kg",
    "waste_codes",
    "threshold_pct",
    "reporting_interval_s",
    "transport",
    "mqtt_username",
    "hj212_mn",
    "hj212_pw",
    "hj212_crc_mode",
    "enabled",
)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class BinInvalid(ServiceError):
    """One or more fields of a bin refused. ``errors`` lists ``(field, message)``; the first is ``field``."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        field_name, message = errors[0]
        super().__init__(message, field=field_name)
        self.errors = errors

    def as_dict(self) -> dict[str, object]:
        body = super().as_dict()
        body["errors"] = [{"field": f, "detail": m} for f, m in self.errors]
        return body


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


# --- validation -------------------------------------------------------------------------------------


class BinLookups:
    """What validation reads about one collector, read once: its client producers and the catalogue in
    force. An import validates thousands of rows with one of these."""

    def __init__(self, collector: Organization) -> None:
        self.collector = collector
        self._clients: set[uuid.UUID] | None = None
        self._codes: dict[str, WasteCode] | None = None
        self._sites: dict[uuid.UUID, Site | None] = {}
        # Serials the caller found unregistered (an import reads them all at once); the unique index
        # still refuses a serial someone registers meanwhile.
        self.free_serials: set[str] = set()

    def client_ids(self) -> set[uuid.UUID]:
        if self._clients is None:
            self._clients = set(
                ServiceContract.objects.active()
                .filter(collector=self.collector, producer__kind=OrganizationKind.PRODUCER)
                .values_list("producer_id", flat=True)
            )
        return self._clients

    def codes(self) -> dict[str, WasteCode]:
        if self._codes is None:
            self._codes = {c.code: c for c in WasteCode.objects.current()}
        return self._codes

    def site(self, site_id: uuid.UUID) -> Site | None:
        if site_id not in self._sites:
            self._sites[site_id] = (
                Site.objects.select_related("organization", "division").filter(pk=site_id).first()
            )
        return self._sites[site_id]


@dataclass
class BinValues:
    """Cleaned values for a bin. On a change, only the fields named in ``given`` were supplied."""

    given: set[str] = field(default_factory=set)
    serial: str = ""
    name: str = ""
    site: Site | None = None
    capacity_l: int = 0
    capacity_kg: Decimal = Decimal("0")
    waste_codes: list[WasteCode] = field(default_factory=list)
    threshold_pct: Decimal = Decimal("80")
    reporting_interval_s: int = 900
    transport: str = Transport.HTTP
    mqtt_username: str | None = None
    hj212_mn: str | None = None
    hj212_pw: str | None = None
    hj212_crc_mode: str = CrcMode.STANDARD
    enabled: bool = True


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self.fields: set[str] = set()

    def add(self, field_name: str, message: str) -> None:
        if field_name not in self.fields:  # one message per field: the first problem found
            self.items.append((field_name, message))
            self.fields.add(field_name)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _default(value: Any, default: Any, creating: bool) -> Any:
    """A new bin takes the default for a value left out or blank; a change must say what it wants."""
    return default if creating and (value is None or value == "") else value


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(_text(value))
    except (InvalidOperation, ValueError):
        return None
    # Far outside any bin's values; also keeps "1e999999999" from overflowing arithmetic and int().
    if not number.is_finite() or abs(number.adjusted()) > 15:
        return None
    return number


def _integer(value: Any) -> int | None:
    number = _decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


TRUE_WORDS = {"1", "true", "t", "yes", "y", "on", "是", "启用", "开", "开启", "正常"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "off", "否", "停用", "禁用", "关", "关闭"}


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    word = _text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _transport(value: Any) -> str | None:
    word = re.sub(r"[\s_-]", "", _text(value).lower())
    return {
        "http": Transport.HTTP,
        "httpjson": Transport.HTTP,
        "mqtt": Transport.MQTT,
        "hj212": Transport.HJ212,
    }.get(word)


def _crc_mode(value: Any) -> str | None:
    word = _text(value).lower().replace("-", "_").replace(" ", "_")
    if word == "标准":
        return CrcMode.STANDARD
    return word if word in CrcMode.values else None


def split_waste_codes(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [c for c in WASTE_CODE_SEPARATORS.split(value.strip()) if c]
    codes: list[str] = []
    for item in value:
        codes.extend(split_waste_codes(item.code if isinstance(item, WasteCode) else str(item)))
    return codes


def _passes(validator: Any, value: str) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def _unique_taken(field_name: str, value: str, instance: Bin | None) -> bool:
    qs = Bin.objects.filter(**{field_name: value})
    if instance is not None:
        qs = qs.exclude(pk=instance.pk)
    return qs.exists()


def bin_clean(
    *,
    collector: Organization,
    instance: Bin | None = None,
    values: dict[str, Any],
    lookups: BinLookups | None = None,
) -> BinValues:
    """Check a new bin (``instance`` None) or a change to ``instance``; raise ``BinInvalid`` naming every
    field at fault. Reads only: an import's dry run calls this and nothing else."""
    lookups = lookups or BinLookups(collector)
    errors = _Errors()
    creating = instance is None
    out = BinValues(given=set(values))

    def given(name: str) -> bool:
        return name in values and values[name] is not UNSET

    if creating:
        serial = _text(values.get("serial"))
        if not serial:
            errors.add("serial", "序列号必填 / serial is required")
        elif not SERIAL_RE.fullmatch(serial):
            errors.add(
                "serial",
                "序列号须为1–64个字母、数字或 - _ . : / #，以字母或数字开头 / serial: 1–64 letters, digits or "
                "- _ . : / #, starting with a letter or digit",
            )
        elif serial not in lookups.free_serials and _unique_taken("serial", serial, None):
            errors.add("serial", "该序列号已登记 / a bin with this serial is already registered")
        out.serial = serial

    if creating or given("name"):
        name = _text(values.get("name"))
        if not name:
            errors.add("name", "名称必填 / name is required")
        elif len(name) > 100 or not name.isprintable():
            errors.add("name", "名称最长100个字符 / name: at most 100 printable characters")
        out.name = name

    if creating or given("site"):
        raw_site = values.get("site")
        site: Site | None = None
        if isinstance(raw_site, Site):
            site = lookups.site(raw_site.pk)
        elif _text(raw_site):
            try:
                site = lookups.site(uuid.UUID(_text(raw_site)))
            except ValueError:
                site = None
        if not _text(getattr(raw_site, "pk", raw_site)):
            errors.add("site", "场所必填 / site is required")
        elif site is None:
            errors.add("site", "场所不存在 / no such site")
        elif instance is not None and site.pk == instance.site_id:
            pass  # unchanged: a contract that lapsed since does not block other changes
        elif (
            site.organization.kind != OrganizationKind.PRODUCER
            or site.organization_id not in lookups.client_ids()
        ):
            errors.add(
                "site",
                "场所须属于与本单位签有有效服务合同的产废单位 / the site must belong to a producer "
                "with a service contract in force with you",
            )
        out.site = site

    if creating or given("capacity_l"):
        capacity_l = _integer(values.get("capacity_l"))
        if capacity_l is None or not 1 <= capacity_l <= CAPACITY_L_MAX:
            errors.add(
                "capacity_l",
                f"容积须为1–{CAPACITY_L_MAX}的整数升 / capacity_l: whole litres, 1–{CAPACITY_L_MAX}",
            )
        else:
            out.capacity_l = capacity_l

    if creating or given("capacity_kg"):
        capacity_kg = _decimal(values.get("capacity_kg"))
        if capacity_kg is not None:
            capacity_kg = capacity_kg.quantize(Decimal("0.01"))
        if capacity_kg is None or not Decimal("0") < capacity_kg <= CAPACITY_KG_MAX:
            errors.add(
                "capacity_kg",
                f"额定重量须大于0且不超过{CAPACITY_KG_MAX} / capacity_kg: > 0 and ≤ {CAPACITY_KG_MAX}",
            )
        else:
            out.capacity_kg = capacity_kg

    if creating or given("waste_codes"):
        codes = split_waste_codes(values.get("waste_codes"))
        catalogue = lookups.codes()
        unknown = [c for c in codes if not WASTE_CODE_RE.fullmatch(c) or c not in catalogue]
        if not codes:
            errors.add("waste_codes", "至少填写一个废物代码 / at least one waste code is required")
        elif unknown:
            shown = "、".join(unknown[:5])[:200]
            errors.add(
                "waste_codes",
                f"废物代码不在现行名录中：{shown} / waste codes not in the catalogue in force: {shown}",
            )
        elif len(set(codes)) > MAX_WASTE_CODES:
            errors.add(
                "waste_codes", f"废物代码最多{MAX_WASTE_CODES}个 / at most {MAX_WASTE_CODES} waste codes"
            )
        else:
            out.waste_codes = [catalogue[c] for c in dict.fromkeys(codes)]

    if creating or given("threshold_pct"):
        threshold = _decimal(_default(values.get("threshold_pct"), 80, creating))
        if threshold is None or not THRESHOLD_MIN <= threshold <= THRESHOLD_MAX:
            errors.add("threshold_pct", "阈值须在1–100之间 / threshold_pct must be between 1 and 100")
        else:
            out.threshold_pct = threshold.quantize(Decimal("0.01"))

    if creating or given("reporting_interval_s"):
        interval = _integer(_default(values.get("reporting_interval_s"), 900, creating))
        if interval is None or not INTERVAL_MIN_S <= interval <= INTERVAL_MAX_S:
            errors.add(
                "reporting_interval_s",
                f"上报间隔须为{INTERVAL_MIN_S}–{INTERVAL_MAX_S}秒 / reporting_interval_s must be "
                f"{INTERVAL_MIN_S}–{INTERVAL_MAX_S} seconds",
            )
        else:
            out.reporting_interval_s = interval

    if creating or given("transport"):
        transport = _transport(_default(values.get("transport"), Transport.HTTP, creating))
        if transport is None:
            errors.add(
                "transport", "接入方式须为 http、mqtt 或 hj212 / transport must be http, mqtt or hj212"
            )
        else:
            out.transport = transport
    else:
        out.transport = instance.transport if instance is not None else Transport.HTTP

    for name, validator, zh, en, zh_rule, en_rule in (
        (
            "mqtt_username",
            validate_mqtt_username,
            "MQTT用户名",
            "MQTT username",
            "须为1–64个字母、数字或 _ . : -",
            "1–64 letters, digits, '_', '.', ':' or '-'",
        ),
        (
            "hj212_mn",
            validate_hj212_mn,
            "HJ 212 MN",
            "HJ 212 MN",
            "须为1–64个字母、数字、_ 或 -",
            "1–64 letters, digits, '_' or '-'",
        ),
    ):
        if creating or given(name):
            value = _text(values.get(name)) or None
            if value is not None:
                if not _passes(validator, value):
                    errors.add(name, f"{zh}{zh_rule} / {en}: {en_rule}")
                elif _unique_taken(name, value, instance):
                    errors.add(name, f"{zh}已被其他云仓使用 / {en} is already used by another bin")
            setattr(out, name, value)
        else:
            setattr(out, name, getattr(instance, name))

    if creating or given("hj212_pw"):
        pw = values.get("hj212_pw")
        pw = None if pw is None or pw == "" else str(pw)
        if pw is not None and not _passes(validate_hj212_pw, pw):
            errors.add(
                "hj212_pw",
                "HJ 212 PW须为1–64个可打印ASCII字符，不含 ; = & / HJ 212 PW: 1–64 printable ASCII characters "
                "without ';', '=' or '&'",
            )
        out.hj212_pw = pw

    if creating or given("hj212_crc_mode"):
        mode = _crc_mode(_default(values.get("hj212_crc_mode"), CrcMode.STANDARD, creating))
        if mode is None:
            errors.add(
                "hj212_crc_mode",
                "CRC方式须为 standard、modbus 或 modbus_swapped / hj212_crc_mode must be standard, modbus "
                "or modbus_swapped",
            )
        else:
            out.hj212_crc_mode = mode

    if creating or given("enabled"):
        enabled = parse_bool(_default(values.get("enabled"), True, creating))
        if enabled is None:
            errors.add("enabled", "启用须为 是/否 / enabled must be yes or no")
        else:
            out.enabled = enabled

    # What the transport needs.
    # A bin's PW is kept across changes (also of its MN) until the MN is cleared.
    has_pw = out.hj212_pw is not None or bool(instance is not None and instance.hj212_pw_hash)
    if out.transport == Transport.MQTT and not out.mqtt_username:
        errors.add("mqtt_username", "MQTT接入须填写MQTT用户名 / transport mqtt needs an MQTT username")
    if out.transport == Transport.HJ212 and not out.hj212_mn:
        errors.add("hj212_mn", "HJ 212接入须填写MN / transport hj212 needs the data logger's MN")
    if out.hj212_mn and not has_pw:
        errors.add("hj212_pw", "HJ 212须填写数采仪上设置的PW / HJ 212 needs the PW set on the data logger")
    if out.hj212_pw is not None and not out.hj212_mn:
        errors.add("hj212_mn", "填写了PW但没有MN / a PW needs the data logger's MN")

    if errors.items:
        raise BinInvalid(errors.items)
    return out


def _uniqueness_error(obj: Bin) -> BinInvalid:
    """A concurrent writer took a unique value between our check and our write: name the field."""
    labels = {"serial": "序列号", "mqtt_username": "MQTT用户名", "hj212_mn": "HJ 212 MN"}
    for name, zh in labels.items():
        value = getattr(obj, name)
        if value and _unique_taken(name, value, None if obj._state.adding else obj):
            return BinInvalid([(name, f"{zh}已被其他云仓使用 / {name} is already used by another bin")])
    return BinInvalid([("serial", "该序列号已登记 / a bin with this serial is already registered")])


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
        raise _uniqueness_error(obj) from None
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
            raise _uniqueness_error(obj) from None
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
