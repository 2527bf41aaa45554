"""The finding state machine: open → assigned → rectification submitted → verified → closed, or
dismissed with a reason.

Roles, relative to the finding:

- ``regulator``: an inspector or admin of the bureau whose division covers the finding's (its
  district branch, or the city bureau above it);
- ``owner``: a member of the organisation that must rectify (``Finding.owner_organization``);
- ``collector``: the owner's collector under an active service contract, acting for a small producer
  (HJ 1259-2022 §7.1.3; ``accounts.permissions.acting_for``).
"""

from __future__ import annotations

from greenisle.core.transitions import Transition, TransitionTable

S_OPEN = "open"
S_ASSIGNED = "assigned"
S_SUBMITTED = "rectification_submitted"
S_VERIFIED = "verified"
S_CLOSED = "closed"
S_DISMISSED = "dismissed"

REGULATOR = frozenset({"regulator"})
RECTIFIERS = frozenset({"owner", "collector"})


def _has_assignee(finding: object) -> str | None:
    if getattr(finding, "assigned_to_id", None) is None:
        return "须指定跟进的监管人员 / a finding is assigned to an inspector"
    return None


def _has_rectification(finding: object) -> str | None:
    if not (getattr(finding, "rectification", "") or "").strip():
        return "须填写整改情况 / a rectification needs its text"
    return None


def _has_verification_note(finding: object) -> str | None:
    if not (getattr(finding, "verification_note", "") or "").strip():
        return "退回整改须说明原因 / a rectification sent back needs the reasons"
    return None


def _has_dismissal_reason(finding: object) -> str | None:
    if not (getattr(finding, "dismissed_reason", "") or "").strip():
        return "撤销问题须说明理由 / a dismissal needs its reason"
    return None


FINDING_TRANSITIONS = TransitionTable(
    "finding",
    [
        Transition(S_OPEN, S_ASSIGNED, REGULATOR, "supervision.finding.assigned", (_has_assignee,)),
        # Another inspector takes it over (or the deadline is moved) before the owner has answered.
        Transition(S_ASSIGNED, S_ASSIGNED, REGULATOR, "supervision.finding.reassigned", (_has_assignee,)),
        Transition(
            S_ASSIGNED,
            S_SUBMITTED,
            RECTIFIERS,
            "supervision.finding.rectification_submitted",
            (_has_rectification,),
        ),
        Transition(S_SUBMITTED, S_VERIFIED, REGULATOR, "supervision.finding.verified"),
        Transition(
            S_SUBMITTED,
            S_ASSIGNED,
            REGULATOR,
            "supervision.finding.rectification_rejected",
            (_has_verification_note,),
        ),
        Transition(S_VERIFIED, S_CLOSED, REGULATOR, "supervision.finding.closed"),
        # Raised in error (wrong data, an exemption applies): dismissed, with the reason, until the
        # rectification is verified; after that it is closed, not dismissed.
        *(
            Transition(
                source, S_DISMISSED, REGULATOR, "supervision.finding.dismissed", (_has_dismissal_reason,)
            )
            for source in (S_OPEN, S_ASSIGNED, S_SUBMITTED)
        ),
    ],
)
