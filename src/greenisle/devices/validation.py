"""Checking a bin's fields before it is created or changed: ``bin_clean`` and what it reads.

``bin_clean`` turns the values a form, the API or an import row supplies into a ``BinValues``, or raises
``BinInvalid``. It only reads: an import's dry run calls it and nothing else. ``BinLookups`` holds what it
reads about one collector (its client producers, the catalogue in force, sites), read once, so an import
validates thousands of rows with one of these.

Validation collects every refusal of a bin's fields (``BinInvalid.errors``), so a form or an import row
can show them all; ``field`` and ``message`` name the first.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from greenisle.catalog.models import WASTE_CODE_RE, WasteCode
from greenisle.core.errors import ServiceError
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


# --- what validation reads and returns --------------------------------------------------------------


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


# --- parsing one value ------------------------------------------------------------------------------


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


# --- checking a bin ---------------------------------------------------------------------------------


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


def uniqueness_error(obj: Bin) -> BinInvalid:
    """A concurrent writer took a unique value between our check and our write: name the field."""
    labels = {"serial": "序列号", "mqtt_username": "MQTT用户名", "hj212_mn": "HJ 212 MN"}
    for name, zh in labels.items():
        value = getattr(obj, name)
        if value and _unique_taken(name, value, None if obj._state.adding else obj):
            return BinInvalid([(name, f"{zh}已被其他云仓使用 / {name} is already used by another bin")])
    return BinInvalid([("serial", "该序列号已登记 / a bin with this serial is already registered")])
