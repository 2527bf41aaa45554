"""The assessment state machine (规范化环境管理评估): self-assessment → district review → city spot
check (optional) → final, or back to the enterprise with the reason.

Roles, relative to the assessment:

- ``enterprise``: an admin or clerk of the organisation assessed;
- ``collector``: the producer's collector under an active service contract, assessing for a small
  producer (as it files plans and declarations for it, HJ 1259-2022 §7.1.3);
- ``district``: an inspector or admin of the district (county-level) bureau covering the organisation
  (the city bureau stands in where no district bureau is registered);
- ``city``: an inspector or admin of the city bureau above it.

The city bureau spot-checks some assessments; for the others the district result stands, and either
bureau confirms it as final.
"""

from __future__ import annotations

from greenisle.core.transitions import Transition, TransitionTable

S_DRAFT = "draft"
S_SELF = "self_submitted"
S_DISTRICT = "district_reviewed"
S_CITY = "city_checked"
S_FINAL = "final"
S_RETURNED = "returned"

SELF_ASSESSORS = frozenset({"enterprise", "collector"})
DISTRICT = frozenset({"district"})
CITY = frozenset({"city"})


def _has_return_reason(assessment: object) -> str | None:
    if not (getattr(assessment, "return_reason", "") or "").strip():
        return "退回须说明原因 / a returned assessment needs the reason"
    return None


ASSESSMENT_TRANSITIONS = TransitionTable(
    "assessment",
    [
        Transition(S_DRAFT, S_SELF, SELF_ASSESSORS, "assessment.assessment.self_submitted"),
        Transition(S_RETURNED, S_SELF, SELF_ASSESSORS, "assessment.assessment.self_resubmitted"),
        Transition(S_SELF, S_DISTRICT, DISTRICT, "assessment.assessment.district_reviewed"),
        Transition(S_SELF, S_RETURNED, DISTRICT, "assessment.assessment.returned", (_has_return_reason,)),
        Transition(S_DISTRICT, S_CITY, CITY, "assessment.assessment.city_checked"),
        # Not picked for a spot check: the district result stands.
        Transition(S_DISTRICT, S_FINAL, DISTRICT | CITY, "assessment.assessment.finalised"),
        Transition(S_DISTRICT, S_RETURNED, CITY, "assessment.assessment.returned", (_has_return_reason,)),
        Transition(S_CITY, S_FINAL, CITY, "assessment.assessment.finalised"),
    ],
)
