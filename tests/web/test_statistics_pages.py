"""The bureau's statistics page (/regulator/statistics/), its Excel export and the JSON its charts read,
on the hand-built world of ``supervision/statistics_world.py``."""

from __future__ import annotations

import io
from html import unescape

import pytest
from openpyxl import load_workbook
from supervision.statistics_world import YEAR, build

from web.helpers import page_text

PAGE = "/regulator/statistics/"
XLSX = "/regulator/statistics.xlsx"


@pytest.fixture
def sw(db):
    return build()


def test_page_shows_filters_tables_charts_and_export_link(sw, browser_as, regulator_city):
    html = unescape(page_text(browser_as(regulator_city).get(PAGE, YEAR)))
    # The form, with the period as given and the divisions of the city to choose from.
    assert 'name="date_from" value="2025-01-01"' in html
    assert '<option value="320612"' in html and "通州区" in html
    assert 'value="HW08"' in html
    # Totals: 394.5 kg collected = 0.395 t (rounded half up), 120 kg transferred = 0.120 t.
    assert 'id="total-collected">0.395<' in html
    assert 'id="total-transferred">0.120<' in html
    # The tables: HW08 345 kg = 0.345 t collected, 0.120 t transferred; two coverage gaps flagged.
    assert "<td>HW08</td>" in html and "0.345" in html
    assert html.count('class="num gap"') == 2
    # Charts, each with its endpoint and the same filters.
    for chart in ("category", "district", "trend", "coverage", "bins", "compliance"):
        assert f'id="chart-{chart}"' in html
    assert 'data-api="/api/v1/statistics/"' in html
    assert "date_from=2025-01-01&date_to=2025-12-31" in html
    assert "vendor/echarts/echarts.min.js" in html and "web/statistics.js" in html
    assert f'href="{XLSX}?date_from=2025-01-01&date_to=2025-12-31"' in html


def test_district_branch_sees_only_its_district(sw, browser_as, regulator):
    html = unescape(page_text(browser_as(regulator).get(PAGE, YEAR)))
    # 崇川 only: 194.5 kg = 0.195 t (rounded half up); nothing transferred from 崇川.
    assert 'id="total-collected">0.195<' in html
    assert 'id="total-transferred">0.000<' in html
    assert "320612" not in html.split('id="statistics-charts"')[1]


def test_nav_link_only_for_regulators(sw, browser_as, regulator_city, alice):
    assert f'href="{PAGE}"' in page_text(browser_as(regulator_city).get(PAGE))
    assert f'href="{PAGE}"' not in page_text(browser_as(alice).get("/ledger/"))


def test_others_are_refused_and_strangers_sent_to_log_in(sw, browser_as, alice, dispatcher):
    for user in (alice, dispatcher):
        assert browser_as(user).get(PAGE).status_code == 403
        assert browser_as(user).get(XLSX).status_code == 403
    anonymous = browser_as(None).get(PAGE)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_a_district_outside_the_jurisdiction_is_refused_on_the_page(sw, browser_as, regulator):
    response = browser_as(regulator).get(PAGE, {**YEAR, "division": "320612"})
    assert response.status_code == 403
    html = unescape(response.content.decode())
    assert "[division]" in html and 'role="alert"' in html
    # The form is kept as typed; nothing is counted.
    assert 'name="date_from" value="2025-01-01"' in html
    assert 'id="total-collected"' not in html


def test_a_malformed_filter_is_a_400_naming_the_field(sw, browser_as, regulator_city):
    response = browser_as(regulator_city).get(PAGE, {"date_from": "2025-02-30"})
    assert response.status_code == 400
    assert "[date_from]" in response.content.decode()
    export = browser_as(regulator_city).get(XLSX, {"category": "HW99"})
    assert export.status_code == 400 and "[category]" in export.content.decode()


def test_excel_export_downloads_the_figures(sw, browser_as, regulator_city):
    response = browser_as(regulator_city).get(XLSX, {**YEAR, "division": "320602"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="statistics-320602-20250101-20251231.xlsx"' in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    rows = {r[0]: r for r in wb["按区县 By district"].iter_rows(min_row=2, values_only=True)}
    # 崇川 alone: 194.5 kg collected.
    assert set(rows) == {"320602", "合计 / Total"}
    assert rows["320602"][2] == 194.5


def test_the_charts_endpoints_answer_the_page_session(sw, browser_as, regulator_city):
    browser = browser_as(regulator_city)
    for endpoint in ("tonnage", "coverage", "enterprises", "manifests", "bins", "trend"):
        response = browser.get(f"/api/v1/statistics/{endpoint}", YEAR)
        assert response.status_code == 200, endpoint
        assert response.json()["filters"]["date_to"] == "2025-12-31"
