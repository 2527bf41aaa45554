"""Background work of dispatch, through Django's Tasks API (run by ``greenisle db_worker``)."""

from __future__ import annotations

from django_tasks import task

from greenisle.dispatch.route_plans import route_plan_run


@task()
def route_plan_solve(plan_id: str) -> str:
    """Plan a queued route plan; returns its new status."""
    return str(route_plan_run(plan_id=plan_id).status)
