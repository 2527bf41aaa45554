"""The manifest state machine. Party roles are relative to the manifest:

- producer: a member of the producing organisation, signing in its own session;
- producer_code: the carrier's driver entering the producer's signature code on the phone;
- producer_delegated: the collector, where the producer delegated signing in its contract;
- carrier: a driver or dispatcher of the carrying organisation;
- receiver: a receiver, dispatcher or admin of the receiving organisation.
"""

from __future__ import annotations

from greenisle.core.transitions import Transition, TransitionTable

S_DRAFT = "draft"
S_SIGNED = "producer_signed"
S_TRANSIT = "in_transit"
S_RECEIVED = "received"
S_CANCELLED = "cancelled"


def _has_lines(manifest: object) -> str | None:
    if not manifest.lines.exists():  # type: ignore[attr-defined]
        return "a manifest needs at least one container before it is signed"
    return None


MANIFEST_TRANSITIONS = TransitionTable(
    "manifest",
    [
        Transition(
            S_DRAFT,
            S_SIGNED,
            frozenset({"producer", "producer_code", "producer_delegated"}),
            "manifests.manifest.signed",
            (_has_lines,),
        ),
        Transition(S_SIGNED, S_TRANSIT, frozenset({"carrier"}), "manifests.manifest.departed"),
        Transition(S_TRANSIT, S_RECEIVED, frozenset({"receiver"}), "manifests.manifest.received"),
        Transition(S_DRAFT, S_CANCELLED, frozenset({"carrier", "producer"}), "manifests.manifest.cancelled"),
    ],
)
