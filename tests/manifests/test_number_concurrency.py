"""办法 Art. 15: manifest serials come from a row-locked counter, so racing writers never share one."""

from __future__ import annotations

import pytest
from django.db import transaction

from greenisle.manifests.models import ManifestSerial
from greenisle.manifests.numbering import NumberError, parse_number
from greenisle.manifests.services import manifest_number_next

THREADS, EACH = 8, 10


def _take_numbers(year: int) -> list[str]:
    numbers = []
    for _ in range(EACH):
        with transaction.atomic():
            numbers.append(manifest_number_next(division_code="320602", year=year))
    return numbers


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_get_distinct_contiguous_serials(run_concurrently):
    # No counter row yet: the threads also race to create it.
    outcome = run_concurrently(*[lambda: _take_numbers(2026)] * THREADS)
    assert outcome.errors == []
    numbers = [n for batch in outcome.results for n in batch]
    assert len(numbers) == len(set(numbers)) == THREADS * EACH
    assert sorted(parse_number(n).serial for n in numbers) == list(range(1, THREADS * EACH + 1))
    assert all(n.startswith("20263206") for n in numbers)
    for batch in outcome.results:  # each writer's own numbers rise
        assert batch == sorted(batch)
    assert ManifestSerial.objects.get(province_city="3206", year=2026).last_serial == THREADS * EACH


@pytest.mark.django_db
def test_serials_are_per_city_and_year():
    with transaction.atomic():
        assert manifest_number_next(division_code="320602", year=2026) == "20263206000001"
        assert manifest_number_next(division_code="320612", year=2026) == "20263206000002"  # same city
        assert manifest_number_next(division_code="320602", year=2027) == "20273206000001"
        assert manifest_number_next(division_code="320100", year=2026) == "20263201000001"  # 南京


@pytest.mark.django_db
def test_serial_overflow_is_refused_and_the_counter_is_not_advanced():
    ManifestSerial.objects.create(province_city="3206", year=2026, last_serial=999_998)
    with transaction.atomic():
        assert manifest_number_next(division_code="320602", year=2026) == "20263206999999"
    with pytest.raises(NumberError, match="used up"), transaction.atomic():
        manifest_number_next(division_code="320602", year=2026)
    assert ManifestSerial.objects.get(province_city="3206", year=2026).last_serial == 999_999
