from django.apps import AppConfig


class APIConfig(AppConfig):
    name = "greenisle.api"
    label = "api"
    verbose_name = "API"
