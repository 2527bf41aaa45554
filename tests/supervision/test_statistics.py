"""The regulator's statistics against figures worked out by hand from the world in
``supervision/statistics_world.py`` (its docstring has the table of manifests, plans and bins).

The city bureau (320600) sees both districts; the 崇川 branch (320602) only its own. Producers and
collectors get 403; a filter outside the bureau's division gets 403 naming ``division``, a malformed
one 400 naming its field.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from greenisle.core.errors import PermissionDenied, ServiceError
from greenisle.supervision import statistics, statistics_bins, statistics_filters, statistics_manifests
from greenisle.supervision import statistics_core as core
from greenisle.supervision.statistics_export import statistics_xlsx
from supervision.statistics_world import YEAR, StatsWorld, build

API = "/api/v1/statistics"
D = Decimal


@pytest.fixture
def sw(db: None) -> StatsWorld:
    return build()


def filters(user, **given):
    return statistics_filters.statistics_filters(user, **{**YEAR, **given})


def by_code(rows):
    return {r.code: r for r in rows}


# --- tonnes -----------------------------------------------------------------------------------------


def test_tonnage_by_category_district_and_month_for_the_city(sw, regulator_city):
    t = statistics.tonnage(regulator_city, filters(regulator_city))

    cats = by_code(t.categories)
    # HW08 collected: M1 100 + M2 40 (accepted of 48 received) + M4 200 + M6 5 (received 01-01 00:30
    # Beijing time) = 345; M3's rejected 10 counts nothing, M5 (2024-12-31 23:30) is outside, M8 is not
    # received yet. HW08 transferred: M7 120 (onward).
    assert (cats["HW08"].collected_kg, cats["HW08"].transferred_kg) == (D("345.00"), D("120.00"))
    assert cats["HW08"].collected_t == D("0.345")
    assert cats["HW49"].collected_kg == D("19.50")  # M1: accepted 19.5 of 20 declared
    assert cats["HW12"].collected_kg == D("30.00")  # M3
    assert cats["HW08"].name.startswith("废矿物油")
    # 345 + 19.5 + 30 = 394.5 collected; 120 transferred.
    assert (t.total.collected_kg, t.total.transferred_kg) == (D("394.50"), D("120.00"))

    districts = by_code(t.districts)
    assert list(districts) == ["320602", "320612", "320614", "320623", "320681", "320682", "320685"]
    # 崇川: M1 119.5 + M2 40 + M3 30 + M6 5 = 194.5. 通州: M4 200 collected; M7 120 left W in 通州.
    assert (districts["320602"].collected_kg, districts["320602"].transferred_kg) == (D("194.50"), D("0.00"))
    assert (districts["320612"].collected_kg, districts["320612"].transferred_kg) == (
        D("200.00"),
        D("120.00"),
    )
    assert districts["320623"].collected_kg == D("0")
    # 崇川 by category: HW08 100 + 40 + 5 = 145, HW49 19.5, HW12 30.
    chongchuan = {c: a.collected_kg for c, a in districts["320602"].by_category.items()}
    assert chongchuan == {"HW08": D("145.00"), "HW49": D("19.50"), "HW12": D("30.00")}

    months = {m.month: m for m in t.months}
    assert len(months) == 12
    # January 5 (M6); March 119.5 (M1); April 40 + 30 + 200 = 270; May 120 transferred (M7).
    assert months["2025-01"].collected_kg == D("5.00")
    assert months["2025-03"].collected_kg == D("119.50")
    assert months["2025-04"].collected_kg == D("270.00")
    assert (months["2025-05"].collected_kg, months["2025-05"].transferred_kg) == (D("0.00"), D("120.00"))
    assert months["2025-02"].collected_kg == D("0.00")


def test_the_period_is_counted_in_beijing_time(sw, regulator_city):
    january = statistics.tonnage(
        regulator_city, filters(regulator_city, date_from="2025-01-01", date_to="2025-01-31")
    )
    # M6 was received 2025-01-01 00:30 Beijing (2024-12-31 16:30 UTC): in. M5 at 2024-12-31 23:30: out.
    assert january.total.collected_kg == D("5.00")
    last_day = statistics.tonnage(
        regulator_city, filters(regulator_city, date_from="2024-12-31", date_to="2024-12-31")
    )
    assert last_day.total.collected_kg == D("999.00")


def test_a_date_range_narrows_the_tonnage(sw, regulator_city):
    april = statistics.tonnage(
        regulator_city, filters(regulator_city, date_from="2025-04-01", date_to="2025-04-30")
    )
    # M2 40 + M3 30 + M4 200 = 270; M7 (May) not in.
    assert (april.total.collected_kg, april.total.transferred_kg) == (D("270.00"), D("0.00"))
    assert [m.month for m in april.months] == ["2025-04"]


def test_district_regulator_sees_only_its_district(sw, regulator):
    t = statistics.tonnage(regulator, filters(regulator))
    # 崇川 only: 194.5 collected; M7 left a warehouse in 通州, which the 崇川 branch does not see.
    assert [d.code for d in t.districts] == ["320602"]
    assert (t.total.collected_kg, t.total.transferred_kg) == (D("194.50"), D("0.00"))
    e = statistics.enterprises(regulator, filters(regulator))
    assert [r.code for r in e.rows] == ["320602"]
    assert e.total.enrolled == 2


def test_division_filter_narrows_the_city_to_one_district(sw, regulator_city):
    f = filters(regulator_city, division="320612")
    t = statistics.tonnage(regulator_city, f)
    assert [d.code for d in t.districts] == ["320612"]
    # M4 200 collected, M7 120 transferred.
    assert (t.total.collected_kg, t.total.transferred_kg) == (D("200.00"), D("120.00"))
    assert f.division_name == "通州区"


def test_collector_filter_counts_what_it_received_and_sent_on(sw, regulator_city):
    t = statistics.tonnage(regulator_city, filters(regulator_city, collector=str(sw.c.pk)))
    # C received M1 119.5, M2 40, M3 30, M6 5 = 194.5 and sent M7 120 onward.
    assert (t.total.collected_kg, t.total.transferred_kg) == (D("194.50"), D("120.00"))
    t2 = statistics.tonnage(regulator_city, filters(regulator_city, collector=str(sw.c2.pk)))
    assert (t2.total.collected_kg, t2.total.transferred_kg) == (D("200.00"), D("0.00"))  # M4


def test_category_filter_keeps_one_category(sw, regulator_city):
    t = statistics.tonnage(regulator_city, filters(regulator_city, category="hw08"))
    assert [c.code for c in t.categories] == ["HW08"]
    assert (t.total.collected_kg, t.total.transferred_kg) == (D("345.00"), D("120.00"))


# --- coverage ---------------------------------------------------------------------------------------


def test_coverage_matrix_flags_planned_categories_nothing_was_collected_of(sw, regulator_city):
    cov = statistics.coverage(regulator_city, filters(regulator_city))
    assert [c.code for c in cov.categories] == ["HW08", "HW12", "HW49"]

    cell = cov.cell("320602", "HW08")
    # 崇川 HW08: 145 kg from P1 only (P2's HW08 in M3 was rejected, so not collected); P1 and P2 plan
    # HW08 (S1 filed, S2 approved); P2 is not collected from → a gap.
    assert (cell.served_kg, cell.served_producers, cell.planned_producers, cell.uncovered_producers) == (
        D("145.00"), 1, 2, 1,
    )  # fmt: skip
    assert cell.gap
    # 崇川 HW49: P1 plans it and was collected from (19.5 kg) → no gap. S1's 2024 plan (HW12) and
    # P4's draft (HW49) are not plans in force for 2025.
    hw49 = cov.cell("320602", "HW49")
    assert (hw49.served_kg, hw49.planned_producers, hw49.uncovered_producers, hw49.gap) == (
        D("19.50"),
        1,
        0,
        False,
    )
    hw12 = cov.cell("320602", "HW12")
    assert (hw12.served_kg, hw12.served_producers, hw12.planned_producers, hw12.gap) == (
        D("30.00"),
        1,
        1,
        False,
    )
    # 通州 HW08: 200 kg from P3 (no plan), P4 plans HW08 and was never collected from → a gap.
    tz = cov.cell("320612", "HW08")
    assert (tz.served_kg, tz.served_producers, tz.planned_producers, tz.uncovered_producers) == (
        D("200.00"),
        1,
        1,
        1,
    )
    assert tz.gap
    # 通州 HW49: P4's HW49 is only in a draft → nothing planned, no gap.
    assert not cov.cell("320612", "HW49").gap
    assert cov.gaps == 2


def test_coverage_collector_filter_uses_the_plans_naming_the_collector(sw, regulator_city):
    from greenisle.plans.models import PlanWaste

    PlanWaste.objects.filter(plan__site=sw.s2, waste_code__code="900-214-08").get().receivers.add(sw.c)
    cov = statistics.coverage(regulator_city, filters(regulator_city, collector=str(sw.c.pk)))
    # Only S2's HW08 row names C: planned 1 (P2), not collected → still a gap; P4's plan names nobody.
    cell = cov.cell("320602", "HW08")
    assert (cell.planned_producers, cell.uncovered_producers) == (1, 1)
    assert cov.cell("320612", "HW08").planned_producers == 0
    assert cov.gaps == 1


# --- enterprises ------------------------------------------------------------------------------------


def test_enterprises_enrolled_contracted_and_served(sw, regulator_city):
    e = statistics.enterprises(regulator_city, filters(regulator_city))
    rows = by_code(e.rows)
    # 崇川: P1, P2 enrolled; P1's contract runs in 2025, P2's ended 2024-12-31; both served (P2 by M3's
    # accepted HW12).
    assert (rows["320602"].enrolled, rows["320602"].contracted, rows["320602"].served) == (2, 1, 2)
    assert rows["320602"].served_pct == 100.0
    # 通州: P3 and P4 (the collector C is not a producer); P3 contracted with C2 from 03-01, served by M4.
    assert (rows["320612"].enrolled, rows["320612"].contracted, rows["320612"].served) == (2, 1, 1)
    assert rows["320612"].served_pct == 50.0
    # Total: 4 enrolled, 2 contracted, 3 served = 75 %.
    assert (e.total.enrolled, e.total.contracted, e.total.served, e.total.served_pct) == (4, 2, 3, 75.0)
    assert rows["320623"].served_pct is None  # nobody enrolled there


def test_enterprises_served_narrowed_by_category_and_collector(sw, regulator_city):
    hw49 = statistics.enterprises(regulator_city, filters(regulator_city, category="HW49"))
    # Only P1 had HW49 collected (M1); the enrolled base stays 4.
    assert (hw49.total.enrolled, hw49.total.served) == (4, 1)
    c2 = statistics.enterprises(regulator_city, filters(regulator_city, collector=str(sw.c2.pk)))
    # C2: P3 under contract and served (M4).
    assert (c2.total.contracted, c2.total.served) == (1, 1)
    before = statistics.enterprises(regulator_city, filters(regulator_city, date_to="2025-02-28"))
    # Jan–Feb: P1 served by M6 only; P3's contract starts 03-01.
    assert (before.total.contracted, before.total.served) == (1, 1)


# --- manifests --------------------------------------------------------------------------------------


def test_manifests_by_state_made_in_the_period(sw, regulator_city):
    s = statistics_manifests.manifest_stats(regulator_city, filters(regulator_city))
    states = {x.status: (x.collection, x.onward) for x in s.states}
    # Made in 2025: M1 M2 M4 received, M3 treated, M7 received (onward), M8 delivered, M9 cancelled,
    # M10 draft; M5 and M6 were made in December 2024.
    assert states == {
        "draft": (1, 0),
        "producer_signed": (0, 0),
        "in_transit": (0, 0),
        "delivered": (1, 0),
        "received": (3, 1),
        "treated": (1, 0),
        "cancelled": (1, 0),
    }


def test_receipt_deadline_on_time_late_and_open(sw, regulator_city):
    s = statistics_manifests.manifest_stats(regulator_city, filters(regulator_city))
    rows = by_code(s.compliance)
    # 崇川: M1 received on its due day 03-10 (on time), M2 on 04-02 after 04-01 (late), M3 on 04-20 before
    # 04-25 (on time), M8 due 06-10 and still not received (open past deadline). 2 of 4 = 50 %.
    c = rows["320602"]
    assert (c.on_time, c.late, c.open_overdue, c.open_pending, c.on_time_pct) == (2, 1, 1, 0, 50.0)
    # 通州: M4 (04-05, due 04-09 after the Qingming holiday) and M7 (on its due day 05-15): on time.
    t = rows["320612"]
    assert (t.on_time, t.late, t.open_overdue, t.on_time_pct) == (2, 0, 0, 100.0)
    total = s.compliance_total
    # 4 on time of 6 decided = 66.7 %. M5, M6 were delivered in 2024; M9 cancelled; M10 never delivered.
    assert (total.on_time, total.late, total.open_overdue, total.open_pending) == (4, 1, 1, 0)
    assert total.on_time_pct == 66.7


def test_a_delivery_still_within_its_deadline_is_pending_not_late(sw, regulator_city):
    from supervision.statistics_world import HW08, _manifest

    today = dt.date.today()
    delivered = f"{today.isoformat()} 00:05"
    _manifest("MX", sw.s1, sw.c, status="delivered", delivered=delivered, created=delivered,
              lines=[(HW08, "9", None, None, "")])  # fmt: skip
    s = statistics_manifests.manifest_stats(
        regulator_city, statistics_filters.statistics_filters(regulator_city)
    )
    assert s.compliance_total.open_pending == 1
    assert s.compliance_total.open_overdue == (1 if today.year == 2025 else 0)


# --- bins -------------------------------------------------------------------------------------------


def test_bins_by_fill_band_and_over_threshold(sw, regulator_city):
    b = statistics_bins.bin_stats(regulator_city, filters(regulator_city))
    assert [k for k, _label in b.bands] == ["0-20", "20-40", "40-60", "60-80", "80+", "none"]
    # Enabled bins: B1 10 → 0–20; B2 20 → 20–40 (a band includes its lower bound); B3 79.99 and B9 70 →
    # 60–80; B4 80, B5 85, B8 95 → 80+; B6 no reading. B7 is disabled.
    assert b.total.bands == {"0-20": 1, "20-40": 1, "40-60": 0, "60-80": 2, "80+": 3, "none": 1}
    # Over their own threshold: B4 (80 ≥ 80), B8 (95 ≥ 90), B9 (70 ≥ 60); B5 (85 < 90) is not.
    assert b.total.over_threshold == 3
    assert b.total.total == 8
    rows = by_code(b.rows)
    assert rows["320602"].bands == {"0-20": 1, "20-40": 1, "40-60": 0, "60-80": 1, "80+": 2, "none": 1}
    assert (rows["320602"].over_threshold, rows["320612"].over_threshold) == (1, 2)


def test_bins_filtered_by_collector_and_category(sw, regulator_city, regulator):
    c2 = statistics_bins.bin_stats(regulator_city, filters(regulator_city, collector=str(sw.c2.pk)))
    assert (c2.total.total, c2.total.over_threshold) == (2, 2)  # B8, B9
    hw12 = statistics_bins.bin_stats(regulator_city, filters(regulator_city, category="HW12"))
    assert hw12.total.bands["60-80"] == 1 and hw12.total.total == 1  # only B3 holds HW12
    hw08 = statistics_bins.bin_stats(regulator_city, filters(regulator_city, category="HW08"))
    assert hw08.total.total == 7  # all enabled but B3
    own = statistics_bins.bin_stats(regulator, filters(regulator))
    assert own.total.total == 6  # the 崇川 branch: B1–B6


def test_fill_band_boundaries_in_the_pure_core():
    assert core.band_of(None) == "none"
    assert core.band_of(D("19.99")) == "0-20"
    assert core.band_of(D("20")) == "20-40"
    assert core.band_of(D("80")) == "80+"
    assert core.band_of(D("100")) == "80+"


# --- trend ------------------------------------------------------------------------------------------


def test_monthly_trend(sw, regulator_city):
    points = {p.month: p for p in statistics.trend(regulator_city, filters(regulator_city))}
    assert len(points) == 12
    april = points["2025-04"]
    # April: M2 (P1) 40, M3 (P2) 30, M4 (P3) 200 received = 270 kg, 3 manifests, 3 producers. Delivered in
    # April: M3 and M4 on time (M2 was delivered in March).
    assert (april.collected_kg, april.collection_manifests, april.producers_served) == (D("270.00"), 3, 3)
    assert (april.on_time, april.late, april.on_time_pct) == (2, 0, 100.0)
    march = points["2025-03"]
    # March: M1 received (1 manifest); delivered in March: M1 on time, M2 late → 50 %.
    assert (march.collected_kg, march.collection_manifests, march.on_time, march.late) == (
        D("119.50"),
        1,
        1,
        1,
    )
    assert march.on_time_pct == 50.0
    june = points["2025-06"]
    assert (june.open_overdue, june.on_time_pct) == (1, 0.0)  # M8
    assert points["2025-05"].transferred_kg == D("120.00")
    assert points["2025-02"].on_time_pct is None


@pytest.mark.parametrize("given", [{}, {"division": "320602"}, {"category": "HW08"}])
def test_the_page_shares_weights_and_deadlines_between_tables_and_agrees_with_each_alone(
    sw, regulator_city, given
):
    f = filters(regulator_city, **given)
    report = statistics.statistics_report(regulator_city, f)
    alone = statistics.trend(regulator_city, f)
    assert report.trend == alone
    assert report.manifests == statistics_manifests.manifest_stats(regulator_city, f)
    assert any(p.collected_kg for p in alone) and any(p.on_time for p in alone)


# --- who may ask, and with which filters ------------------------------------------------------------


def test_producer_and_collector_are_refused(sw, alice, dispatcher):
    for user in (alice, dispatcher):
        with pytest.raises(PermissionDenied) as refused:
            statistics_filters.statistics_filters(user)
        assert refused.value.status == 403


def test_a_district_outside_the_jurisdiction_is_refused_naming_division(sw, regulator):
    for code in ("320612", "320600"):
        with pytest.raises(PermissionDenied) as refused:
            filters(regulator, division=code)
        assert refused.value.field == "division"
    # Its own district is fine.
    assert filters(regulator, division="320602").prefix == "320602"


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"date_from": "2025-13-01"}, "date_from"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_from": "2025-06-01", "date_to": "2025-05-31"}, "date_to"),
        ({"date_from": "2000-01-01", "date_to": "2025-01-01"}, "date_to"),
        ({"division": "3206"}, "division"),
        ({"division": "320699"}, "division"),
        ({"collector": "not-a-uuid"}, "collector"),
        ({"category": "oil"}, "category"),
        ({"category": "HW99"}, "category"),
        ({"category": "HW08\x00"}, "category"),
    ],
)
def test_malformed_filters_are_refused_naming_the_field(sw, regulator_city, given, field):
    with pytest.raises(ServiceError) as refused:
        filters(regulator_city, **given)
    assert refused.value.field == field
    assert refused.value.status == 400


def test_a_producer_is_not_a_collector_filter(sw, regulator_city):
    with pytest.raises(ServiceError) as refused:
        filters(regulator_city, collector=str(sw.p1.pk))
    assert refused.value.field == "collector"


def test_the_period_defaults_to_this_year_up_to_today(sw, regulator_city):
    f = statistics_filters.statistics_filters(regulator_city)
    today = dt.date.today()
    assert (f.date_from, f.date_to) == (dt.date(today.year, 1, 1), today)
    last_year = statistics_filters.statistics_filters(regulator_city, date_from="2025-02-01")
    assert last_year.date_to == (dt.date(2025, 12, 31) if today.year != 2025 else today)


# --- the API ----------------------------------------------------------------------------------------


def test_api_answers_the_same_figures(sw, client, regulator_city):
    client.force_login(regulator_city)
    tonnage = client.get(f"{API}/tonnage", YEAR).json()
    assert tonnage["total"]["collected_kg"] == 394.5
    assert tonnage["total"]["transferred_t"] == 0.12
    assert {c["code"]: c["collected_kg"] for c in tonnage["categories"]} == {
        "HW08": 345.0,
        "HW12": 30.0,
        "HW49": 19.5,
    }
    chongchuan = next(d for d in tonnage["districts"] if d["code"] == "320602")
    assert {c["category"]: c["collected_kg"] for c in chongchuan["by_category"]} == {
        "HW08": 145.0, "HW12": 30.0, "HW49": 19.5,
    }  # fmt: skip
    coverage = client.get(f"{API}/coverage", YEAR).json()
    assert coverage["gaps"] == 2
    assert {(c["district"], c["category"]) for c in coverage["cells"] if c["gap"]} == {
        ("320602", "HW08"), ("320612", "HW08"),
    }  # fmt: skip
    assert client.get(f"{API}/enterprises", YEAR).json()["total"]["served"] == 3
    manifests = client.get(f"{API}/manifests", YEAR).json()
    assert manifests["compliance_total"]["on_time_pct"] == 66.7
    bins = client.get(f"{API}/bins", YEAR).json()
    assert bins["total"]["over_threshold"] == 3 and bins["total"]["bands"]["80+"] == 3
    trend = client.get(f"{API}/trend", YEAR).json()
    assert [m["month"] for m in trend["months"]][:2] == ["2025-01", "2025-02"]
    assert trend["months"][3]["collected_kg"] == 270.0


def test_api_refusals(sw, client, regulator, alice):
    client.force_login(regulator)
    outside = client.get(f"{API}/tonnage", {**YEAR, "division": "320612"})
    assert outside.status_code == 403 and outside.json()["field"] == "division"
    bad = client.get(f"{API}/coverage", {"date_from": "2025-02-30"})
    assert bad.status_code == 400 and bad.json()["field"] == "date_from"
    client.force_login(alice)
    for endpoint in ("tonnage", "coverage", "enterprises", "manifests", "bins", "trend"):
        assert client.get(f"{API}/{endpoint}").status_code == 403
    client.logout()
    assert client.get(f"{API}/tonnage").status_code == 401


# --- the workbook -----------------------------------------------------------------------------------


def test_workbook_has_a_sheet_per_table_with_the_same_numbers(sw, regulator_city):
    f = filters(regulator_city)
    wb = load_workbook(io.BytesIO(statistics_xlsx(statistics.statistics_report(regulator_city, f))))
    assert wb.sheetnames == [
        "筛选条件 Filters",
        "按类别 By category",
        "按区县 By district",
        "区县×类别 By district, category",
        "按月 By month",
        "覆盖矩阵 Coverage",
        "企业 Enterprises",
        "联单状态 Manifests by state",
        "接收时限 Receipt deadline",
        "云仓满溢 Bins by fill",
    ]
    cats = wb["按类别 By category"]
    assert cats["A1"].value == "类别 / Category" and cats["C1"].value == "收集量（千克）/ Collected (kg)"
    rows = {r[0]: r for r in cats.iter_rows(min_row=2, values_only=True)}
    # code, name, collected kg, collected t, transferred kg, transferred t
    assert rows["HW08"][2:] == (345.0, 0.345, 120.0, 0.12)
    assert rows["合计 / Total"][2] == 394.5
    assert isinstance(rows["HW49"][2], float)

    districts = {r[0]: r for r in wb["按区县 By district"].iter_rows(min_row=2, values_only=True)}
    assert districts["320602"][1:4] == ("崇川区", 194.5, 0.195)
    months = {r[0]: r for r in wb["按月 By month"].iter_rows(min_row=2, values_only=True)}
    assert months["2025-04"][1] == 270.0 and months["2025-04"][5] == 3
    cover = {(r[0], r[2]): r for r in wb["覆盖矩阵 Coverage"].iter_rows(min_row=2, values_only=True)}
    assert cover[("320602", "HW08")][4:] == (145.0, 1, 2, 1, "是 / yes")
    assert cover[("320602", "HW49")][8] == "否 / no"
    firms = {r[0]: r for r in wb["企业 Enterprises"].iter_rows(min_row=2, values_only=True)}
    assert firms["合计 / Total"][2:] == (4, 2, 3, 0.75)
    states = {r[1]: r for r in wb["联单状态 Manifests by state"].iter_rows(min_row=2, values_only=True)}
    assert states["received"][2:] == (3, 1, 4)
    deadline = {r[0]: r for r in wb["接收时限 Receipt deadline"].iter_rows(min_row=2, values_only=True)}
    assert deadline["320602"][2:] == (2, 1, 1, 0, 0.5)
    bins = {r[0]: r for r in wb["云仓满溢 Bins by fill"].iter_rows(min_row=2, values_only=True)}
    # bands 0-20 … 80+, none, over threshold, total
    assert bins["合计 / Total"][2:] == (1, 1, 0, 2, 3, 1, 3, 8)
    info = {r[0]: r[1] for r in wb["筛选条件 Filters"].iter_rows(values_only=True)}
    assert info["统计期间起 / From"].date() == dt.date(2025, 1, 1)


def test_the_number_of_queries_does_not_grow_with_the_rows(sw, regulator_city):
    """Each table is a fixed number of GROUP BY queries, whatever the number of manifests and bins."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from factories import BinFactory, ManifestLineFactory, waste_code

    from supervision.statistics_world import HW49, _manifest

    def queries() -> int:
        f = filters(regulator_city, category="HW08")
        with CaptureQueriesContext(connection) as captured:
            statistics.statistics_report(regulator_city, f)
        return len(captured)

    before = queries()
    for n in range(5):
        m = _manifest(f"N{n}", sw.s3, sw.c2, status="received", delivered="2025-09-01 09:00",
                      received="2025-09-02 09:00", lines=[("900-214-08", "10", "10", "10", "accepted")])  # fmt: skip
        ManifestLineFactory(manifest=m, waste_code=waste_code(HW49), weight_kg=D("3"))
        BinFactory(site=sw.s4, collector=sw.c2)
    assert queries() == before
