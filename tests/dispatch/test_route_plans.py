"""A day's route plan: requested, planned in the background, adjusted, re-optimised, published;
an urgent request inserted into the published day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from factories import BinFactory, PickupRequestFactory

from dispatch.conftest import ACID, plan_site
from greenisle.audit.models import Event
from greenisle.core.errors import Conflict, PermissionDenied, ServiceError
from greenisle.dispatch.choices import PlanStatus, RequestOrigin, RequestStatus
from greenisle.dispatch.models import PickupRequest, RoutePlan, Trip
from greenisle.dispatch.optimization.check import plan_violations
from greenisle.dispatch.planning import plan_from_json, problem_from_json
from greenisle.dispatch.route_plans import (
    route_plan_insert_urgent,
    route_plan_move_stop,
    route_plan_publish,
    route_plan_reoptimise,
    route_plan_request,
    route_plan_run,
)
from greenisle.telemetry.models import BinState


def plan_now(world, seconds=1):
    day = timezone.localdate() + dt.timedelta(days=1)
    plan = route_plan_request(actor=world.dispatcher, service_date=day, seconds=seconds)
    return route_plan_run(plan_id=plan.pk)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_day_is_planned_in_the_background_and_keeps_every_rule(world, fleet, requests_):
    day = timezone.localdate() + dt.timedelta(days=1)
    plan = route_plan_request(actor=world.dispatcher, service_date=day, seconds=2)
    assert plan.status == PlanStatus.QUEUED
    # The real worker of the database task backend picks it up.
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.READY, plan.error
    assert plan.progress_pct == 100
    day_problem = problem_from_json(plan.problem)
    result = plan_from_json(plan.result)
    assert plan_violations(day_problem.problem, result) == []
    planned = {s for r in result.routes for s in r.stop_ids()}
    assert planned == {f"r:{r.pk}" for r in requests_}
    # 固废法 Art. 81: acids ride on the acid truck only.
    acid_route = result.route_of(str(fleet["acid_truck"].pk))
    assert {day_problem.stops[s]["class"] for s in acid_route.stop_ids()} == {"废酸"}
    actions = list(Event.objects.filter(object_id=str(plan.pk)).values_list("action", flat=True))
    assert actions == [
        "dispatch.route_plan.requested",
        "dispatch.route_plan.solving",
        "dispatch.route_plan.ready",
    ]


def test_a_bin_predicted_to_fill_is_an_optional_stop_and_becomes_a_request_when_published(
    world, fleet, requests_
):
    device = BinFactory(site=plan_site(world, 9), collector=world.collector)
    BinState.objects.create(
        device=device,
        fill_pct=Decimal("70"),
        predicted_full_at=timezone.now() + dt.timedelta(hours=20),
    )
    plan = plan_now(world)
    stops = problem_from_json(plan.problem).stops
    assert stops[f"b:{device.pk}"]["required"] is False
    result = plan_from_json(plan.result)
    taken = any(f"b:{device.pk}" in r.stop_ids() for r in result.routes)
    route_plan_publish(
        actor=world.dispatcher, plan_id=plan.pk, drivers={str(fleet["acid_truck"].pk): world.driver.pk}
    )
    forecast = PickupRequest.objects.filter(bin=device, origin=RequestOrigin.FORECAST)
    assert forecast.exists() == taken


def test_publishing_turns_routes_into_trips_with_requests_assigned_in_order(world, fleet, requests_):
    plan = plan_now(world)
    route_plan_publish(
        actor=world.dispatcher, plan_id=plan.pk, drivers={str(fleet["acid_truck"].pk): world.driver.pk}
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PUBLISHED and plan.published_at is not None
    trips = Trip.objects.filter(plan=plan)
    assert trips.count() == 2
    for trip in trips:
        route = plan_from_json(plan.result).route_of(str(trip.vehicle_id))
        assert [f"r:{s.request_id}" for s in trip.stops.order_by("position")] == route.stop_ids()
        assert trip.planned_distance_m == route.distance
        assert trip.driver == world.driver
    for request in requests_:
        request.refresh_from_db()
        assert request.status == RequestStatus.ASSIGNED
    with pytest.raises(Conflict):
        route_plan_publish(actor=world.dispatcher, plan_id=plan.pk)


def test_publishing_without_a_driver_for_a_truck_names_the_truck(world, fleet, requests_):
    plan = plan_now(world)
    with pytest.raises(ServiceError, match="苏F99999危") as refused:
        route_plan_publish(actor=world.dispatcher, plan_id=plan.pk)
    assert refused.value.field == "drivers"
    assert not Trip.objects.exists()


def test_moving_a_stop_keeps_the_rules_or_is_refused_with_the_reason(world, fleet, requests_):
    plan = plan_now(world)
    result = plan_from_json(plan.result)
    oil_route = result.route_of(str(world.vehicle.pk))
    acid_route = result.route_of(str(fleet["acid_truck"].pk))
    # Reverse the oil route's first two stops: allowed (windows are all day).
    first, second = oil_route.stop_ids()[:2]
    route_plan_move_stop(
        actor=world.dispatcher, plan_id=plan.pk, stop=first, vehicle=oil_route.vehicle, position=1
    )
    plan.refresh_from_db()
    assert plan_from_json(plan.result).route_of(oil_route.vehicle).stop_ids()[:2] == [second, first]
    # An oil stop onto the acid truck: refused (固废法 Art. 81).
    with pytest.raises(ServiceError) as refused:
        route_plan_move_stop(
            actor=world.dispatcher, plan_id=plan.pk, stop=first, vehicle=acid_route.vehicle, position=0
        )
    assert refused.value.field == "position"
    assert Event.objects.filter(action="dispatch.route_plan.stop_moved").count() == 1


def test_reoptimising_keeps_locked_routes_exactly(world, fleet, requests_):
    plan = plan_now(world)
    before = plan_from_json(plan.result)
    locked = str(world.vehicle.pk)
    route_plan_reoptimise(actor=world.dispatcher, plan_id=plan.pk, locked=[locked])
    plan.refresh_from_db()
    assert plan.status == PlanStatus.QUEUED
    plan = route_plan_run(plan_id=plan.pk)
    after = plan_from_json(plan.result)
    assert plan.status == PlanStatus.READY
    assert after.route_of(locked) == before.route_of(locked)
    with pytest.raises(Conflict):
        route_plan_move_stop(
            actor=world.dispatcher,
            plan_id=plan.pk,
            stop=before.route_of(locked).stop_ids()[0],
            vehicle=locked,
            position=0,
        )


def test_an_urgent_request_joins_the_published_day_without_moving_other_routes(world, fleet, requests_):
    plan = plan_now(world)
    route_plan_publish(
        actor=world.dispatcher, plan_id=plan.pk, drivers={str(fleet["acid_truck"].pk): world.driver.pk}
    )
    plan.refresh_from_db()
    before = plan_from_json(plan.result)
    urgent = PickupRequestFactory(
        bin=BinFactory(site=plan_site(world, 7), collector=world.collector, waste_codes=ACID)
    )
    route_plan_insert_urgent(actor=world.dispatcher, plan_id=plan.pk, request_id=urgent.pk)
    plan.refresh_from_db()
    after = plan_from_json(plan.result)
    acid = str(fleet["acid_truck"].pk)
    assert f"r:{urgent.pk}" in after.route_of(acid).stop_ids()
    assert after.route_of(str(world.vehicle.pk)) == before.route_of(str(world.vehicle.pk))
    urgent.refresh_from_db()
    assert urgent.status == RequestStatus.ASSIGNED
    trip = Trip.objects.get(plan=plan, vehicle=fleet["acid_truck"])
    assert [f"r:{s.request_id}" for s in trip.stops.order_by("position")] == after.route_of(acid).stop_ids()
    assert plan_violations(problem_from_json(plan.problem).problem, after) == []


def test_only_the_collectors_dispatchers_plan(world, fleet, alice, rival_dispatcher, requests_):
    day = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(PermissionDenied):
        route_plan_request(actor=alice, service_date=day)
    plan = plan_now(world)
    with pytest.raises(Exception) as refused:
        route_plan_publish(actor=rival_dispatcher, plan_id=plan.pk)
    assert getattr(refused.value, "field", None) == "plan_id"


def test_a_new_plan_for_the_day_supersedes_the_unpublished_one(world, fleet, requests_):
    first = plan_now(world)
    day = first.service_date
    route_plan_request(actor=world.dispatcher, service_date=day, seconds=1)
    first.refresh_from_db()
    assert first.status == PlanStatus.SUPERSEDED
    assert RoutePlan.objects.filter(service_date=day, status=PlanStatus.QUEUED).count() == 1


def test_bad_input_names_the_field(world, fleet):
    with pytest.raises(ServiceError) as refused:
        route_plan_request(actor=world.dispatcher, service_date=timezone.localdate(), seconds=0)
    assert refused.value.field == "seconds"
    with pytest.raises(ServiceError) as refused:
        route_plan_request(actor=world.dispatcher, service_date=timezone.localdate() - dt.timedelta(days=1))
    assert refused.value.field == "service_date"


def test_a_plan_for_today_starts_from_now(world, fleet, requests_):
    from greenisle.dispatch.planning import LOCAL, day_problem

    today = timezone.localdate()
    afternoon = dt.datetime.combine(today, dt.time(15, 0), tzinfo=LOCAL)
    problem = day_problem(collector=world.collector, day=today, now=afternoon).problem
    assert {v.shift_start_s for v in problem.vehicles} == {15 * 3600}
    tomorrow = day_problem(collector=world.collector, day=today + dt.timedelta(days=1), now=afternoon).problem
    assert {v.shift_start_s for v in tomorrow.vehicles} == {7 * 3600 + 30 * 60}
