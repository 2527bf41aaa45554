"""The ledger's arithmetic (HJ 1259-2022 §7, Appendix C), computed by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from greenisle.ledger import core
from greenisle.ledger.core import (
    Entry,
    WasteInfo,
    declaration_rows,
    period_of,
    periods_due,
    stock_effect,
)

OIL = "900-214-08"
RAGS = "900-041-49"
INFO = {
    OIL: WasteInfo(name="废矿物油", category="HW08", characteristics="T,I"),
    RAGS: WasteInfo(name="废抹布", category="HW49", characteristics="T/In"),
}


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def produced(day: str, kg: str, code: str = OIL) -> Entry:
    return Entry("production", code, Decimal(kg), 1, d(day))


def handed(day: str, kg: str, code: str = OIL, receiver: str = "南通绿岛", method: str = "C1") -> Entry:
    return Entry(
        "outsourced_disposal",
        code,
        Decimal(kg),
        -1,
        d(day),
        method=method,
        province="江苏省",
        receiver=receiver,
        licence_number="JS0601OOD001-1",
    )


def test_stock_effects_of_each_record_type() -> None:
    assert stock_effect("production") == 1
    assert stock_effect("storage_in") == 0  # between the unit's own points
    assert stock_effect("storage_in", external=True) == 1  # received from another unit
    assert stock_effect("storage_out") == 0
    assert stock_effect("own_disposal") == -1
    assert stock_effect("outsourced_utilisation") == -1
    with pytest.raises(ValueError):
        stock_effect("transfer")


def test_method_decides_utilisation_or_disposal() -> None:
    assert core.outsourced_type("R9") == "outsourced_utilisation"
    assert core.outsourced_type("D10") == "outsourced_disposal"
    assert core.outsourced_type("C1") == "outsourced_disposal"
    assert core.own_type("r2") == "own_utilisation"


@pytest.mark.parametrize(
    ("kind", "day", "label", "start", "end", "due"),
    [
        # §7.2.1: a month is declared by the 15th of the next month; December by 15 January.
        ("month", "2026-03-31", "2026-03", "2026-03-01", "2026-04-01", "2026-04-15"),
        ("month", "2026-12-05", "2026-12", "2026-12-01", "2027-01-01", "2027-01-15"),
        # §7.2.2: a quarter by the 15th of the next quarter's first month.
        ("quarter", "2026-05-20", "2026-Q2", "2026-04-01", "2026-07-01", "2026-07-15"),
        ("quarter", "2026-11-22", "2026-Q4", "2026-10-01", "2027-01-01", "2027-01-15"),
        # §7.2.3: a year by 31 March of the next.
        ("year", "2026-06-01", "2026", "2026-01-01", "2027-01-01", "2027-03-31"),
    ],
)
def test_periods_and_due_dates(kind: str, day: str, label: str, start: str, end: str, due: str) -> None:
    period = period_of(kind, d(day))
    assert (period.label, period.start, period.end, period.due_on) == (label, d(start), d(end), d(due))
    assert core.parse_period(kind, label) == period
    assert period.next().previous() == period


def test_parse_period_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="quarter"):
        core.parse_period("quarter", "2026-Q5")
    with pytest.raises(ValueError):
        core.parse_period("month", "2026-13")


def test_periods_owed_by_class() -> None:
    today = d("2026-05-10")
    since = d("2026-01-01")
    # Key: January–April monthly (May not over yet); the annual for 2026 is not over either.
    assert [p.label for p in periods_due("key", today, since=since)] == [
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
    ]
    assert [p.label for p in periods_due("simplified", today, since=since)] == ["2026-Q1"]
    assert periods_due("registration", today, since=since) == []
    assert [p.label for p in periods_due("registration", today, since=d("2025-01-01"))] == ["2025"]


def test_monthly_declaration_with_opening_and_closing_stock() -> None:
    """March 2026 of a workshop: 40 kg of oil in store on 1 March, 120 kg produced in March (80 + 40),
    100 kg handed to the collector in two loads (60 + 40), so 60 kg left on 31 March."""
    entries = [
        produced("2026-02-10", "50"),
        handed("2026-02-20", "10"),
        produced("2026-03-02", "80"),
        produced("2026-03-18", "40"),
        handed("2026-03-10", "60"),
        handed("2026-03-25", "40"),
        produced("2026-04-01", "999"),  # next month: not counted
    ]
    march = period_of("month", d("2026-03-01"))
    [row] = declaration_rows(entries, march, INFO)
    assert row.waste_code == OIL and row.category == "HW08" and row.name == "废矿物油"
    assert row.opening_t == Decimal("0.040")
    assert row.generated_t == Decimal("0.120")
    assert [(r.receiver, r.method, r.tonnes) for r in row.outsourced] == [
        ("南通绿岛", "C1", Decimal("0.100"))
    ]
    assert row.closing_t == Decimal("0.060")
    assert row.closing_t == row.opening_t + row.generated_t - row.outsourced_t - row.own_t


def test_quarterly_declaration_with_a_correction() -> None:
    """Q1 2026: 200 kg of rags produced, of which a 25 kg record was a mistake and reversed (−25 kg);
    150 kg handed over to two receivers. Closing stock: 200 − 25 − 150 = 25 kg."""
    entries = [
        produced("2026-01-15", "120", RAGS),
        produced("2026-02-15", "80", RAGS),
        Entry("production", RAGS, Decimal("-25"), 1, d("2026-02-16")),  # reversing entry
        handed("2026-02-20", "100", RAGS),
        handed("2026-03-20", "50", RAGS, receiver="如东处置中心", method="D10"),
    ]
    q1 = period_of("quarter", d("2026-02-01"))
    [row] = declaration_rows(entries, q1, INFO)
    assert row.opening_t == Decimal("0.000")
    assert row.generated_t == Decimal("0.175")
    assert sorted((r.receiver, r.method, r.tonnes) for r in row.outsourced) == [
        ("南通绿岛", "C1", Decimal("0.100")),
        ("如东处置中心", "D10", Decimal("0.050")),
    ]
    assert row.closing_t == Decimal("0.025")


def test_annual_declaration_across_codes_with_own_use() -> None:
    """2025: oil 1.2 t produced, 0.3 t used on site (R9), 0.8 t handed over, 0.1 t left; rags carried
    in from 2024 (0.05 t) and all handed over; a code with nothing left and no movement is omitted."""
    entries = [
        produced("2024-12-01", "50", RAGS),
        produced("2024-06-01", "10", "900-249-08"),
        handed("2024-07-01", "10", "900-249-08"),
        produced("2025-02-01", "700"),
        produced("2025-09-01", "500"),
        Entry("own_utilisation", OIL, Decimal("300"), -1, d("2025-10-01"), method="R9"),
        handed("2025-11-01", "800"),
        handed("2025-03-01", "50", RAGS),
    ]
    year = period_of("year", d("2025-05-05"))
    rows = {r.waste_code: r for r in declaration_rows(entries, year, INFO)}
    assert set(rows) == {OIL, RAGS}
    oil = rows[OIL]
    assert (oil.opening_t, oil.generated_t, oil.own, oil.outsourced_t, oil.closing_t) == (
        Decimal("0.000"),
        Decimal("1.200"),
        [("R9", Decimal("0.300"))],
        Decimal("0.800"),
        Decimal("0.100"),
    )
    rags = rows[RAGS]
    assert (rags.opening_t, rags.generated_t, rags.outsourced_t, rags.closing_t) == (
        Decimal("0.050"),
        Decimal("0.000"),
        Decimal("0.050"),
        Decimal("0.000"),
    )


def test_collector_receipts_count_as_received_not_generated() -> None:
    entries = [
        Entry("storage_in", OIL, Decimal("480"), 1, d("2026-03-03")),
        Entry("storage_in", OIL, Decimal("480"), 0, d("2026-03-03")),  # internal move: nothing
        Entry("storage_out", OIL, Decimal("300"), 0, d("2026-03-20")),
        handed("2026-03-21", "300", receiver="如东处置中心", method="D10"),
    ]
    [row] = declaration_rows(entries, period_of("month", d("2026-03-09")), INFO)
    assert (row.generated_t, row.received_t, row.outsourced_t, row.closing_t) == (
        Decimal("0.000"),
        Decimal("0.480"),
        Decimal("0.300"),
        Decimal("0.180"),
    )


def test_balance_tolerance() -> None:
    balanced = core.Balance(OIL, Decimal("100"), Decimal("40"), Decimal("60"), Decimal("0"))
    assert balanced.gap_kg == 0 and not balanced.beyond(pct=Decimal(5), kg=Decimal(1))
    near = core.Balance(OIL, Decimal("100"), Decimal("40"), Decimal("56"), Decimal("0"))
    assert near.gap_kg == 4 and not near.beyond(pct=Decimal(5), kg=Decimal(1))
    gap = core.Balance(OIL, Decimal("100"), Decimal("40"), Decimal("30"), Decimal("0"))
    assert gap.gap_kg == 30 and gap.beyond(pct=Decimal(5), kg=Decimal(1))
    small = core.Balance(OIL, Decimal("10"), Decimal("0"), Decimal("9.2"), Decimal("0"))
    assert not small.beyond(pct=Decimal(5), kg=Decimal(1))  # 0.8 kg: under the 1 kg floor
