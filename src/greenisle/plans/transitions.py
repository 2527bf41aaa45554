"""The management plan state machine (HJ 1259-2022 §5.2).

Roles: ``producer`` (the site's admin or clerk), ``collector`` (its collector filing on its behalf),
``regulator`` (an inspector or admin of the bureau whose division covers the site) and ``system``
(the platform itself, when a filed amendment supersedes the revision it amends, §5.2.3).
"""

from __future__ import annotations

from greenisle.core.transitions import Transition, TransitionTable

FILERS = frozenset({"producer", "collector"})
REGULATOR = frozenset({"regulator"})


def _has_note(plan: object) -> str | None:
    if not (getattr(plan, "review_note", "") or "").strip():
        return "退回须说明原因 / a returned plan needs the reasons"
    return None


PLAN_TRANSITIONS = TransitionTable(
    "management_plan",
    [
        # §5.2.2: filing issues the filing number and a receipt.
        Transition("draft", "filed", FILERS, "plans.plan.filed"),
        Transition("returned", "filed", FILERS, "plans.plan.refiled"),
        Transition("filed", "approved", REGULATOR, "plans.plan.approved"),
        Transition("filed", "returned", REGULATOR, "plans.plan.returned", (_has_note,)),
        # §5.2.3: an amendment, once filed, replaces the revision in force.
        Transition("filed", "superseded", frozenset({"system"}), "plans.plan.superseded"),
        Transition("approved", "superseded", frozenset({"system"}), "plans.plan.superseded"),
    ],
)
