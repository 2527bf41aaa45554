"""What each person sees (`.visible_to(user)`): own data, clients' data, what is sent to them, or
their division for a regulator — never another tenant's.

Two tenants:
- A: Alice's workshop (320602), client of the collector (320612); one manifest goes to the collector's
  warehouse, one to the facility (320623).
- B: Bob's furniture workshop (320612), client of the rival collector (320682).
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from factories import (
    BinFactory,
    LedgerRecordFactory,
    ManifestFactory,
    MembershipFactory,
    PickupRequestFactory,
    SiteFactory,
    UserFactory,
)

from greenisle.accounts.choices import Role
from greenisle.audit.models import Event
from greenisle.audit.services import event_record
from greenisle.devices.models import Bin
from greenisle.dispatch.models import PickupRequest
from greenisle.ledger.models import LedgerRecord, RecordType
from greenisle.manifests.models import Manifest
from greenisle.organizations.models import Organization

MODELS = {
    "bins": Bin,
    "requests": PickupRequest,
    "manifests": Manifest,
    "ledger": LedgerRecord,
    "events": Event,
    "orgs": Organization,
}


def _event(obj, *, organization, subject, division_code, action="tests.object.touched"):
    with transaction.atomic():
        return event_record(
            action=action,
            obj=obj,
            organization=organization,
            subject_organization=subject,
            division_code=division_code,
        )


@pytest.fixture
def tenants(
    world, facility, producer_b, collector_b, contract_b,
    alice, dispatcher, facility_receiver, bob, rival_dispatcher, regulator, regulator_other, regulator_city,
):  # fmt: skip
    site_b = SiteFactory(organization=producer_b, name="通州家具车间")
    facility_site = SiteFactory(organization=facility, name="如东处置车间")
    bin_b = BinFactory(site=site_b, collector=collector_b)
    man_a = ManifestFactory(producer_site=world.site, carrier=world.collector)
    man_a_fac = ManifestFactory(producer_site=world.site, carrier=world.collector, receiver=facility)
    man_b = ManifestFactory(producer_site=site_b, carrier=collector_b)
    objects = {
        "bin_a": world.bin,
        "bin_b": bin_b,
        "req_a": PickupRequestFactory(bin=world.bin),
        "req_b": PickupRequestFactory(bin=bin_b),
        "man_a": man_a,
        "man_a_fac": man_a_fac,
        "man_b": man_b,
        "led_a": LedgerRecordFactory(site=world.site, manifest=man_a),
        "led_c1": LedgerRecordFactory(
            site=world.warehouse, record_type=RecordType.STORAGE_IN, manifest=man_a
        ),
        "led_fac": LedgerRecordFactory(
            site=facility_site, record_type=RecordType.STORAGE_IN, manifest=man_a_fac
        ),
        "led_b": LedgerRecordFactory(site=site_b, manifest=man_b),
        # What the services write: the actor's organisation, the owner, the owner's site division.
        "ev_a": _event(man_a, organization=world.collector, subject=world.producer, division_code="320602"),
        "ev_c1": _event(
            world.vehicle, organization=world.collector, subject=world.collector, division_code="320612"
        ),
        "ev_fac": _event(man_a_fac, organization=facility, subject=world.producer, division_code="320602"),
        "ev_b": _event(man_b, organization=collector_b, subject=producer_b, division_code="320612"),
        "A": world.producer,
        "C1": world.collector,
        "F": facility,
        "B": producer_b,
        "C2": collector_b,
        "R_320602": regulator.current_membership.organization,
        "R_320612": regulator_other.current_membership.organization,
        "R_320600": regulator_city.current_membership.organization,
    }
    people = {
        "alice": alice, "dispatcher": dispatcher, "facility_receiver": facility_receiver, "bob": bob,
        "rival_dispatcher": rival_dispatcher, "regulator": regulator, "regulator_other": regulator_other,
        "regulator_city": regulator_city,
    }  # fmt: skip
    return SimpleNamespace(objects=objects, people=people, world=world)


def visible(tenants, user, kind):
    names = {obj.pk: name for name, obj in tenants.objects.items() if isinstance(obj, MODELS[kind])}
    return {
        names.get(pk, f"unnamed:{pk}")
        for pk in MODELS[kind].objects.visible_to(user).values_list("pk", flat=True)
    }


ALL_ORGS = {"A", "C1", "F", "B", "C2", "R_320602", "R_320612", "R_320600"}
EXPECTED = {
    "alice": {
        "bins": {"bin_a"}, "requests": {"req_a"}, "manifests": {"man_a", "man_a_fac"}, "ledger": {"led_a"},
        "events": {"ev_a", "ev_fac"}, "orgs": {"A"},
    },
    "bob": {
        "bins": {"bin_b"}, "requests": {"req_b"}, "manifests": {"man_b"}, "ledger": {"led_b"},
        "events": {"ev_b"}, "orgs": {"B"},
    },
    "dispatcher": {
        "bins": {"bin_a"}, "requests": {"req_a"}, "manifests": {"man_a", "man_a_fac"}, "ledger": {"led_a", "led_c1"},
        "events": {"ev_a", "ev_c1", "ev_fac"}, "orgs": {"A", "C1"},
    },
    "rival_dispatcher": {
        "bins": {"bin_b"}, "requests": {"req_b"}, "manifests": {"man_b"}, "ledger": {"led_b"},
        "events": {"ev_b"}, "orgs": {"B", "C2"},
    },
    "facility_receiver": {
        "bins": set(), "requests": set(), "manifests": {"man_a_fac"}, "ledger": {"led_fac"},
        "events": {"ev_fac"}, "orgs": {"F"},
    },
    "regulator": {
        "bins": {"bin_a"}, "requests": {"req_a"}, "manifests": {"man_a", "man_a_fac"}, "ledger": {"led_a"},
        "events": {"ev_a", "ev_fac"}, "orgs": {"A", "R_320602"},
    },
    "regulator_other": {
        "bins": {"bin_b"}, "requests": {"req_b"}, "manifests": {"man_b"}, "ledger": {"led_c1", "led_b"},
        "events": {"ev_c1", "ev_b"}, "orgs": {"C1", "B", "R_320612"},
    },
    "regulator_city": {
        "bins": {"bin_a", "bin_b"}, "requests": {"req_a", "req_b"}, "manifests": {"man_a", "man_a_fac", "man_b"},
        "ledger": {"led_a", "led_c1", "led_fac", "led_b"}, "events": {"ev_a", "ev_c1", "ev_fac", "ev_b"},
        "orgs": ALL_ORGS,
    },
}  # fmt: skip
CASES = [(person, kind) for person, kinds in EXPECTED.items() for kind in kinds]


@pytest.mark.parametrize(("person", "kind"), CASES, ids=[f"{p}-{k}" for p, k in CASES])
def test_each_person_sees_exactly_what_the_rules_give_them(tenants, person, kind):
    assert visible(tenants, tenants.people[person], kind) == EXPECTED[person][kind]


@pytest.mark.parametrize("kind", MODELS)
def test_other_district_regulator_sees_nothing_of_320602(tenants, kind):
    of_320602 = {"bin_a", "req_a", "man_a", "man_a_fac", "led_a", "ev_a", "ev_fac", "A", "R_320602"}
    assert not visible(tenants, tenants.people["regulator_other"], kind) & of_320602


@pytest.mark.parametrize("kind", MODELS)
def test_city_regulator_sees_everything_its_districts_see(tenants, kind):
    city = visible(tenants, tenants.people["regulator_city"], kind)
    assert visible(tenants, tenants.people["regulator"], kind) <= city
    assert visible(tenants, tenants.people["regulator_other"], kind) <= city


def test_collector_also_sees_manifests_its_trucks_carry_for_non_clients(tenants, facility):
    # A producer that is no client of the collector, carried once by its truck to the facility.
    stranger_site = SiteFactory()
    carried = ManifestFactory(producer_site=stranger_site, carrier=tenants.world.collector, receiver=facility)
    assert Manifest.objects.visible_to(tenants.people["dispatcher"]).filter(pk=carried.pk).exists()
    assert not Manifest.objects.visible_to(tenants.people["alice"]).filter(pk=carried.pk).exists()


def test_collector_loses_sight_of_a_producers_records_when_the_contract_ends(tenants):
    contract = tenants.world.contract
    contract.valid_to = timezone.localdate() - dt.timedelta(days=1)
    contract.save()
    dispatcher = UserFactory(username="fresh_dispatcher")
    MembershipFactory(user=dispatcher, organization=tenants.world.collector, role=Role.DISPATCHER)
    assert visible(tenants, dispatcher, "ledger") == {"led_c1"}
    assert visible(tenants, dispatcher, "orgs") == {"C1"}
    assert visible(tenants, dispatcher, "bins") == {"bin_a"}  # it still runs the bin it placed there


def test_person_with_two_memberships_sees_by_the_current_one(tenants, producer_b, collector_b):
    person = UserFactory(username="liu", display_name="刘兼职")
    at_workshop = MembershipFactory(user=person, organization=tenants.world.producer, role=Role.CLERK)
    at_rival = MembershipFactory(user=person, organization=collector_b, role=Role.DISPATCHER)
    assert visible(tenants, person, "bins") == {"bin_a"}  # the first membership by default
    person.set_current_membership(at_rival)
    assert visible(tenants, person, "bins") == {"bin_b"}
    assert visible(tenants, person, "orgs") == {"B", "C2"}
    person.set_current_membership(at_workshop)
    assert visible(tenants, person, "manifests") == {"man_a", "man_a_fac"}


@pytest.mark.parametrize("kind", MODELS)
def test_people_without_an_organisation_see_nothing(tenants, kind):
    assert visible(tenants, AnonymousUser(), kind) == set()
    assert visible(tenants, UserFactory(username="nobody"), kind) == set()
    assert visible(tenants, None, kind) == set()
