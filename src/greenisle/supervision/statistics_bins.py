"""Bins in the statistics: enabled bins by the fill band of their newest reading and those at or over
their own threshold, per district (the bins' state now; the period does not apply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    Value,
    When,
)

from greenisle.devices.models import Bin
from greenisle.supervision import statistics_core as core
from greenisle.supervision.statistics_filters import Filters, districts_of

# --- bins -------------------------------------------------------------------------------------------


@dataclass
class BinRow:
    code: str
    name: str
    bands: dict[str, int] = field(default_factory=dict)
    over_threshold: int = 0

    @property
    def total(self) -> int:
        return sum(self.bands.values())


@dataclass(frozen=True)
class BinStats:
    bands: list[tuple[str, str]]  # (key, label) in order, the last one bins without a reading
    rows: list[BinRow]
    total: BinRow


def _band_case() -> Case:
    whens = [
        When(
            Q(state__fill_pct__gte=band.low) & (Q(state__fill_pct__lt=band.high) if band.high else Q()),
            then=Value(band.key),
        )
        for band in core.FILL_BANDS
    ]
    # Below the first band's lower bound cannot be stored; count it in the first band all the same.
    whens.append(When(state__fill_pct__lt=core.FILL_BANDS[0].low, then=Value(core.FILL_BANDS[0].key)))
    return Case(*whens, default=Value(core.NO_READING), output_field=CharField())


def bin_stats(user: Any, f: Filters) -> BinStats:
    """Enabled bins by the fill of their newest reading, and those at or over their own threshold, per
    district. The bins' state now: the period does not apply."""
    qs = Bin.objects.visible_to(user).filter(enabled=True, site__division__code__startswith=f.prefix)
    if f.collector_id:
        qs = qs.filter(collector_id=f.collector_id)
    if f.category:
        qs = qs.filter(
            Exists(
                Bin.waste_codes.through.objects.filter(
                    bin_id=OuterRef("pk"), wastecode__category__code=f.category
                )
            )
        )
    grouped = (
        qs.annotate(band=_band_case())
        .values("site__division_id", "band")
        .annotate(
            n=Count("id"),
            over=Count("id", filter=Q(state__fill_pct__gte=F("threshold_pct"))),
        )
        .order_by()
    )
    keys = [b.key for b in core.FILL_BANDS] + [core.NO_READING]
    by_code: dict[str, BinRow] = {}
    for r in grouped:
        row = by_code.setdefault(r["site__division_id"], BinRow(r["site__division_id"], ""))
        row.bands[r["band"]] = row.bands.get(r["band"], 0) + r["n"]
        row.over_threshold += r["over"]
    total = BinRow(code=f.division or f.scope_code, name="", bands=dict.fromkeys(keys, 0))
    rows = []
    for place in districts_of(f, set(by_code)):
        found = by_code.get(place.code)
        row = BinRow(
            place.code,
            place.name,
            {k: (found.bands.get(k, 0) if found else 0) for k in keys},
            found.over_threshold if found else 0,
        )
        for k in keys:
            total.bands[k] += row.bands[k]
        total.over_threshold += row.over_threshold
        rows.append(row)
    labels = [(b.key, b.label) for b in core.FILL_BANDS] + [(core.NO_READING, "—")]
    return BinStats(bands=labels, rows=rows, total=total)
