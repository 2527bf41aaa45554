"""The pure hash chain: editing a link breaks its own hash, removing one breaks the next link."""

from __future__ import annotations

import dataclasses

from greenisle.audit.chain import GENESIS, ChainLink, canonical, event_hash, verify


def build_chain(payloads: list[dict[str, object]]) -> list[ChainLink]:
    links, prev = [], GENESIS
    for ident, fields in enumerate(payloads, start=1):
        digest = event_hash(prev, fields)
        links.append(ChainLink(ident, prev, digest, fields))
        prev = digest
    return links


PAYLOADS: list[dict[str, object]] = [
    {"action": "dispatch.pickup_request.opened", "object_id": "a", "payload": {"fill_pct": "85.00"}},
    {"action": "dispatch.pickup_request.assigned", "object_id": "a", "payload": {"trip": "t1"}},
    {"action": "manifests.manifest.signed", "object_id": "m", "payload": {"method": "session"}},
    {"action": "manifests.manifest.received", "object_id": "m", "payload": {"received_kg": {"1": "35.50"}}},
]


def test_intact_chain_verifies():
    assert verify(build_chain(PAYLOADS)) is None


def test_empty_chain_verifies():
    assert verify([]) is None


def test_first_link_must_start_from_genesis():
    links = build_chain(PAYLOADS)
    forged = dataclasses.replace(links[0], prev_hash="f" * 64)
    broken = verify([forged, *links[1:]])
    assert broken is not None and broken.ident == 1


def test_edited_link_is_named():
    links = build_chain(PAYLOADS)
    links[2] = dataclasses.replace(links[2], fields={**links[2].fields, "payload": {"method": "code"}})
    broken = verify(links)
    assert broken is not None
    assert broken.ident == 3
    assert "altered" in broken.reason


def test_edited_link_with_recomputed_hash_breaks_the_next_link():
    links = build_chain(PAYLOADS)
    fields = {**links[1].fields, "object_id": "b"}
    links[1] = dataclasses.replace(links[1], fields=fields, hash=event_hash(links[1].prev_hash, fields))
    broken = verify(links)
    assert broken is not None and broken.ident == 3


def test_removed_link_breaks_the_link_after_it():
    links = build_chain(PAYLOADS)
    del links[1]
    broken = verify(links)
    assert broken is not None
    assert broken.ident == 3
    assert "removed" in broken.reason


def test_swapped_links_are_detected():
    links = build_chain(PAYLOADS)
    links[1], links[2] = links[2], links[1]
    broken = verify(links)
    assert broken is not None and broken.ident == 3


def test_canonical_form_ignores_key_order_and_keeps_chinese_text():
    assert canonical({"b": 1, "a": "崇川"}) == canonical({"a": "崇川", "b": 1})
    assert canonical({"a": "崇川"}) == '{"a":"崇川"}'.encode()


def test_hash_depends_on_previous_hash():
    fields = PAYLOADS[0]
    assert event_hash(GENESIS, fields) != event_hash("1" * 64, fields)
