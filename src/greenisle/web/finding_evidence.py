"""A finding's evidence as rows to show, each linked to the page of the object it names.

Pure (no ORM, no request): the finding's own object (``object_type`` and ``object_id``) comes first,
then each evidence key in name order. A key naming an object the platform has a page for (a manifest,
a bin, a trip, a container by its code…) is linked to that page; the finding's own object without a
page of its own (an organisation, a ledger record, a storage policy) links to its audit events. An id
that is not of the shape its page takes is shown, not linked.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode

OBJECT_KEY: Final = "object"

# Pages of objects, by ``app_label.model_name`` (the finding's object_type); each takes a UUID.
OBJECT_PAGES: Final[dict[str, str]] = {
    "manifests.manifest": "/manifests/{}/",
    "devices.bin": "/bins/{}/",
    "dispatch.pickuprequest": "/requests/{}/",
    "dispatch.trip": "/trips/{}/",
    "plans.managementplan": "/management-plans/{}/",
    "ledger.declaration": "/declarations/{}/",
}

# Evidence keys holding the UUID of an object with a page.
ID_KEYS: Final[dict[str, str]] = {
    "manifest_id": "/manifests/{}/",
    "bin_id": "/bins/{}/",
    "request_id": "/requests/{}/",
    "pickup_request_id": "/requests/{}/",
    "trip_id": "/trips/{}/",
    "plan_id": "/management-plans/{}/",
    "management_plan_id": "/management-plans/{}/",
    "declaration_id": "/declarations/{}/",
}

# Evidence keys holding a code with a page: a container's label QR code resolves to /c/<code>/.
CODE_KEYS: Final[dict[str, str]] = {"container_code": "/c/{}/"}

# Evidence keys naming an object without a page of its own: its audit events.
AUDIT_KEYS: Final = frozenset(
    {"record_id", "ledger_record_id", "vehicle_id", "alert_id", "truck_alert_id", "licence_id", "site_id"}
)


@dataclass(frozen=True)
class EvidenceRow:
    key: str
    value: str
    href: str = ""
    # Objects named inside a list or object value (the containers of a manifest's lines…): (text, page).
    links: tuple[tuple[str, str], ...] = ()


def audit_href(object_id: str) -> str:
    return f"/audit/?{urlencode({'object_id': object_id})}"


def _uuid_page(pattern: str, value: str) -> str:
    try:
        return pattern.format(uuid.UUID(value))
    except ValueError:
        return ""


def _code_page(pattern: str, value: str) -> str:
    # The page's path converter takes one segment: a code with a slash has no page.
    if not value or "/" in value:
        return ""
    return pattern.format(quote(value, safe=""))


def render_value(value: object) -> str:
    """A JSON value as one line of text: lists joined by '; ', objects as 'key: value, …' in key order."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        # Keys in name order: PostgreSQL's jsonb does not keep the order they were written in.
        return ", ".join(f"{k}: {render_value(value[k])}" for k in sorted(value, key=str))
    if isinstance(value, list | tuple):
        return "; ".join(render_value(v) for v in value) or "—"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def object_href(object_type: str, object_id: str) -> str:
    """The page of a finding's object, else its audit events."""
    pattern = OBJECT_PAGES.get(object_type)
    page = _uuid_page(pattern, object_id) if pattern else ""
    return page or audit_href(object_id)


def key_href(key: str, value: object) -> str:
    if not isinstance(value, str | int):
        return ""
    text = str(value).strip()
    if key in ID_KEYS:
        return _uuid_page(ID_KEYS[key], text)
    if key in CODE_KEYS:
        return _code_page(CODE_KEYS[key], text)
    if key in AUDIT_KEYS and text:
        return audit_href(text)
    return ""


def nested_links(value: object) -> tuple[tuple[str, str], ...]:
    """The objects with a page named anywhere inside a list or object value, each once, in order."""
    found: dict[str, str] = {}

    def walk(item: object) -> None:
        if isinstance(item, Mapping):
            for key in sorted(item, key=str):
                inner = item[key]
                href = key_href(str(key), inner)
                if href:
                    found.setdefault(href, str(inner))
                walk(inner)
        elif isinstance(item, list | tuple):
            for inner in item:
                walk(inner)

    if isinstance(value, Mapping | list | tuple):
        walk(value)
    return tuple((text, href) for href, text in found.items())


def evidence_rows(
    object_type: str, object_id: str, evidence: Mapping[str, object] | None
) -> list[EvidenceRow]:
    """The finding's object, then its evidence key by key (in name order)."""
    rows = [EvidenceRow(OBJECT_KEY, f"{object_type} {object_id}", object_href(object_type, object_id))]
    for key in sorted(evidence or {}):
        value = (evidence or {})[key]
        rows.append(EvidenceRow(key, render_value(value), key_href(key, value), nested_links(value)))
    return rows
