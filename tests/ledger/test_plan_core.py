"""Management class (HJ 1259-2022 §4.2) and plan content by class (§5.3, Appendix A), by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from greenisle.plans import core
from greenisle.plans.core import WasteRow, annual_amount, management_class, plan_problems

T = Decimal


@pytest.mark.parametrize(
    ("amount", "own", "licence", "expected"),
    [
        (T("9.999"), False, False, "registration"),
        (T("10"), False, False, "simplified"),
        (T("99.9"), False, False, "simplified"),
        (T("100"), False, False, "key"),
        (T("0.4"), True, False, "key"),  # §4.2.1 a) 2): its own utilisation/disposal facility
        (T("0.4"), False, True, "key"),  # §4.2.1 a) 3): a licence holder
    ],
)
def test_class_from_amount_and_facts(amount: Decimal, own: bool, licence: bool, expected: str) -> None:
    assert (
        management_class(annual_t=amount, own_facility=own, licence_holder=licence).management_class
        == expected
    )


def test_annual_amount_rules() -> None:
    years = {2023: T("4.0"), 2024: T("12.5"), 2025: T("8.0"), 2022: T("50")}
    # Operating since 2019: the largest of 2023–2025 (2022's 50 t is older than three years).
    amount, basis = annual_amount(years, year=2026, operating_since=dt.date(2019, 5, 1), assessed_t=None)
    assert amount == T("12.5") and "近3年" in basis
    # Operating since mid-2024 (over one year before 2026, under three): the largest year since.
    amount, basis = annual_amount(years, year=2026, operating_since=dt.date(2024, 6, 1), assessed_t=None)
    assert amount == T("12.5") and "投运期间" in basis
    amount, _ = annual_amount(
        {2025: T("3")}, year=2026, operating_since=dt.date(2024, 12, 1), assessed_t=None
    )
    assert amount == T("3")
    # Under one year: the EIA/permit amount.
    amount, basis = annual_amount(years, year=2026, operating_since=dt.date(2025, 3, 1), assessed_t=T("0.8"))
    assert amount == T("0.8") and "环评" in basis
    # Nothing assessed and no start date known: the ledger's largest recent year, else nothing.
    amount, basis = annual_amount({2025: T("1.2")}, year=2026, operating_since=None, assessed_t=None)
    assert amount == T("1.2") and "台账" in basis
    amount, _ = annual_amount({}, year=2026, operating_since=None, assessed_t=None)
    assert amount == 0


BASIC = {name: "x" for name in core.BASIC_FIELDS}


def complete_row(**kw: object) -> WasteRow:
    fields: dict[str, object] = {
        "waste_code": "900-214-08",
        "annual_t": T("1.5"),
        "form": "liquid",
        "storage_facility_code": "TS001",
        "storage_type": "贮存库",
        "packaging": "200 L 铁桶",
        "year_end_stock_t": T("0.1"),
        "transfer_t": T("1.4"),
        "method": "C1",
        "receivers": ("c1",),
    }
    fields.update(kw)
    return WasteRow(**fields)  # type: ignore[arg-type]


def test_registration_fills_a1_a3_a7_only() -> None:
    row = complete_row(storage_facility_code="", storage_type="", packaging="", year_end_stock_t=None)
    assert plan_problems("registration", basic=BASIC, wastes=[row]) == []
    # The same row is not enough for a simplified unit: A.4 storage and A.6 reduction are due.
    sections = {p.section for p in plan_problems("simplified", basic=BASIC, wastes=[row])}
    assert sections == {"A.4", "A.6"}


def test_simplified_needs_storage_and_reduction() -> None:
    problems = plan_problems(
        "simplified", basic=BASIC, wastes=[complete_row()], reduction={"measures": "改进工艺"}
    )
    assert problems == []


def test_key_needs_facilities_and_own_treatment_methods() -> None:
    problems = plan_problems(
        "key",
        basic=BASIC,
        wastes=[complete_row()],
        reduction={"measures": "改进工艺"},
        own_treatment=[{"facility": "RTO", "method": ""}],
    )
    assert {(p.section, p.field) for p in problems} == {
        ("A.2", "facilities"),
        ("A.5", "own_treatment[0].method"),
    }


def test_missing_fields_are_named() -> None:
    basic = dict(BASIC, uscc="", technical_lead=" ")
    row = complete_row(annual_t=T(0), transfer_t=T("1"), receivers=(), method="")
    fields = {p.field for p in plan_problems("registration", basic=basic, wastes=[row])}
    assert fields == {
        "basic.uscc",
        "basic.technical_lead",
        "wastes[0].annual_t",
        "wastes[0].receivers",
        "wastes[0].method",
    }
    assert {p.field for p in plan_problems("registration", basic=BASIC, wastes=[])} == {"wastes"}


def test_filing_numbers() -> None:
    assert core.filing_number("320602", 2026, 17) == "3206022026000017"
    assert core.filing_number("320602", 2026, 17, revision=2) == "3206022026000017-2"
    assert core.plan_due_on(2026) == dt.date(2026, 3, 31)
