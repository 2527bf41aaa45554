"""Benchmark enterprises (标杆企业): the best final assessments per industry that meet the standard,
published by the city bureau for every logged-in person to see."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from factories import ProducerFactory, division

from assessment.conftest import YEAR
from greenisle.assessment import benchmarks, selectors
from greenisle.assessment.models import Assessment, BenchmarkList
from greenisle.audit.models import Event
from greenisle.core.errors import PermissionDenied, ServiceError

pytestmark = pytest.mark.django_db


def final(
    name: str, industry: str, pct: str, result: str = "pass", *, status: str = "final", code: str = "320602"
) -> Assessment:
    org = ProducerFactory(name=name, industry=industry, division=division(code))
    return Assessment.objects.create(
        organization=org,
        division_code=code,
        year=YEAR,
        kind="producer",
        status=status,
        result=result,
        score_pct=Decimal(pct),
        score_total=int(Decimal(pct) * 22 / 100),
        score_max=22,
        finalised_at=timezone.now() if status == "final" else None,
    )


@pytest.fixture
def field(db: None) -> dict[str, Assessment]:
    return {
        "a": final("宏达汽修", "机动车维修", "100.0"),
        "b": final("鑫源汽修", "汽车修理与维护", "95.5"),  # same GB/T 4754 industry (8111)
        "c": final("永盛汽修", "机动车维修", "90.9"),
        "d": final("华通汽修", "机动车维修", "100.0", status="city_checked"),  # not final yet
        "e": final("金恒汽修", "机动车维修", "86.4", "basic"),  # not 达标
        "f": final("瑞通家具", "家具制造", "90.9"),
        "g": final("通州机械", "机械加工", "95.5", code="320612"),
    }


def test_ranking_takes_the_best_final_passes_per_industry(field: Any, regulator_city: Any) -> None:
    groups = {
        g.key: [r.organization_name for r in g.rows]
        for g in selectors.benchmark_ranking(regulator_city, year=YEAR, per_industry=2)
    }
    assert groups == {"8111": ["宏达汽修", "鑫源汽修"], "C21": ["瑞通家具"], "C34": ["通州机械"]}


def test_a_district_bureau_ranks_only_its_own_division(field: Any, regulator: Any) -> None:
    keys = {g.key for g in selectors.benchmark_ranking(regulator, year=YEAR, per_industry=3)}
    assert keys == {"8111", "C21"}


def test_only_the_city_bureau_publishes(field: Any, regulator: Any, alice: Any) -> None:
    for actor in (regulator, alice):
        with pytest.raises(PermissionDenied):
            benchmarks.benchmark_publish(actor=actor, year=YEAR)


def test_publishing_freezes_the_list_and_records_it(field: Any, regulator_city: Any) -> None:
    published = benchmarks.benchmark_publish(actor=regulator_city, year=YEAR, per_industry=1, note="推广学习")
    assert [e["organization"] for e in published.entries] == ["宏达汽修", "瑞通家具", "通州机械"]
    assert Event.objects.filter(
        action="assessment.benchmarks.published", object_id=str(published.pk)
    ).exists()
    # A later change does not alter what was published.
    Assessment.objects.filter(pk=field["a"].pk).update(result="fail")
    published.refresh_from_db()
    assert published.entries[0]["organization"] == "宏达汽修"


def test_nothing_to_publish_names_the_year(regulator_city: Any) -> None:
    with pytest.raises(ServiceError) as exc:
        benchmarks.benchmark_publish(actor=regulator_city, year=YEAR)
    assert exc.value.field == "year"


def test_the_published_list_page_is_open_to_every_logged_in_person(
    field: Any, regulator_city: Any, bob: Any
) -> None:
    benchmarks.benchmark_publish(actor=regulator_city, year=YEAR, per_industry=3)
    client = Client()
    client.force_login(bob)
    page = client.get("/assessment/benchmarks/").content.decode()
    assert "宏达汽修" in page and "瑞通家具" in page
    assert 'id="publish"' not in page and 'id="ranking"' not in page
    assert Client().get("/assessment/benchmarks/").status_code == 302  # to the login page


def test_the_city_bureau_publishes_from_the_page(field: Any, regulator_city: Any) -> None:
    client = Client()
    client.force_login(regulator_city)
    page = client.get(f"/assessment/benchmarks/?year={YEAR}").content.decode()
    assert 'id="publish"' in page and "永盛汽修" in page
    client.post("/assessment/benchmarks/", {"year": YEAR, "per_industry": 2})
    assert BenchmarkList.objects.get().per_industry == 2
