"""The audit hash chain: canonical serialisation and SHA-256 linking, no ORM.

Each event's hash covers its own fields and the previous event's hash, so editing an event
breaks its own hash and deleting one breaks the link of the event after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(value: Mapping[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str
    ).encode("utf-8")


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical(fields))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainLink:
    ident: int
    prev_hash: str
    hash: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class ChainBreak:
    ident: int
    reason: str


def verify(links: Iterable[ChainLink]) -> ChainBreak | None:
    """Walk the links in order; return the first broken one, or None when the chain holds."""
    expected_prev = GENESIS
    for link in links:
        if link.prev_hash != expected_prev:
            return ChainBreak(
                link.ident, "previous hash does not match: an event before it was removed or altered"
            )
        if event_hash(link.prev_hash, link.fields) != link.hash:
            return ChainBreak(link.ident, "hash does not match its content: the event was altered")
        expected_prev = link.hash
    return None
