"""The ledger's arithmetic, without the ORM: stock effects, declaration periods and due dates, the
Appendix C figures of a declaration, and the mass balance (HJ 1259-2022 §6–§7).

Every ledger record moves the stock of the unit that keeps the ledger by +1, 0 or −1 times its
weight (:func:`stock_effect`):

- production (HWCS…) adds to stock, and so does a storage-in (HWRK…) of waste received from another
  unit (a collector's or facility's receipt of a manifest);
- storage-in and storage-out (HWRK…/HWCK…) between a unit's own points move nothing: the waste
  stays the unit's until it is handed over;
- own utilisation/disposal (HWZXLY/HWZXCZ…), outsourced utilisation/disposal (HWWWLY/HWWWCZ…) and
  export (HWCKLY/HWCKCZ…) take it out of stock.

A reversing entry has the same type and effect as the record it reverses and the opposite weight, so
sums over records need no special case for corrections.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

PRODUCTION = "production"
STORAGE_IN = "storage_in"
STORAGE_OUT = "storage_out"
OWN_TYPES = frozenset({"own_utilisation", "own_disposal"})
OUTSOURCED_TYPES = frozenset(
    {"outsourced_utilisation", "outsourced_disposal", "export_utilisation", "export_disposal"}
)

THOUSAND = Decimal(1000)
TONNES = Decimal("0.001")


def stock_effect(record_type: str, *, external: bool = False) -> int:
    """+1, 0 or −1: how a record of this type moves its unit's stock. ``external`` marks a storage-in of
    waste received from another unit."""
    if record_type == PRODUCTION:
        return 1
    if record_type == STORAGE_IN:
        return 1 if external else 0
    if record_type == STORAGE_OUT:
        return 0
    if record_type in OWN_TYPES or record_type in OUTSOURCED_TYPES:
        return -1
    raise ValueError(f"unknown ledger record type {record_type!r}")


def outsourced_type(method: str) -> str:
    """HJ 1033 method codes: R… is utilisation (委外利用, HWWWLY), anything else disposal or collection
    for disposal (委外处置, HWWWCZ)."""
    return "outsourced_utilisation" if method.upper().startswith("R") else "outsourced_disposal"


def own_type(method: str) -> str:
    return "own_utilisation" if method.upper().startswith("R") else "own_disposal"


def tonnes(kg: Decimal) -> Decimal:
    t = (kg / THOUSAND).quantize(TONNES)
    return t if t else Decimal("0.000")  # never "-0.000"


# --- periods (§7.2) -----------------------------------------------------------------------------

MONTH = "month"
QUARTER = "quarter"
YEAR = "year"

# §7.2.1–7.2.3: which declarations each management class files.
DECLARATION_KINDS: dict[str, tuple[str, ...]] = {
    "key": (MONTH, YEAR),
    "simplified": (QUARTER, YEAR),
    "registration": (YEAR,),
}


@dataclass(frozen=True)
class Period:
    kind: str
    start: dt.date  # first day
    end: dt.date  # first day after

    @property
    def label(self) -> str:
        if self.kind == MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}"

    @property
    def label_zh(self) -> str:
        if self.kind == MONTH:
            return f"{self.start.year}年{self.start.month}月"
        if self.kind == QUARTER:
            return f"{self.start.year}年第{(self.start.month - 1) // 3 + 1}季度"
        return f"{self.start.year}年"

    @property
    def due_on(self) -> dt.date:
        """§7.2: a month by the 15th of the next, a quarter by the 15th of the next quarter's first
        month, a year by 31 March of the next."""
        if self.kind == YEAR:
            return dt.date(self.end.year, 3, 31)
        return self.end.replace(day=15)

    def previous(self) -> Period:
        return period_of(self.kind, self.start - dt.timedelta(days=1))

    def next(self) -> Period:
        return period_of(self.kind, self.end)


def _month_start(year: int, month: int) -> dt.date:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return dt.date(year, month, 1)


def period_of(kind: str, day: dt.date) -> Period:
    """The period of ``kind`` that contains ``day``."""
    if kind == MONTH:
        start = dt.date(day.year, day.month, 1)
        return Period(kind, start, _month_start(day.year, day.month + 1))
    if kind == QUARTER:
        first = (day.month - 1) // 3 * 3 + 1
        return Period(kind, dt.date(day.year, first, 1), _month_start(day.year, first + 3))
    if kind == YEAR:
        return Period(kind, dt.date(day.year, 1, 1), dt.date(day.year + 1, 1, 1))
    raise ValueError(f"unknown period kind {kind!r}")


def parse_period(kind: str, label: str) -> Period:
    """``2026-03`` (month), ``2026-Q1`` (quarter) or ``2026`` (year)."""
    try:
        if kind == MONTH:
            year, month = label.split("-")
            return period_of(MONTH, dt.date(int(year), int(month), 1))
        if kind == QUARTER:
            year, quarter = label.upper().split("-Q")
            if not 1 <= int(quarter) <= 4:
                raise ValueError(label)
            return period_of(QUARTER, dt.date(int(year), (int(quarter) - 1) * 3 + 1, 1))
        if kind == YEAR:
            return period_of(YEAR, dt.date(int(label), 1, 1))
    except ValueError:
        pass
    raise ValueError(f"{label!r} is not a {kind} period (2026-03, 2026-Q1 or 2026)")


def periods_due(management_class: str, today: dt.date, *, since: dt.date) -> list[Period]:
    """Every closed period of the class's kinds that ended after ``since`` and before ``today``."""
    found: list[Period] = []
    for kind in DECLARATION_KINDS[management_class]:
        period = period_of(kind, today).previous()
        while period.end > since:
            found.append(period)
            period = period.previous()
    return sorted(found, key=lambda p: (p.end, p.kind))


