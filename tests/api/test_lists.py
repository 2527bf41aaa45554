"""Every list is paged with limit/offset; out-of-range paging is a 422 naming the parameter, never a 500."""

from __future__ import annotations

import pytest
from factories import BinFactory

LISTS = ["/bins", "/pickup-requests", "/vehicles", "/trips", "/manifests", "/ledger", "/audit-events"]


def test_paging_walks_the_list(world, api_as):
    for n in range(4):
        BinFactory(site=world.site, collector=world.collector, serial=f"NT-LS-{n:05d}")
    dispatcher = api_as(world.dispatcher)

    pages = [dispatcher.get("/bins", limit=2, offset=offset).json() for offset in (0, 2, 4)]

    assert [p["count"] for p in pages] == [5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert len({row["id"] for p in pages for row in p["items"]}) == 5


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 10**30}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": 2**63}, "offset"),
        ({"offset": -1}, "offset"),
    ],
    ids=["limit-huge", "limit-over-500", "limit-zero", "offset-huge", "offset-negative"],
)
def test_out_of_range_paging_is_422_naming_the_parameter(world, api_as, path, params, field):
    response = api_as(world.dispatcher).get(path, **params)

    assert response.status_code == 422, response.content
    assert response.json()["field"] == field


@pytest.mark.parametrize(("path", "status"), [("/pickup-requests", "finished"), ("/manifests", "lost")])
def test_unknown_status_filter_is_422_naming_it(world, api_as, path, status):
    response = api_as(world.dispatcher).get(path, status=status)

    assert response.status_code == 422
    assert response.json()["field"] == "status"
