"""The pickup-request state machine.

A request opens when a bin crosses its threshold (or a producer asks), is assigned to a trip,
is collected when its producer signs the manifest, and closes once the bin reports empty.
"system" is the ingest path acting on a reading.
"""

from __future__ import annotations

from greenisle.core.transitions import Transition, TransitionTable

OPEN, ASSIGNED, COLLECTED, CLOSED, CANCELLED = "open", "assigned", "collected", "closed", "cancelled"

REQUEST_TRANSITIONS = TransitionTable(
    "pickup request",
    [
        Transition(OPEN, ASSIGNED, frozenset({"dispatcher"}), "dispatch.pickup_request.assigned"),
        Transition(ASSIGNED, OPEN, frozenset({"dispatcher"}), "dispatch.pickup_request.unassigned"),
        Transition(ASSIGNED, COLLECTED, frozenset({"system"}), "dispatch.pickup_request.collected"),
        Transition(ASSIGNED, CLOSED, frozenset({"system"}), "dispatch.pickup_request.closed"),
        Transition(COLLECTED, CLOSED, frozenset({"system"}), "dispatch.pickup_request.closed"),
        # A bin emptied before anyone was sent (the producer emptied it by hand): nothing left to fetch.
        Transition(OPEN, CLOSED, frozenset({"system"}), "dispatch.pickup_request.closed"),
        Transition(
            OPEN, CANCELLED, frozenset({"dispatcher", "producer"}), "dispatch.pickup_request.cancelled"
        ),
    ],
)

QUEUED, SOLVING, READY, PUBLISHED, FAILED, SUPERSEDED = (
    "queued",
    "solving",
    "ready",
    "published",
    "failed",
    "superseded",
)

# A route plan: queued for the planner, planned, reviewed and adjusted by the dispatcher (a
# re-optimisation sends it back through the planner), then published as the day's trips.
PLAN_TRANSITIONS = TransitionTable(
    "route plan",
    [
        Transition(QUEUED, SOLVING, frozenset({"system"}), "dispatch.route_plan.solving"),
        Transition(SOLVING, READY, frozenset({"system"}), "dispatch.route_plan.ready"),
        Transition(SOLVING, FAILED, frozenset({"system"}), "dispatch.route_plan.failed"),
        Transition(READY, QUEUED, frozenset({"dispatcher"}), "dispatch.route_plan.reoptimise_requested"),
        Transition(READY, PUBLISHED, frozenset({"dispatcher"}), "dispatch.route_plan.published"),
        Transition(READY, SUPERSEDED, frozenset({"dispatcher"}), "dispatch.route_plan.superseded"),
        Transition(FAILED, SUPERSEDED, frozenset({"dispatcher"}), "dispatch.route_plan.superseded"),
        Transition(QUEUED, SUPERSEDED, frozenset({"dispatcher"}), "dispatch.route_plan.superseded"),
    ],
)
