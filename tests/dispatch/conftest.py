"""Fixtures of the dispatch tests: a collector's fleet (a depot, an oil truck and an acid truck, a
driver) and six open requests, every third one for acid."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from factories import BinFactory, PickupRequestFactory, SiteFactory, VehicleFactory

from greenisle.catalog.models import HazardCategory
from greenisle.dispatch.models import Depot, Driver, WasteClassGroup

ACID = ("251-014-34",)


def _group(collector, name, *codes):
    group = WasteClassGroup.objects.create(collector=collector, name=name)
    group.categories.set(HazardCategory.objects.filter(code__in=codes, edition__is_current=True))
    return group


@pytest.fixture
def fleet(world):
    depot = Depot.objects.create(
        collector=world.collector, name="通州仓库", latitude=Decimal("32.0650"), longitude=Decimal("121.0730")
    )
    oil = _group(world.collector, "油类及沾染物", "HW08", "HW49")
    acid = _group(world.collector, "废酸", "HW34")
    world.vehicle.depot = depot
    world.vehicle.save()
    world.vehicle.class_groups.set([oil])
    acid_truck = VehicleFactory(collector=world.collector, plate="苏F99999危", depot=depot)
    acid_truck.class_groups.set([acid])
    Driver.objects.create(
        collector=world.collector,
        user=world.driver,
        name="司机甲",
        licence_number="320600199001011234",
        qualification_number="3206001234",
        qualification_valid_to=timezone.localdate() + dt.timedelta(days=365),
        usual_vehicle=world.vehicle,
    )
    return {"depot": depot, "oil": oil, "acid": acid, "acid_truck": acid_truck}


def plan_site(world, n):
    return SiteFactory(
        organization=world.producer,
        name=f"车间{n}",
        latitude=Decimal("32.0") + Decimal(n) / 100,
        longitude=Decimal("120.85") + Decimal(n) / 80,
    )


@pytest.fixture
def requests_(world, fleet):
    made = []
    for n in range(6):
        codes = ACID if n % 3 == 0 else None
        device = BinFactory(site=plan_site(world, n), collector=world.collector, waste_codes=codes)
        made.append(PickupRequestFactory(bin=device))
    return made
