"""The manifest state machines. Party roles are relative to the manifest:

- producer: a member of the producing organisation (移出人), signing in its own session;
- producer_code: the carrier's driver entering the producer's signature code on the phone;
- producer_delegated: the collector, where the producer delegated signing in its contract;
- carrier: a driver or dispatcher of the carrying organisation (承运人);
- receiver: a receiver, dispatcher or admin of the receiving organisation (接受人).

Corrections have their own table: the party that proposes one (``requester``) may withdraw it, the
other side (``counterparty``) applies or rejects it.
"""

from __future__ import annotations

from greenisle.core.transitions import Transition, TransitionTable

S_DRAFT = "draft"
S_SIGNED = "producer_signed"
S_TRANSIT = "in_transit"
S_DELIVERED = "delivered"
S_RECEIVED = "received"
S_TREATED = "treated"
S_CANCELLED = "cancelled"

PRODUCER_ROLES = frozenset({"producer", "producer_code", "producer_delegated"})
ROLES = frozenset({*PRODUCER_ROLES, "carrier", "receiver"})


def _has_lines(manifest: object) -> str | None:
    if not manifest.lines.exists():  # type: ignore[attr-defined]
        return "联单至少需要一个容器 / a manifest needs at least one container before it is signed"
    return None


def _every_line_decided(manifest: object) -> str | None:
    # 办法 Art. 18: each line accepted, partly accepted or rejected, with its received weight.
    if manifest.lines.filter(decision="").exists():  # type: ignore[attr-defined]
        return "每个容器都须有接收结论 / every line needs a decision"
    return None


def _something_accepted(manifest: object) -> str | None:
    if getattr(manifest, "receipt_outcome", "") == "rejected":
        return "整单拒收，无利用处置可记录 / a rejected manifest has no treatment to record"
    return None


MANIFEST_TRANSITIONS = TransitionTable(
    "manifest",
    [
        Transition(S_DRAFT, S_SIGNED, PRODUCER_ROLES, "manifests.manifest.signed", (_has_lines,)),
        # 办法 Art. 13: the carrier signs at loading and takes the waste away.
        Transition(S_SIGNED, S_TRANSIT, frozenset({"carrier"}), "manifests.manifest.departed"),
        Transition(
            S_TRANSIT, S_DELIVERED, frozenset({"carrier", "receiver"}), "manifests.manifest.delivered"
        ),
        # 办法 Art. 18: the receiver checks, weighs and decides within 5 working days of delivery.
        Transition(
            S_DELIVERED,
            S_RECEIVED,
            frozenset({"receiver"}),
            "manifests.manifest.received",
            (_every_line_decided,),
        ),
        Transition(
            S_RECEIVED,
            S_TREATED,
            frozenset({"receiver"}),
            "manifests.manifest.treated",
            (_something_accepted,),
        ),
        # Before the producer signs, either side may call the transfer off; after that, a mistake is
        # put right by a correction (a new version), never by cancelling what was signed.
        Transition(S_DRAFT, S_CANCELLED, frozenset({"carrier", "producer"}), "manifests.manifest.cancelled"),
    ],
)

# States in which a manifest can be corrected: once signed, until cancelled.
CORRECTABLE = frozenset({S_SIGNED, S_TRANSIT, S_DELIVERED, S_RECEIVED, S_TREATED})

C_OPEN = "open"
C_APPLIED = "applied"
C_REJECTED = "rejected"
C_WITHDRAWN = "withdrawn"

CORRECTION_TRANSITIONS = TransitionTable(
    "correction",
    [
        Transition(C_OPEN, C_APPLIED, frozenset({"counterparty"}), "manifests.correction.applied"),
        Transition(C_OPEN, C_REJECTED, frozenset({"counterparty"}), "manifests.correction.rejected"),
        Transition(C_OPEN, C_WITHDRAWN, frozenset({"requester"}), "manifests.correction.withdrawn"),
    ],
)
