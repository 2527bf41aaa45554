"""The obligations pages (HJ 1259-2022 §5 management plans, §7 declarations): a producer's plan and
declarations, the plan by section with filing and review, a declaration's Appendix C figures and
one-click submission, a collector filing for all its clients, and the bureau's completeness per
district. Hand-computed figures throughout."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from factories import ProducerFactory, SiteFactory, division, waste_code

from greenisle.ledger.bulk import bulk_filing_run
from greenisle.ledger.core import period_of
from greenisle.ledger.declarations import declaration_prepare, declaration_submit
from greenisle.ledger.models import BulkFiling, BulkFilingStatus, Declaration, DeclarationStatus, RecordType
from greenisle.ledger.services import ledger_record_add
from greenisle.plans import core as plan_core
from greenisle.plans.classification import site_class_override
from greenisle.plans.models import ManagementPlan, PlanStatus
from greenisle.plans.services import plan_file, plan_prepare, plan_update
from web.helpers import messages_of, page_text

TODAY = timezone.localdate()
YEAR = TODAY.year
LAST_YEAR = YEAR - 1
OIL = "900-214-08"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def english(browser_as):
    """A browser reading the English side of the UI (the strings asserted on are the msgids)."""

    def _as(user):
        browser = browser_as(user)
        browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return browser

    return _as


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def record(site, record_type, kg, day, **kw):
    return ledger_record_add(
        organization=site.organization,
        site=site,
        record_type=record_type,
        waste_code=waste_code(kw.pop("code", OIL)),
        container_code=kw.pop("container", "C-1"),
        weight_kg=Decimal(kg),
        occurred_at=at(day),
        **kw,
    )


@pytest.fixture
def last_year_ledger(producer_site, collector, contract):
    """Last year at Alice's workshop: 500 kg of engine oil produced (300 + 200), 450 kg handed to the
    collector: 0.500 t generated, 0.450 t outsourced, 0.050 t in store at the year's end."""
    site = producer_site
    record(site, RecordType.PRODUCTION, "300", dt.date(LAST_YEAR, 2, 3), container="C-1")
    record(site, RecordType.PRODUCTION, "200", dt.date(LAST_YEAR, 9, 3), container="C-2")
    record(
        site,
        RecordType.OUTSOURCED_DISPOSAL,
        "450",
        dt.date(LAST_YEAR, 10, 9),
        container="C-1",
        counterparty=collector,
        method="C1",
        destination=collector.name,
        licence_number="JSNT0612OOD001",
        province="江苏省",
    )
    return period_of("year", dt.date(LAST_YEAR, 6, 1))


def fingerprint_on(text: str) -> str:
    match = re.search(r'name="figures_seen" value="([0-9a-f]+)"', text)
    assert match, "no submit form on the page"
    return match.group(1)


def cell(text: str, css: str) -> str:
    """The text of the first ``<td class="num {css}">`` on the page."""
    match = re.search(rf'<td class="num {css}">([^<]*)</td>', text)
    assert match, css
    return match.group(1)


# --- 1 + 2: obligations and the management plan ---------------------------------------------------


def _complete_form(plan, collector) -> dict[str, str]:
    """What Alice types in: A.1 in full (the registry filled most of it), one waste with its transfer."""
    basic = {**plan.basic, "legal_representative": "李大明", "eia_reference": "无", "permit_reference": "无"}
    form = {f"basic-{name}": basic.get(name) or "填写" for name in plan_core.BASIC_FIELDS}
    form.update(
        {
            "waste_count": "1",
            "w0-waste_code": OIL,
            "w0-form": "liquid",
            "w0-hazardous_constituents": "矿物油",
            "w0-annual_t": "0.5",
            "w0-transfer_type": "in_province",
            "w0-transfer_t": "0.45",
            "w0-method": "C1",
            "w0-receivers": str(collector.pk),
        }
    )
    return form


