"""Registry rows: divisions from the data migration, licences, sites, service contracts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from factories import LicenceFactory, ServiceContractFactory, SiteFactory, division

from greenisle.organizations.models import Division, Licence, ServiceContract

pytestmark = pytest.mark.django_db


def test_nantong_divisions_are_loaded_under_jiangsu():
    assert division("320602").name == "崇川区"
    assert division("320602").parent == division("320600")
    assert division("320600").parent_id == "320000"
    assert set(Division.objects.filter(parent_id="320600").values_list("code", flat=True)) == {
        "320602", "320612", "320614", "320623", "320681", "320682", "320685",
    }  # fmt: skip


def test_licence_lists_its_waste_codes_and_validity():
    licence = LicenceFactory(valid_from=dt.date(2025, 1, 1), valid_to=dt.date(2029, 12, 31))
    assert set(licence.waste_codes.values_list("code", flat=True)) == {"900-214-08", "900-041-49"}
    assert licence.is_valid_on(dt.date(2026, 10, 8))
    assert not licence.is_valid_on(dt.date(2030, 1, 1))
    assert list(Licence.objects.valid_on(dt.date(2029, 12, 31))) == [licence]
    assert not Licence.objects.valid_on(dt.date(2024, 12, 31)).exists()


def test_licence_cannot_end_before_it_starts_or_have_negative_capacity():
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenceFactory(valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2025, 12, 31))
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenceFactory(annual_capacity_t=Decimal("-1"))


@pytest.mark.parametrize(("field", "value"), [("latitude", Decimal("91")), ("longitude", Decimal("-181"))])
def test_site_coordinates_must_be_on_earth(field, value):
    site = SiteFactory.build(organization=SiteFactory().organization, **{field: value})
    with pytest.raises(ValidationError) as error:
        site.clean()
    assert field in error.value.message_dict


def test_active_contracts_depend_on_the_day():
    contract = ServiceContractFactory(valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2026, 12, 31))
    assert list(ServiceContract.objects.active(dt.date(2026, 6, 1))) == [contract]
    assert not ServiceContract.objects.active(dt.date(2025, 12, 31)).exists()
    assert not ServiceContract.objects.active(dt.date(2027, 1, 1)).exists()
    open_ended = ServiceContractFactory(valid_from=dt.date(2026, 1, 1))
    assert open_ended in ServiceContract.objects.active(dt.date(2040, 1, 1))
