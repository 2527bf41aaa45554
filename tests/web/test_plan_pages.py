"""The dispatcher's route-plan pages: plan a day, follow the planner, review on the map and in the
table, move a stop, re-optimise around locked routes, publish, insert an urgent request."""

from __future__ import annotations

import datetime as dt

import pytest
from dispatch.conftest import ACID, plan_site
from django.utils import timezone
from factories import BinFactory, PickupRequestFactory

from greenisle.dispatch.choices import PlanStatus, RequestStatus
from greenisle.dispatch.models import RoutePlan, Trip
from greenisle.dispatch.planning import plan_from_json
from greenisle.dispatch.route_plans import route_plan_run
from web.helpers import messages_of, page_text


@pytest.fixture
def dispatcher_browser(world, browser_as):
    return browser_as(world.dispatcher)


def _planned(world, dispatcher_browser):
    day = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = dispatcher_browser.submit("/plans/", {"service_date": day, "seconds": "1"})
    plan = RoutePlan.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/plans/{plan.pk}/"
    following = dispatcher_browser.get(f"/plans/{plan.pk}/", HTTP_HX_REQUEST="true")
    assert "HX-Refresh" not in following and "progress" in page_text(following)
    return route_plan_run(plan_id=plan.pk)


def test_the_dispatcher_plans_a_day_and_sees_it_on_the_map_and_in_the_table(
    world, fleet, requests_, dispatcher_browser
):
    plan = _planned(world, dispatcher_browser)
    done = dispatcher_browser.get(f"/plans/{plan.pk}/", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true"
    text = page_text(dispatcher_browser.get(f"/plans/{plan.pk}/"))
    assert world.vehicle.plate in text and fleet["acid_truck"].plate in text
    assert 'id="plan-map"' in text and "废酸" in text
    geo = dispatcher_browser.get(f"/plans/{plan.pk}.geojson").json()
    kinds = [f["properties"]["kind"] for f in geo["features"]]
    assert kinds.count("route") == 2 and kinds.count("stop") == len(requests_) and kinds.count("depot") == 1


def test_moving_a_stop_onto_an_incompatible_truck_is_refused_on_the_page(
    world, fleet, requests_, dispatcher_browser
):
    plan = _planned(world, dispatcher_browser)
    result = plan_from_json(plan.result)
    oil_stop = result.route_of(str(world.vehicle.pk)).stop_ids()[0]
    response = dispatcher_browser.submit(
        f"/plans/{plan.pk}/move/",
        {"stop": oil_stop, "vehicle": str(fleet["acid_truck"].pk), "position": "1"},
        follow=True,
    )
    assert any("[position]" in m for m in messages_of(response))
    response = dispatcher_browser.submit(
        f"/plans/{plan.pk}/move/",
        {"stop": oil_stop, "vehicle": str(world.vehicle.pk), "position": "0"},
        follow=True,
    )
    assert any("[position]" in m for m in messages_of(response))


def test_publishing_from_the_page_gives_the_drivers_their_trips(world, fleet, requests_, dispatcher_browser):
    plan = _planned(world, dispatcher_browser)
    response = dispatcher_browser.submit(
        f"/plans/{plan.pk}/publish/", {f"driver-{fleet['acid_truck'].pk}": str(world.driver.pk)}, follow=True
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PUBLISHED, messages_of(response)
    assert Trip.objects.filter(plan=plan).count() == 2
    urgent = PickupRequestFactory(
        bin=BinFactory(site=plan_site(world, 8), collector=world.collector, waste_codes=ACID)
    )
    text = page_text(dispatcher_browser.get(f"/plans/{plan.pk}/"))
    assert str(urgent.pk) in text
    dispatcher_browser.submit(f"/plans/{plan.pk}/urgent/", {"request_id": str(urgent.pk)})
    urgent.refresh_from_db()
    assert urgent.status == RequestStatus.ASSIGNED


def test_the_reoptimise_button_queues_the_plan_with_the_locked_routes(
    world, fleet, requests_, dispatcher_browser
):
    plan = _planned(world, dispatcher_browser)
    dispatcher_browser.submit(f"/plans/{plan.pk}/reoptimise/", {"locked": [str(world.vehicle.pk)]})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.QUEUED and plan.locked_vehicles == [str(world.vehicle.pk)]


def test_plans_are_the_dispatchers_only(
    world, fleet, requests_, dispatcher_browser, browser_as, rival_dispatcher
):
    plan = _planned(world, dispatcher_browser)
    assert browser_as(world.alice).get("/plans/").status_code == 404
    assert browser_as(world.driver).get(f"/plans/{plan.pk}/").status_code == 404
    assert browser_as(rival_dispatcher).get(f"/plans/{plan.pk}/").status_code == 404
    assert browser_as(rival_dispatcher).get(f"/plans/{plan.pk}.geojson").status_code == 404


def test_a_bad_plan_form_names_the_field(world, fleet, dispatcher_browser):
    response = dispatcher_browser.submit("/plans/", {"service_date": "tomorrow", "seconds": "1"}, follow=True)
    assert any("[service_date]" in m for m in messages_of(response))
    assert not RoutePlan.objects.exists()


def test_the_driver_sees_the_route_in_order_on_a_map(
    world, fleet, requests_, dispatcher_browser, browser_as, make_member
):
    plan = _planned(world, dispatcher_browser)
    dispatcher_browser.submit(
        f"/plans/{plan.pk}/publish/", {f"driver-{fleet['acid_truck'].pk}": str(world.driver.pk)}
    )
    trip = Trip.objects.get(plan=plan, vehicle=world.vehicle)
    driver = browser_as(world.driver)
    text = page_text(driver.get(f"/driver/?day={trip.service_date.isoformat()}"))
    assert f"/trips/{trip.pk}.geojson" in text and "route-map" in text
    geo = driver.get(f"/trips/{trip.pk}.geojson").json()
    stops = [f["properties"] for f in geo["features"] if f["properties"]["kind"] == "stop"]
    expected = [s.request.producer.name for s in trip.stops.order_by("position")]
    assert [s["position"] for s in stops] == list(range(1, len(expected) + 1))
    assert [s["producer"] for s in stops] == expected
    assert all(s["arrival"] for s in stops)
    line = next(f for f in geo["features"] if f["properties"]["kind"] == "route")
    assert line["geometry"]["coordinates"][0] == line["geometry"]["coordinates"][-1]  # back at the depot
    other = make_member(world.collector, "driver", "driver2", "二号司机")
    assert browser_as(other).get(f"/trips/{trip.pk}.geojson").status_code == 404