def test_the_producer_prepares_completes_and_files_its_plan_through_the_pages(
    producer_site, alice, collector, contract, english
):
    browser = english(alice)
    text = page_text(browser.get("/obligations/"))
    assert producer_site.name in text and "Not prepared" in text
    assert f"{YEAR}-03-31" in text and "Prepare the plan" in text
    # A registration unit (no ledger yet: 0 t) owes last year's annual declaration.
    assert f'data-period="{LAST_YEAR}"' in text

    response = browser.submit("/management-plans/new/", {"site_id": str(producer_site.pk), "year": str(YEAR)})
    plan = ManagementPlan.objects.get(site=producer_site, year=YEAR)
    assert response.status_code == 302 and response["Location"] == f"/management-plans/{plan.pk}/"
    assert plan.status == PlanStatus.DRAFT and plan.management_class == "registration"

    # The plan by section: only A.1, A.3 and A.7 for a registration unit; what is missing first.
    text = page_text(browser.get(f"/management-plans/{plan.pk}/"))
    assert 'id="plan-form"' in text and 'id="problems"' in text
    assert "[basic.legal_representative]" in text and "[wastes]" in text
    assert 'name="basic-legal_representative"' in text
    assert "w0-storage_type" in text and 'type="hidden" name="w0-storage_type"' in text  # no A.4 inputs
    assert 'name="measures"' not in text and 'name="facilities"' not in text  # no A.6, no A.2

    # Filing the incomplete plan shows every problem and files nothing.
    form = {f"basic-{name}": value for name, value in plan.basic.items()} | {"waste_count": "1"}
    response = browser.submit(f"/management-plans/{plan.pk}/", {**form, "action": "file"}, follow=True)
    shown = messages_of(response)
    assert any("[basic.legal_representative]" in m for m in shown)
    assert any("[basic.eia_reference]" in m for m in shown) and any("[wastes]" in m for m in shown)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT and not plan.filing_number

    # A bad waste code is refused naming the field, and what was typed comes back in the form.
    bad = {**_complete_form(plan, collector), "w0-waste_code": "999-999-99", "action": "save"}
    response = browser.submit(f"/management-plans/{plan.pk}/", bad)
    text = page_text(response)
    assert any("[wastes[0].waste_code]" in m for m in messages_of(response))
    assert 'value="李大明"' in text and 'value="999-999-99"' in text
    assert plan.wastes.count() == 0

    # Completed and filed: the filing number is issued and the receipt is there.
    response = browser.submit(
        f"/management-plans/{plan.pk}/", {**_complete_form(plan, collector), "action": "file"}, follow=True
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.FILED, messages_of(response)
    assert plan.filing_number == f"320602{YEAR}000001"
    assert plan.basic["legal_representative"] == "李大明"
    [row] = plan.wastes.all()
    assert (row.waste_code.code, row.annual_t, row.transfer_t, row.method) == (
        OIL,
        Decimal("0.500"),
        Decimal("0.450"),
        "C1",
    )
    assert list(row.receivers.all()) == [collector]
    text = page_text(response)
    assert plan.filing_number in text and 'id="receipt-link"' in text and 'id="plan-form"' not in text
    receipt = browser.get(f"/management-plans/{plan.pk}/receipt.pdf")
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"
    assert receipt.content.startswith(b"%PDF")
    text = page_text(browser.get("/obligations/"))
    assert plan.filing_number in text and "Not prepared" in text  # the declaration is still to do


def test_a_key_unit_fills_every_section_and_its_facility_lines_are_parsed(
    producer_site, alice, collector, contract, regulator, english
):
    # §4.2.2: the bureau sets the class; a key unit fills A.1–A.7.
    site_class_override(
        actor=regulator,
        site_id=producer_site.pk,
        management_class="key",
        reason="自建焚烧设施 / own incinerator",
    )
    browser = english(alice)
    text = page_text(browser.get("/obligations/"))
    assert "自建焚烧设施" in text
    browser.submit("/management-plans/new/", {"site_id": str(producer_site.pk), "year": str(YEAR)})
    plan = ManagementPlan.objects.get(site=producer_site, year=YEAR)
    assert plan.management_class == "key"
    text = page_text(browser.get(f"/management-plans/{plan.pk}/"))
    for name in ("facilities", "own_treatment", "measures", "w0-storage_type", "w0-year_end_stock_t"):
        assert f'name="{name}"' in text, name
    assert "[facilities]" in text and "[reduction.measures]" in text
    form = {
        **_complete_form(plan, collector),
        "w0-storage_facility_code": "TS001",
        "w0-storage_type": "贮存库",
        "w0-packaging": "200L桶",
        "w0-year_end_stock_t": "0.05",
        "facilities": "焚烧炉 | F001 | 100 kg/h | 二燃室\n\n贮存库｜TS001｜20 m²",
        "own_treatment": "焚烧炉 | D10 | 300 t/a",
        "measures": "更换长寿命机油",
        "action": "file",
    }
    response = browser.submit(f"/management-plans/{plan.pk}/", form, follow=True)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.FILED, messages_of(response)
    assert plan.facilities == [
        {"name": "焚烧炉", "code": "F001", "parameters": "100 kg/h | 二燃室"},
        {"name": "贮存库", "code": "TS001", "parameters": "20 m²"},
    ]
    assert plan.own_treatment == [{"facility": "焚烧炉", "method": "D10", "capacity": "300 t/a"}]
    assert plan.reduction == {"measures": "更换长寿命机油"}
    assert plan.wastes.get().storage_type == "贮存库"
    text = page_text(response)
    for section in ("A1", "A2", "A3", "A4", "A5", "A6", "A7"):
        assert f'id="section-{section}"' in text, section
    assert "F001" in text and "D10" in text and "更换长寿命机油" in text


def _filed(producer_site, alice, collector):
    plan = plan_prepare(actor=alice, site_id=producer_site.pk, year=YEAR)
    plan_update(
        actor=alice,
        plan_id=plan.pk,
        basic={"legal_representative": "李大明", "eia_reference": "无", "permit_reference": "无"},
        wastes=[
            {
                "waste_code": OIL,
                "annual_t": "0.5",
                "form": "liquid",
                "transfer_t": "0.45",
                "method": "C1",
                "receivers": [str(collector.pk)],
            }
        ],
    )
    return plan_file(actor=alice, plan_id=plan.pk)


def test_the_bureau_of_the_district_returns_and_approves_the_plan_and_no_other_sees_it(
    producer_site, alice, collector, contract, regulator, regulator_other, english
):
    plan = _filed(producer_site, alice, collector)
    # 通州区's branch: not its district.
    other = english(regulator_other)
    assert other.get(f"/management-plans/{plan.pk}/").status_code == 404
    assert other.get(f"/management-plans/{plan.pk}/receipt.pdf").status_code == 404
    response = other.submit(f"/management-plans/{plan.pk}/review/", {"decision": "approve"})
    assert response.status_code == 404
    plan.refresh_from_db()
    assert plan.status == PlanStatus.FILED

    # 崇川区's branch returns it with its note; Alice sees the note and files again.
    bureau = english(regulator)
    text = page_text(bureau.get(f"/management-plans/{plan.pk}/"))
    assert 'id="review"' in text and plan.filing_number in text
    response = bureau.submit(f"/management-plans/{plan.pk}/review/", {"decision": "return"}, follow=True)
    assert any("退回须说明原因" in m for m in messages_of(response))  # a return needs its reasons
    bureau.submit(
        f"/management-plans/{plan.pk}/review/", {"decision": "return", "note": "请补充贮存设施说明"}
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.RETURNED
    producer = english(alice)
    assert "请补充贮存设施说明" in page_text(producer.get("/obligations/"))
    text = page_text(producer.get(f"/management-plans/{plan.pk}/"))
    assert 'id="review-note"' in text and "请补充贮存设施说明" in text and 'id="plan-form"' in text
    # Alice may not review her own plan.
    response = producer.submit(f"/management-plans/{plan.pk}/review/", {"decision": "approve"}, follow=True)
    assert any("只有生态环境部门可以审核" in m for m in messages_of(response))
    form = _complete_form(plan, collector)
    producer.submit(f"/management-plans/{plan.pk}/", {**form, "action": "file"})
    plan.refresh_from_db()
    assert plan.status == PlanStatus.FILED

    response = bureau.submit(f"/management-plans/{plan.pk}/review/", {"decision": "approve"}, follow=True)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED and plan.reviewed_by == regulator
    assert 'id="review"' not in page_text(response)

    # The producer amends the approved plan: a new draft revision, the approved one stays in force.
    response = producer.submit(f"/management-plans/{plan.pk}/amend/")
    amendment = ManagementPlan.objects.get(amends=plan)
    assert response["Location"] == f"/management-plans/{amendment.pk}/"
    assert amendment.revision == 1 and amendment.status == PlanStatus.DRAFT
    plan.refresh_from_db()
    assert plan.status == PlanStatus.APPROVED


# --- 3: the declaration --------------------------------------------------------------------------


def _prepared(browser, site, period) -> Declaration:
    response = browser.submit(
        "/declarations/prepare/", {"site_id": str(site.pk), "kind": period.kind, "label": period.label}
    )
    declaration = Declaration.objects.get(site=site, kind=period.kind, period_start=period.start)
    assert response.status_code == 302 and response["Location"] == f"/declarations/{declaration.pk}/"
    return declaration


def test_the_declaration_shows_the_ledger_figures_and_one_click_submits_it(
    producer_site, alice, last_year_ledger, english
):
    browser = english(alice)
    text = page_text(browser.get("/obligations/"))
    assert f'data-period="{LAST_YEAR}"' in text and "Prepare and review" in text
    declaration = _prepared(browser, producer_site, last_year_ledger)
    text = page_text(browser.get(f"/declarations/{declaration.pk}/"))
    # 500 kg produced, 450 kg handed over, nothing before: 0.000 + 0.500 − 0.450 = 0.050 t.
    assert (
        cell(text, "opening"),
        cell(text, "generated"),
        cell(text, "outsourced"),
        cell(text, "closing"),
    ) == (
        "0.000",
        "0.500",
        "0.450",
        "0.050",
    )
    assert re.search(r'id="total-closing">0\.050<', text)
    assert "JSNT0612OOD001" in text and "江苏省" in text  # the outsourced sub-row
    assert f"{YEAR}-03-31" in text and 'id="submit-form"' in text

    response = browser.submit(
        f"/declarations/{declaration.pk}/submit/", {"figures_seen": fingerprint_on(text)}, follow=True
    )
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.SUBMITTED, messages_of(response)
    assert declaration.receipt_number == f"SB320602{YEAR}000001" and declaration.submitted_by == alice
    text = page_text(response)
    assert f'id="receipt-number">{declaration.receipt_number}<' in text and 'id="submit-form"' not in text
    assert declaration.receipt_number in page_text(browser.get("/obligations/"))


def test_figures_changed_since_review_are_refused_and_shown_again(
    producer_site, alice, last_year_ledger, english
):
    browser = english(alice)
    declaration = _prepared(browser, producer_site, last_year_ledger)
    seen = fingerprint_on(page_text(browser.get(f"/declarations/{declaration.pk}/")))
    # Meanwhile 100 kg more is recorded for last year.
    record(producer_site, RecordType.PRODUCTION, "100", dt.date(LAST_YEAR, 12, 1), container="C-3")
    response = browser.submit(f"/declarations/{declaration.pk}/submit/", {"figures_seen": seen}, follow=True)
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.DRAFT
    assert any("[figures_seen]" in m for m in messages_of(response))
    text = page_text(response)
    # The refreshed figures: 0.600 generated, 0.150 in store at the end.
    assert (cell(text, "generated"), cell(text, "closing")) == ("0.600", "0.150")
    fresh = fingerprint_on(text)
    assert fresh != seen
    browser.submit(f"/declarations/{declaration.pk}/submit/", {"figures_seen": fresh})
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.SUBMITTED
    assert declaration.content["totals"]["closing_t"] == "0.150"


def test_downloads_and_visibility_of_a_declaration(
    producer_site, alice, bob, regulator, regulator_other, last_year_ledger, english
):
    declaration = declaration_prepare(site=producer_site, period=last_year_ledger)
    for person in (alice, regulator):
        browser = english(person)
        xlsx = browser.get(f"/declarations/{declaration.pk}.xlsx")
        assert xlsx.status_code == 200 and xlsx["Content-Type"] == XLSX
        assert xlsx.content.startswith(b"PK") and len(xlsx.content) > 1000
        pdf = browser.get(f"/declarations/{declaration.pk}.pdf")
        assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000
    # The bureau sees the declaration but may not submit it; others do not see it at all.
    text = page_text(english(regulator).get(f"/declarations/{declaration.pk}/"))
    assert "0.050" in text and 'id="submit-form"' not in text
    for person in (bob, regulator_other):
        browser = english(person)
        for path in ("/", ".xlsx", ".pdf"):
            assert browser.get(f"/declarations/{declaration.pk}{path}").status_code == 404
        assert browser.submit(f"/declarations/{declaration.pk}/submit/").status_code == 404
    # Bob may not prepare one for Alice's site either.
    response = english(bob).submit(
        "/declarations/prepare/", {"site_id": str(producer_site.pk), "kind": "year", "label": str(LAST_YEAR)}
    )
    assert response.status_code == 404


# --- 4: the collector files for all its clients ---------------------------------------------------


def test_the_collector_submits_declarations_for_all_clients_and_follows_the_progress(
    producer_site,
    dispatcher,
    driver,
    rival_dispatcher,
    collector,
    last_year_ledger,
    english,
    django_capture_on_commit_callbacks,
):
    assert english(driver).get("/clients/filing/").status_code == 404
    browser = english(dispatcher)
    text = page_text(browser.get("/clients/filing/"))
    assert f'data-site="{producer_site.pk}"' in text and producer_site.name in text
    assert f'name="period" value="{LAST_YEAR}"' in text
    # A client's obligations, for its collector only.
    assert producer_site.name in page_text(browser.get(f"/obligations/?site={producer_site.pk}"))
    assert english(rival_dispatcher).get(f"/obligations/?site={producer_site.pk}").status_code == 404

    # A period that has not ended is refused, naming the field.
    response = browser.submit(
        "/clients/filing/", {"what": "declarations", "period": str(YEAR + 1)}, follow=True
    )
    assert any("[period]" in m for m in messages_of(response)) and not BulkFiling.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.submit("/clients/filing/", {"what": "declarations", "period": str(LAST_YEAR)})
    bulk = BulkFiling.objects.get()
    assert response["Location"] == f"/clients/filing/?bulk={bulk.pk}"
    # Whatever the task backend (immediate, or the database queue), the run is the same.
    bulk_filing_run(bulk_id=bulk.pk)
    bulk.refresh_from_db()
    assert (bulk.status, bulk.total, bulk.done, bulk.skipped, bulk.failures) == (
        BulkFilingStatus.DONE,
        1,
        1,
        0,
        [],
    )
    progress = page_text(browser.get(f"/clients/filing/{bulk.pk}/progress/", HTTP_HX_REQUEST="true"))
    assert 'id="bulk-done">1<' in progress and 'id="bulk-failed">0<' in progress
    assert "hx-get" not in progress  # finished: it stops polling
    response = browser.get(f"/clients/filing/{bulk.pk}/progress/")
    assert response.status_code == 302 and response["Location"] == f"/clients/filing/?bulk={bulk.pk}"
    text = page_text(browser.get(response["Location"]))
    assert 'id="bulk-done">1<' in text

    declaration = Declaration.objects.get(site=producer_site, kind="year")
    assert (
        declaration.status == DeclarationStatus.SUBMITTED and declaration.filed_by_organization == collector
    )
    assert declaration.receipt_number in text  # the clients' table shows the receipt
    assert english(rival_dispatcher).get(f"/clients/filing/{bulk.pk}/progress/").status_code == 404


def test_a_running_bulk_filing_polls_and_lists_its_failures(producer_site, dispatcher, collector, english):
    bulk = BulkFiling.objects.create(
        collector=collector,
        requested_by=dispatcher,
        what="plans",
        period=str(YEAR),
        status=BulkFilingStatus.RUNNING,
        total=4,
        done=1,
        skipped=1,
        failures=[{"site": "某汽修 · 车间", "error": "计划不完整 / incomplete", "field": "basic.uscc"}],
    )
    browser = english(dispatcher)
    progress = page_text(browser.get(f"/clients/filing/{bulk.pk}/progress/", HTTP_HX_REQUEST="true"))
    assert f'hx-get="/clients/filing/{bulk.pk}/progress/"' in progress and 'hx-trigger="every 2s"' in progress
    assert 'value="75"' in progress  # 3 of 4 sites handled
    assert "计划不完整 / incomplete" in progress and "[basic.uscc]" in progress
    assert 'id="bulk-progress"' in page_text(browser.get("/clients/filing/"))


# --- 5: the bureau's completeness -----------------------------------------------------------------


@pytest.fixture
def district_world(producer, producer_site, alice, collector, contract, warehouse, last_year_ledger):
    """崇川区 (320602): Alice's workshop (plan filed, last year declared) and a second workshop of
    another producer (nothing filed). 通州区 (320612): one furniture workshop (plan filed, nothing
    declared); the collector's warehouse there is not a producer site and does not count."""
    _filed(producer_site, alice, collector)
    declaration = declaration_prepare(site=producer_site, period=last_year_ledger)
    declaration_submit(actor=alice, declaration_id=declaration.pk)
    idle = SiteFactory(organization=ProducerFactory(division=division("320602")), name="闲置车间")
    tongzhou = ProducerFactory(division=division("320612"), name="通州某家具厂")
    furniture = SiteFactory(organization=tongzhou, name="家具车间")
    ManagementPlan.objects.create(
        site=furniture, year=YEAR, status=PlanStatus.FILED, filing_number=f"320612{YEAR}000001"
    )
    return {"idle": idle, "furniture": furniture, "declaration": declaration}


def test_the_city_bureau_sees_completeness_per_district(
    district_world, regulator_city, producer_site, english
):
    plans_late = dt.date(YEAR, 3, 31) < TODAY
    declarations_late = dt.date(YEAR, 3, 31) < TODAY  # last year's annual is due on 31 March too
    text = page_text(english(regulator_city).get("/regulator/obligations/"))

    def row(code):
        match = re.search(rf'<tr data-division="{code}">(.*?)</tr>', text, re.S)
        assert match, code
        cells = dict(re.findall(r'<td class="num ([a-z-]+)">([^<]*)</td>', match.group(1)))
        return cells

    # 崇川区: 2 sites, 1 plan in force (50.0 %), 1 declaration submitted (50.0 %).
    assert row("320602") == {
        "sites": "2",
        "in-force": "1",
        "in-force-pct": "50.0",
        "plans-overdue": "1" if plans_late else "0",
        "submitted": "1",
        "submitted-pct": "50.0",
        "declarations-overdue": "1" if declarations_late else "0",
    }
    # 通州区: 1 producer site (the warehouse is the collector's), its plan in force, nothing declared.
    assert row("320612") == {
        "sites": "1",
        "in-force": "1",
        "in-force-pct": "100.0",
        "plans-overdue": "0",
        "submitted": "0",
        "submitted-pct": "0.0",
        "declarations-overdue": "1" if declarations_late else "0",
    }
    assert re.search(r'id="district-totals"><th>[^<]*</th><td class="num">3</td><td class="num">2</td>', text)

    # Drill-down into 崇川区: both sites with links to the plan and the declaration.
    text = page_text(english(regulator_city).get("/regulator/obligations/?division=320602"))
    plan = ManagementPlan.objects.get(site=producer_site, year=YEAR)
    assert f'data-site="{producer_site.pk}"' in text and f'data-site="{district_world["idle"].pk}"' in text
    assert f'data-site="{district_world["furniture"].pk}"' not in text
    assert f"/management-plans/{plan.pk}/" in text
    assert f"/declarations/{district_world['declaration'].pk}/" in text
    assert re.search(r'id="in-force-count">1<', text) and re.search(r'id="submitted-count">1<', text)
    overdue = re.search(r'id="plans-overdue">(.*?)</section>', text, re.S).group(1)
    assert ("闲置车间" in overdue) == plans_late and producer_site.name not in overdue


def test_a_district_bureau_sees_its_district_only(district_world, regulator, english):
    browser = english(regulator)
    text = page_text(browser.get("/regulator/obligations/"))
    assert 'data-division="320602"' in text and 'data-division="320612"' not in text
    assert browser.get("/regulator/obligations/?division=320612").status_code == 404
    assert browser.get("/regulator/obligations/?division=999999").status_code == 404
    assert page_text(browser.get("/regulator/obligations/?division=320602")).count("data-site=") == 2


def test_the_completeness_page_costs_the_same_queries_for_more_sites(district_world, regulator_city, english):
    browser = english(regulator_city)
    browser.get("/regulator/obligations/")  # warm the session and the membership

    def queries(path):
        with CaptureQueriesContext(connection) as captured:
            page_text(browser.get(path))
        return len(captured)

    before = (queries("/regulator/obligations/"), queries("/regulator/obligations/?division=320602"))
    for n in range(5):
        SiteFactory(organization=ProducerFactory(division=division("320602")), name=f"新车间{n}")
    after = (queries("/regulator/obligations/"), queries("/regulator/obligations/?division=320602"))
    assert after == before


def test_producers_and_collectors_do_not_see_the_bureau_pages(alice, dispatcher, regulator, english):
    for person in (alice, dispatcher):
        assert english(person).get("/regulator/obligations/").status_code == 404
    assert english(regulator).get("/obligations/").status_code == 404
    assert english(regulator).get("/clients/filing/").status_code == 404
    assert english(alice).get("/clients/filing/").status_code == 404
