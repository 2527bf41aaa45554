"""The 国家危险废物名录 2021 as loaded by the data migration, and later editions as data."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from greenisle.catalog.loading import CATALOGUE_COLUMNS, CatalogueFileError, load_edition
from greenisle.catalog.models import Edition, Exemption, HazardCategory, WasteCode

pytestmark = pytest.mark.django_db


def test_2021_edition_is_current_with_all_467_codes():
    edition = Edition.objects.get(is_current=True)
    assert edition.code == "2021"
    assert WasteCode.objects.current().count() == 467
    assert WasteCode.objects.current().values("code").distinct().count() == 467


def test_categories_run_from_hw01_to_hw50_without_the_withdrawn_ones():
    codes = set(HazardCategory.objects.filter(edition_id="2021").values_list("code", flat=True))
    # HW41–HW44 were withdrawn before 2021; the other 46 categories remain.
    assert codes == {f"HW{n:02d}" for n in range(1, 51)} - {"HW41", "HW42", "HW43", "HW44"}
    assert HazardCategory.objects.get(edition_id="2021", code="HW08").name == "废矿物油与含矿物油废物"


def test_every_code_ends_with_its_category_number():
    for code, category in WasteCode.objects.current().values_list("code", "category__code"):
        assert code[-2:] == category[2:], code


def test_waste_engine_oil_and_contaminated_packaging_carry_their_hazards():
    oil = WasteCode.objects.current().get(code="900-214-08")
    assert oil.category.code == "HW08"
    assert oil.hazard_set == {"T", "I"}
    packaging = WasteCode.objects.current().get(code="900-041-49")
    assert packaging.category.code == "HW49"
    assert packaging.hazard_set == {"T", "In"}


def test_exemption_list_has_32_entries():
    assert Exemption.objects.filter(edition_id="2021").count() == 32


def test_exemption_24_oily_rags_is_exempt_for_the_whole_process():
    entry = Exemption.objects.get(edition_id="2021", seq=24)
    assert list(entry.waste_codes.values_list("code", flat=True)) == ["900-041-49"]
    assert entry.stages == ["all"]
    for stage in ("collection", "transport", "storage", "utilisation", "disposal"):
        assert entry.exempts(stage)


def test_exemption_18_lead_acid_batteries_is_exempt_for_transport_only():
    entry = Exemption.objects.get(edition_id="2021", seq=18)
    assert list(entry.waste_codes.values_list("code", flat=True)) == ["900-052-31"]
    assert entry.stages == ["transport"]
    assert entry.exempts("transport")
    assert not entry.exempts("collection")
    assert not entry.exempts("storage")


def _write_catalogue(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or sorted(CATALOGUE_COLUMNS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows([{k: v for k, v in row.items() if k in columns} for row in rows])
    return path


EDITION_2025 = [
    {
        "seq": "1", "category": "HW08", "category_name": "废矿物油与含矿物油废物", "industry_code": "900",
        "industry_source": "非特定行业", "waste_code": "900-214-08",
        "waste_name": "车辆维修过程中产生的废润滑油（2025）", "hazard_characteristics": "T,I",
    },
    {
        "seq": "2", "category": "HW49", "category_name": "其他废物", "industry_code": "900",
        "industry_source": "非特定行业", "waste_code": "900-041-49",
        "waste_name": "含有或沾染毒性危险废物的废弃包装物（2025）", "hazard_characteristics": "T/In",
    },
]  # fmt: skip


def test_a_new_edition_loaded_from_csv_becomes_current_without_code_change(tmp_path):
    exemptions = tmp_path / "exemptions.csv"
    exemptions.write_text(
        "seq,waste_name,category,waste_codes,stage,condition,exempt_content\n"
        "1,废弃的含油抹布、劳保用品,900-041-49,900-041-49,all,混入生活垃圾,全过程不按危险废物管理\n",
        encoding="utf-8",
    )
    counts = load_edition(
        code="2025", title="国家危险废物名录（2025年版）", in_force_from=dt.date(2025, 1, 1),
        catalogue_csv=_write_catalogue(tmp_path / "catalogue.csv", EDITION_2025), exemptions_csv=exemptions,
        make_current=True,
    )  # fmt: skip
    assert counts == {"categories": 2, "codes": 2, "exemptions": 1}
    assert Edition.objects.get(is_current=True).code == "2025"
    assert set(WasteCode.objects.current().values_list("code", flat=True)) == {"900-214-08", "900-041-49"}
    assert WasteCode.objects.current().get(code="900-214-08").name.endswith("（2025）")
    # The earlier edition stays for the records that cite it.
    assert WasteCode.objects.filter(edition_id="2021").count() == 467
    assert Exemption.objects.get(edition_id="2025", seq=1).exempts("storage")


def test_loading_an_edition_without_making_it_current_leaves_the_current_one(tmp_path):
    load_edition(
        code="2025", title="2025", in_force_from=dt.date(2025, 1, 1),
        catalogue_csv=_write_catalogue(tmp_path / "c.csv", EDITION_2025), exemptions_csv=None, make_current=False,
    )  # fmt: skip
    assert Edition.objects.get(is_current=True).code == "2021"
    assert WasteCode.objects.current().count() == 467


def test_load_catalogue_command_loads_an_edition(tmp_path):
    path = _write_catalogue(tmp_path / "c.csv", EDITION_2025)
    call_command(
        "load_catalogue", "--edition", "2025", "--title", "2025", "--in-force-from", "2025-01-01",
        "--catalogue", str(path), "--current",
    )  # fmt: skip
    assert WasteCode.objects.current().count() == 2


def test_catalogue_file_missing_a_column_is_refused_naming_it(tmp_path):
    columns = sorted(CATALOGUE_COLUMNS - {"hazard_characteristics"})
    path = _write_catalogue(tmp_path / "c.csv", EDITION_2025, columns)
    with pytest.raises(CatalogueFileError, match="hazard_characteristics"):
        load_edition(
            code="2025", title="2025", in_force_from=dt.date(2025, 1, 1), catalogue_csv=path,
            exemptions_csv=None, make_current=True,
        )  # fmt: skip
    assert not Edition.objects.filter(code="2025").exists()


def test_code_whose_last_digits_contradict_its_category_is_refused(tmp_path):
    rows = [{**EDITION_2025[0], "waste_code": "900-214-09"}]
    with pytest.raises(CatalogueFileError, match="900-214-09"):
        load_edition(
            code="2025", title="2025", in_force_from=dt.date(2025, 1, 1),
            catalogue_csv=_write_catalogue(tmp_path / "c.csv", rows), exemptions_csv=None, make_current=True,
        )  # fmt: skip
    # Atomic: the 2021 edition is still the one in force.
    assert Edition.objects.get(is_current=True).code == "2021"


def test_load_catalogue_command_reports_a_bad_file_as_a_command_error(tmp_path):
    with pytest.raises(CommandError):
        call_command(
            "load_catalogue", "--edition", "2025", "--title", "2025", "--in-force-from", "2025-01-01",
            "--catalogue", str(tmp_path / "missing.csv"),
        )  # fmt: skip