# --- declarations (§7.3, Appendix C) ------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """What a declaration needs from one ledger record."""

    record_type: str
    waste_code: str
    weight_kg: Decimal  # negative for a reversing entry
    effect: int
    day: dt.date
    method: str = ""
    province: str = ""
    receiver: str = ""
    licence_number: str = ""


@dataclass(frozen=True)
class WasteInfo:
    name: str
    category: str
    characteristics: str
    hazardous_constituents: str = ""
    form: str = ""
    internal_name: str = ""


@dataclass
class OutsourcedRow:
    province: str
    receiver: str
    licence_number: str
    method: str
    tonnes: Decimal


@dataclass
class DeclarationRow:
    waste_code: str
    name: str
    category: str
    characteristics: str
    hazardous_constituents: str
    form: str
    internal_name: str
    generated_t: Decimal = Decimal("0.000")
    received_t: Decimal = Decimal("0.000")
    own: list[tuple[str, Decimal]] = field(default_factory=list)
    outsourced: list[OutsourcedRow] = field(default_factory=list)
    opening_t: Decimal = Decimal("0.000")
    closing_t: Decimal = Decimal("0.000")

    @property
    def own_t(self) -> Decimal:
        return sum((t for _m, t in self.own), Decimal("0.000"))

    @property
    def outsourced_t(self) -> Decimal:
        return sum((r.tonnes for r in self.outsourced), Decimal("0.000"))

    def as_dict(self) -> dict[str, object]:
        return {
            "waste_code": self.waste_code,
            "name": self.name,
            "category": self.category,
            "characteristics": self.characteristics,
            "hazardous_constituents": self.hazardous_constituents,
            "form": self.form,
            "internal_name": self.internal_name,
            "generated_t": str(self.generated_t),
            "received_t": str(self.received_t),
            "own": [{"method": m, "t": str(t)} for m, t in self.own],
            "outsourced": [
                {
                    "province": r.province,
                    "receiver": r.receiver,
                    "licence_number": r.licence_number,
                    "method": r.method,
                    "t": str(r.tonnes),
                }
                for r in self.outsourced
            ],
            "opening_t": str(self.opening_t),
            "closing_t": str(self.closing_t),
        }


def declaration_rows(
    entries: Iterable[Entry], period: Period, catalogue: dict[str, WasteInfo]
) -> list[DeclarationRow]:
    """Appendix C figures per waste code for ``period`` from every entry up to the period's end.

    Opening stock is the stock effect of every entry before the period, closing stock that plus the
    period's; generation, own use/disposal and outsourcing are the period's entries by type. A code
    with nothing to declare (no stock, no movement) is left out."""
    opening: dict[str, Decimal] = defaultdict(Decimal)
    moved: dict[str, Decimal] = defaultdict(Decimal)
    generated: dict[str, Decimal] = defaultdict(Decimal)
    received: dict[str, Decimal] = defaultdict(Decimal)
    own: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    out: dict[str, dict[tuple[str, str, str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    active: set[str] = set()
    for e in entries:
        if e.day >= period.end:
            continue
        signed = e.weight_kg * e.effect
        if e.day < period.start:
            opening[e.waste_code] += signed
            continue
        active.add(e.waste_code)
        moved[e.waste_code] += signed
        if e.record_type == PRODUCTION:
            generated[e.waste_code] += e.weight_kg
        elif e.record_type == STORAGE_IN and e.effect:
            received[e.waste_code] += e.weight_kg
        elif e.record_type in OWN_TYPES:
            own[e.waste_code][e.method] += e.weight_kg
        elif e.record_type in OUTSOURCED_TYPES:
            out[e.waste_code][(e.province, e.receiver, e.licence_number, e.method)] += e.weight_kg
    rows: list[DeclarationRow] = []
    for code in sorted(active | {c for c, kg in opening.items() if kg}):
        info = catalogue.get(code) or WasteInfo(name="", category="", characteristics="")
        row = DeclarationRow(
            waste_code=code,
            name=info.name,
            category=info.category,
            characteristics=info.characteristics,
            hazardous_constituents=info.hazardous_constituents,
            form=info.form,
            internal_name=info.internal_name,
            generated_t=tonnes(generated[code]),
            received_t=tonnes(received[code]),
            own=[(m, tonnes(kg)) for m, kg in sorted(own[code].items()) if kg],
            outsourced=[
                OutsourcedRow(p, r, lic, m, tonnes(kg))
                for (p, r, lic, m), kg in sorted(out[code].items())
                if kg
            ],
            opening_t=tonnes(opening[code]),
            closing_t=tonnes(opening[code] + moved[code]),
        )
        rows.append(row)
    return rows


# --- mass balance -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """One unit's balance for one waste code, in kg: what came in (generated or received) against
    what it holds and what left it. The figures come from different records (the ledger, the
    containers in store, the manifests), so a gap means they disagree."""

    waste_code: str
    came_in_kg: Decimal
    stored_kg: Decimal
    transferred_kg: Decimal
    own_kg: Decimal

    @property
    def gap_kg(self) -> Decimal:
        return self.came_in_kg - self.stored_kg - self.transferred_kg - self.own_kg

    def beyond(self, *, pct: Decimal, kg: Decimal) -> bool:
        """True when the gap exceeds both ``kg`` and ``pct`` % of what came in."""
        gap = abs(self.gap_kg)
        return gap > kg and gap > abs(self.came_in_kg) * pct / 100

    def as_dict(self) -> dict[str, str]:
        return {
            "waste_code": self.waste_code,
            "came_in_kg": str(self.came_in_kg),
            "stored_kg": str(self.stored_kg),
            "transferred_kg": str(self.transferred_kg),
            "own_kg": str(self.own_kg),
            "gap_kg": str(self.gap_kg),
        }
