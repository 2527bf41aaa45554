"""Data: the 国家危险废物名录 2021 edition and its exemption list, from the CSVs in catalog/data/."""

import datetime as dt

from django.db import migrations


def load(apps, schema_editor):
    from types import SimpleNamespace

    from greenisle.catalog.loading import DATA_DIR, load_edition

    models = SimpleNamespace(**{name: apps.get_model("catalog", name) for name in
                                ("Edition", "HazardCategory", "WasteCode", "Exemption")})
    load_edition(
        code="2021",
        title="国家危险废物名录（2021年版）",
        in_force_from=dt.date(2021, 1, 1),
        catalogue_csv=DATA_DIR / "catalogue_2021.csv",
        exemptions_csv=DATA_DIR / "exemptions_2021.csv",
        make_current=True,
        models=models,
    )


def unload(apps, schema_editor):
    apps.get_model("catalog", "Edition").objects.filter(code="2021").delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
