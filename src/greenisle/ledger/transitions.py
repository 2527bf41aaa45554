"""The declaration state machine (HJ 1259-2022 §7.1.2–7.1.3, §7.3.2).

Roles: ``producer`` (the producer's admin or clerk) and ``collector`` (its collector's staff, a
business-licence holder declaring on its behalf, §7.1.3). A prepared declaration is confirmed, then
submitted; a confirmed one may be reopened before submission. A submitted declaration is frozen.
"""

from __future__ import annotations

from greenisle.core.transitions import Transition, TransitionTable

DECLARERS = frozenset({"producer", "collector"})

DECLARATION_TRANSITIONS = TransitionTable(
    "declaration",
    [
        Transition("draft", "confirmed", DECLARERS, "ledger.declaration.confirmed"),
        Transition("confirmed", "submitted", DECLARERS, "ledger.declaration.submitted"),
        Transition("confirmed", "draft", DECLARERS, "ledger.declaration.reopened"),
    ],
)
