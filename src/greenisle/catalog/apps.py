from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "greenisle.catalog"
    label = "catalog"
    verbose_name = "Waste catalogue"
