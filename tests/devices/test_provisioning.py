"""Provisioning bins through the services: who may, what is refused (naming the field), what is
recorded, and credentials that are shown once and work."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from factories import BinFactory, ServiceContractFactory, SiteFactory

from greenisle.audit.models import Event
from greenisle.core.errors import NotFound, PermissionDenied, Unauthenticated
from greenisle.devices.models import Bin
from greenisle.devices.services import (
    bin_create,
    bin_rotate_credentials,
    bin_set_enabled,
    bin_update,
)
from greenisle.devices.validation import BinInvalid
from greenisle.telemetry.services import device_authenticate


def spec(world: Any, **overrides: Any) -> dict[str, Any]:
    values = {
        "collector": world.collector,
        "serial": "NT-CC-10001",
        "name": "废机油云仓",
        "site": world.site,
        "capacity_l": 240,
        "capacity_kg": "200",
        "waste_codes": ["900-214-08", "900-041-49"],
        "transport": "http",
    }
    values.update(overrides)
    return values


def refused(call: Any) -> BinInvalid:
    with pytest.raises(BinInvalid) as info:
        call()
    return info.value


# --- creating ----------------------------------------------------------------------------------------


def test_admin_creates_an_http_bin_whose_key_works_and_is_kept_only_as_a_hash(world, admin):
    obj, credentials = bin_create(actor=admin, **spec(world))

    raw = credentials["http_key"]
    assert set(credentials) == {"http_key"}
    assert device_authenticate(raw) == obj
    obj.refresh_from_db()
    assert raw not in (obj.key_hash, obj.key_prefix) and raw.startswith(obj.key_prefix)
    assert (obj.collector, obj.site, obj.threshold_pct, obj.reporting_interval_s, obj.enabled) == (
        world.collector,
        world.site,
        Decimal("80.00"),
        900,
        True,
    )
    assert sorted(c.code for c in obj.waste_codes.all()) == ["900-041-49", "900-214-08"]
    event = Event.objects.get(action="devices.bin.created", object_id=str(obj.pk))
    assert event.actor == admin and event.organization == world.collector
    assert event.subject_organization == world.producer and event.division_code == "320602"
    assert event.payload["serial"] == "NT-CC-10001" and event.payload["key_prefix"] == obj.key_prefix
    assert raw not in str(event.payload)


def test_an_mqtt_bin_gets_a_password_shown_once(world, admin):
    obj, credentials = bin_create(
        actor=admin, **spec(world, transport="mqtt", mqtt_username="nt-cc-10001", reporting_interval_s=300)
    )

    assert credentials["mqtt_username"] == "nt-cc-10001"
    assert obj.mqtt_password_matches(credentials["mqtt_password"])
    assert device_authenticate(credentials["http_key"]) == obj  # every bin has an HTTP key too
    assert credentials["mqtt_password"] not in str(Event.objects.get(action="devices.bin.created").payload)


def test_an_hj212_bin_keeps_the_installers_pw_as_a_hash(world, admin):
    obj, credentials = bin_create(
        actor=admin,
        **spec(
            world, transport="hj212", hj212_mn="JLYP01_BIN_0001", hj212_pw="123456", hj212_crc_mode="modbus"
        ),
    )

    obj.refresh_from_db()
    assert "hj212_pw" not in credentials
    assert obj.hj212_password_matches("123456") and not obj.hj212_password_matches("654321")
    assert obj.hj212_pw_hash != "123456" and obj.hj212_crc_mode == "modbus"


def test_waste_codes_may_be_one_string(world, admin):
    obj, _ = bin_create(actor=admin, **spec(world, waste_codes="900-214-08；900-041-49, 900-214-08"))

    assert sorted(c.code for c in obj.waste_codes.all()) == ["900-041-49", "900-214-08"]


REFUSALS = [
    ("serial", {"serial": ""}),
    ("serial", {"serial": "NT CC 1"}),
    ("serial", {"serial": "NT-CC-\x00"}),
    ("serial", {"serial": "=cmd|' /C calc'!A0"}),
    ("serial", {"serial": "S" * 65}),
    ("name", {"name": "  "}),
    ("capacity_l", {"capacity_l": 0}),
    ("capacity_l", {"capacity_l": "12.5"}),
    ("capacity_kg", {"capacity_kg": "-1"}),
    ("capacity_kg", {"capacity_kg": "0.001"}),
    ("waste_codes", {"waste_codes": []}),
    ("waste_codes", {"waste_codes": ["999-999-99"]}),
    ("waste_codes", {"waste_codes": ["HW08"]}),
    ("threshold_pct", {"threshold_pct": 0}),
    ("threshold_pct", {"threshold_pct": "100.5"}),
    ("threshold_pct", {"threshold_pct": "NaN"}),
    ("reporting_interval_s", {"reporting_interval_s": 29}),
    ("reporting_interval_s", {"reporting_interval_s": 86401}),
    ("reporting_interval_s", {"reporting_interval_s": "1e999999999"}),
    ("transport", {"transport": "lora"}),
    ("mqtt_username", {"transport": "mqtt"}),
    ("mqtt_username", {"mqtt_username": "bins/1"}),
    ("hj212_mn", {"transport": "hj212", "hj212_pw": "123456"}),
    ("hj212_pw", {"transport": "hj212", "hj212_mn": "JLYP01"}),
    ("hj212_pw", {"transport": "hj212", "hj212_mn": "JLYP01", "hj212_pw": "12;34"}),
    ("hj212_crc_mode", {"hj212_crc_mode": "crc32"}),
    ("enabled", {"enabled": "maybe"}),
]


@pytest.mark.parametrize(("field", "overrides"), REFUSALS, ids=[f"{f}-{o}" for f, o in REFUSALS])
def test_a_refusal_names_the_field(world, admin, field, overrides):
    error = refused(lambda: bin_create(actor=admin, **spec(world, **overrides)))

    assert error.field == field, error.errors
    assert " / " in error.message  # 中文 / English
    assert not Bin.objects.filter(serial="NT-CC-10001").exists()


def test_every_field_at_fault_is_named_at_once(world, admin):
    error = refused(
        lambda: bin_create(
            actor=admin, **spec(world, name="", capacity_l=-1, threshold_pct=200, waste_codes=["000-000-00"])
        )
    )

    assert [f for f, _m in error.errors] == ["name", "capacity_l", "waste_codes", "threshold_pct"]
    assert error.as_dict()["errors"][0]["field"] == "name"


def test_the_site_must_belong_to_a_client_with_a_contract_in_force(world, admin, producer_b, contract_b):
    expired_client = SiteFactory()
    ServiceContractFactory(
        collector=world.collector,
        producer=expired_client.organization,
        valid_from=dt.date(2020, 1, 1),
        valid_to=dt.date(2021, 1, 1),
    )
    for site in (SiteFactory(organization=producer_b), world.warehouse, expired_client, "not-a-uuid"):
        error = refused(lambda s=site: bin_create(actor=admin, **spec(world, site=s)))
        assert error.field == "site", site


def test_waste_codes_come_from_the_edition_in_force(world, admin):
    from greenisle.catalog.models import Edition, WasteCode

    old = Edition.objects.create(code="2016", title="2016版", in_force_from=dt.date(2016, 8, 1))
    current = WasteCode.objects.current().get(code="900-214-08")
    WasteCode.objects.create(
        edition=old,
        category=current.category,
        seq=1,
        industry_code="900",
        industry_source="非特定行业",
        code="900-998-49",
        name="只在旧版名录中",
        hazard_characteristics="T",
    )

    error = refused(lambda: bin_create(actor=admin, **spec(world, waste_codes=["900-998-49"])))

    assert error.field == "waste_codes" and "900-998-49" in error.message


@pytest.mark.parametrize("field", ["serial", "mqtt_username", "hj212_mn"])
def test_a_value_another_bin_holds_is_refused_on_its_field(world, admin, field):
    bin_create(
        actor=admin,
        **spec(
            world, serial="NT-CC-1", transport="hj212", mqtt_username="u-1", hj212_mn="MN1", hj212_pw="pw"
        ),
    )
    taken = {"serial": "NT-CC-1", "mqtt_username": "u-1", "hj212_mn": "MN1"}
    overrides = {
        "serial": "NT-CC-2",
        "transport": "hj212",
        "mqtt_username": "u-2",
        "hj212_mn": "MN2",
        "hj212_pw": "pw",
    }
    overrides[field] = taken[field]

    error = refused(lambda: bin_create(actor=admin, **spec(world, **overrides)))

    assert [f for f, _m in error.errors] == [field]


# --- who may -----------------------------------------------------------------------------------------


def test_a_producers_clerk_a_dispatcher_and_another_collector_cannot_provision(
    world, admin, rival_admin, producer_b, contract_b
):
    for actor, collector in ((world.alice, world.collector), (world.dispatcher, world.collector)):
        with pytest.raises(PermissionDenied):
            bin_create(actor=actor, **spec(world, collector=collector))
    with pytest.raises(PermissionDenied):  # for the collector it does not act for
        bin_create(actor=rival_admin, **spec(world))
    with pytest.raises(BinInvalid) as info:  # for itself, at a site of a client of someone else
        bin_create(actor=rival_admin, **spec(world, collector=rival_admin.current_membership.organization))
    assert info.value.field == "site"
    for actor in (world.alice, world.dispatcher):
        with pytest.raises(PermissionDenied):
            bin_update(actor=actor, bin_id=world.bin.pk, threshold_pct=50)
        with pytest.raises(PermissionDenied):
            bin_rotate_credentials(actor=actor, bin_id=world.bin.pk)
        with pytest.raises(PermissionDenied):
            bin_set_enabled(actor=actor, bin_id=world.bin.pk, enabled=False)
    for call in (
        lambda: bin_update(actor=rival_admin, bin_id=world.bin.pk, threshold_pct=50),
        lambda: bin_rotate_credentials(actor=rival_admin, bin_id=world.bin.pk),
        lambda: bin_set_enabled(actor=rival_admin, bin_id=world.bin.pk, enabled=False),
    ):
        with pytest.raises(NotFound):
            call()
    world.bin.refresh_from_db()
    assert world.bin.threshold_pct == Decimal("80.00") and world.bin.enabled
    assert device_authenticate(world.bin.device_key) == world.bin
    assert Bin.objects.count() == 1
    assert not Event.objects.filter(action__startswith="devices.").exists()


# --- changing ----------------------------------------------------------------------------------------


def test_a_change_is_recorded_with_what_changed(world, admin, client_b_sites):
    obj, credentials = bin_update(
        actor=admin,
        bin_id=world.bin.pk,
        threshold_pct="75",
        reporting_interval_s=600,
        site=client_b_sites[0],
        waste_codes=["900-214-08"],
    )

    assert credentials == {}
    obj.refresh_from_db()
    assert (obj.threshold_pct, obj.reporting_interval_s, obj.site) == (
        Decimal("75.00"),
        600,
        client_b_sites[0],
    )
    assert [c.code for c in obj.waste_codes.all()] == ["900-214-08"]
    event = Event.objects.get(action="devices.bin.updated")
    assert event.payload["changes"]["threshold_pct"] == ["80.00", "75.00"]
    assert set(event.payload["changes"]) == {"threshold_pct", "reporting_interval_s", "site", "waste_codes"}
    assert event.subject_organization == client_b_sites[0].organization


def test_a_change_that_changes_nothing_writes_nothing(world, admin):
    before = world.bin.updated_at

    obj, _ = bin_update(actor=admin, bin_id=world.bin.pk, threshold_pct=80, name=world.bin.name)

    obj.refresh_from_db()
    assert obj.updated_at == before
    assert not Event.objects.filter(action="devices.bin.updated").exists()


def test_a_refused_change_leaves_the_bin_as_it_was(world, admin):
    error = refused(lambda: bin_update(actor=admin, bin_id=world.bin.pk, threshold_pct=0, name=""))

    assert {f for f, _m in error.errors} == {"threshold_pct", "name"}
    world.bin.refresh_from_db()
    assert world.bin.threshold_pct == Decimal("80.00")


def test_the_sites_contract_is_checked_only_when_the_site_changes(world, admin):
    world.contract.valid_to = dt.date(2025, 6, 30)
    world.contract.save()

    obj, _ = bin_update(actor=admin, bin_id=world.bin.pk, threshold_pct=70, site=world.site)
    assert obj.threshold_pct == Decimal("70.00")


def test_switching_to_mqtt_issues_a_password_and_clearing_the_username_drops_it(world, admin):
    error = refused(lambda: bin_update(actor=admin, bin_id=world.bin.pk, transport="mqtt"))
    assert error.field == "mqtt_username"

    obj, credentials = bin_update(actor=admin, bin_id=world.bin.pk, transport="mqtt", mqtt_username="nt-cc-1")
    assert obj.mqtt_password_matches(credentials["mqtt_password"])

    obj, credentials = bin_update(actor=admin, bin_id=world.bin.pk, transport="http", mqtt_username=None)
    obj.refresh_from_db()
    assert credentials == {} and obj.mqtt_username is None and obj.mqtt_password_hash == ""


def test_the_hj212_pw_is_kept_until_the_mn_is_cleared(world, admin):
    bin_update(actor=admin, bin_id=world.bin.pk, transport="hj212", hj212_mn="MN-1", hj212_pw="first")
    obj, _ = bin_update(actor=admin, bin_id=world.bin.pk, hj212_mn="MN-2")
    assert obj.hj212_password_matches("first")

    obj, _ = bin_update(actor=admin, bin_id=world.bin.pk, hj212_pw="second")
    assert obj.hj212_password_matches("second")
    assert Event.objects.filter(action="devices.bin.updated").last().payload["credentials"] == [
        "hj212_pw_set"
    ]

    error = refused(lambda: bin_update(actor=admin, bin_id=world.bin.pk, hj212_mn=None))
    assert error.field == "hj212_mn"  # still on transport hj212
    obj, _ = bin_update(actor=admin, bin_id=world.bin.pk, transport="http", hj212_mn=None)
    obj.refresh_from_db()
    assert obj.hj212_pw_hash == ""


def test_enable_and_disable_are_recorded_once(world, admin):
    bin_set_enabled(actor=admin, bin_id=world.bin.pk, enabled=False)
    bin_set_enabled(actor=admin, bin_id=world.bin.pk, enabled=False)
    bin_set_enabled(actor=admin, bin_id=world.bin.pk, enabled=True)

    actions = list(Event.objects.filter(action__startswith="devices.").values_list("action", flat=True))
    assert actions == ["devices.bin.disabled", "devices.bin.enabled"]


# --- credentials -------------------------------------------------------------------------------------


def test_rotating_the_key_stops_the_old_one_at_once(world, admin):
    old = world.bin.device_key

    obj, credentials = bin_rotate_credentials(actor=admin, bin_id=world.bin.pk)

    assert set(credentials) == {"http_key"}
    assert device_authenticate(credentials["http_key"]) == obj
    with pytest.raises(Unauthenticated):
        device_authenticate(old)
    event = Event.objects.get(action="devices.bin.credentials_rotated")
    assert event.payload["rotated"] == ["http_key"] and credentials["http_key"] not in str(event.payload)


def test_rotating_an_mqtt_bins_credentials(world, admin):
    obj, first = bin_create(actor=admin, **spec(world, transport="mqtt", mqtt_username="u-9"))

    _, only_mqtt = bin_rotate_credentials(actor=admin, bin_id=obj.pk, http_key=False)

    obj.refresh_from_db()
    assert set(only_mqtt) == {"mqtt_username", "mqtt_password"}
    assert obj.mqtt_password_matches(only_mqtt["mqtt_password"])
    assert not obj.mqtt_password_matches(first["mqtt_password"])
    assert device_authenticate(first["http_key"]) == obj  # left alone


def test_rotating_nothing_or_an_absent_mqtt_password_is_refused(world, admin):
    with pytest.raises(Exception) as info:
        bin_rotate_credentials(actor=admin, bin_id=world.bin.pk, http_key=False, mqtt_password=False)
    assert info.value.field == "http_key"
    with pytest.raises(Exception) as info:
        bin_rotate_credentials(actor=admin, bin_id=world.bin.pk, mqtt_password=True)
    assert info.value.field == "mqtt_password"


def test_a_bin_of_another_collector_at_a_shared_client_is_not_yours(world, admin, collector_b):
    ServiceContractFactory(collector=collector_b, producer=world.producer)
    theirs = BinFactory(site=world.site, collector=collector_b)

    with pytest.raises(NotFound):
        bin_update(actor=admin, bin_id=theirs.pk, name="mine now")


def test_a_serial_taken_between_the_check_and_the_write_is_named(world, admin):
    """The unique index is the last word: a concurrent registration surfaces as a refusal of the field,
    and the transaction around the call goes on."""
    from greenisle.devices.validation import BinLookups

    lookups = BinLookups(world.collector)
    lookups.free_serials = {world.bin.serial}  # as if it had been free when the import read the serials

    error = refused(lambda: bin_create(actor=admin, lookups=lookups, **spec(world, serial=world.bin.serial)))

    assert error.field == "serial"
    assert Bin.objects.count() == 1 and not Event.objects.filter(action="devices.bin.created").exists()
    bin_create(actor=admin, **spec(world))  # the connection is still usable
