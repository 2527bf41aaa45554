"""Load an edition of the catalogue from CSV files. Used by the data migration and by
``greenisle load_catalogue`` for later editions, so a new edition is data, not code."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from django.db import transaction

DATA_DIR = Path(__file__).resolve().parent / "data"
CATALOGUE_COLUMNS = {
    "seq",
    "category",
    "category_name",
    "industry_code",
    "industry_source",
    "waste_code",
    "waste_name",
    "hazard_characteristics",
}
EXEMPTION_COLUMNS = {"seq", "waste_name", "category", "waste_codes", "stage", "condition", "exempt_content"}


class CatalogueFileError(ValueError):
    pass


def _rows(path: Path, required: set[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise CatalogueFileError(f"{path.name}: missing columns {sorted(missing)}")
        return list(reader)


@transaction.atomic
def load_edition(
    *,
    code: str,
    title: str,
    in_force_from: dt.date,
    catalogue_csv: Path,
    exemptions_csv: Path | None,
    make_current: bool,
    models: Any = None,
) -> dict[str, int]:
    """Create (or refresh) edition ``code`` from the files. ``models`` lets a migration pass historical models."""
    if models is None:
        from greenisle.catalog import models as live

        models = live
    Edition, HazardCategory, WasteCode, Exemption = (
        models.Edition,
        models.HazardCategory,
        models.WasteCode,
        models.Exemption,
    )
    rows = _rows(catalogue_csv, CATALOGUE_COLUMNS)
    if make_current:
        Edition.objects.filter(is_current=True).exclude(code=code).update(is_current=False)
    edition, _ = Edition.objects.update_or_create(
        code=code, defaults={"title": title, "in_force_from": in_force_from, "is_current": make_current}
    )
    categories: dict[str, Any] = {}
    for row in rows:
        if row["category"] not in categories:
            categories[row["category"]], _ = HazardCategory.objects.update_or_create(
                edition=edition, code=row["category"], defaults={"name": row["category_name"]}
            )
    codes: dict[str, Any] = {}
    for row in rows:
        code_value = row["waste_code"].strip()
        if not code_value.endswith(row["category"][2:]):
            raise CatalogueFileError(f"{code_value}: last two digits do not match {row['category']}")
        codes[code_value], _ = WasteCode.objects.update_or_create(
            edition=edition,
            code=code_value,
            defaults={
                "category": categories[row["category"]],
                "seq": int(row["seq"]),
                "industry_code": row["industry_code"],
                "industry_source": row["industry_source"],
                "name": row["waste_name"],
                "hazard_characteristics": row["hazard_characteristics"],
            },
        )
    exemptions = 0
    if exemptions_csv is not None:
        for row in _rows(exemptions_csv, EXEMPTION_COLUMNS):
            exemption, _ = Exemption.objects.update_or_create(
                edition=edition,
                seq=int(row["seq"]),
                defaults={
                    "waste_name": row["waste_name"],
                    "category_text": row["category"],
                    "stages": row["stage"].split(),
                    "condition": row["condition"],
                    "exempt_content": row["exempt_content"],
                },
            )
            exemption.waste_codes.set([codes[c] for c in row["waste_codes"].split() if c in codes])
            exemptions += 1
    return {"categories": len(categories), "codes": len(codes), "exemptions": exemptions}
