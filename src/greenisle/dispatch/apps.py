from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "greenisle.dispatch"
    label = "dispatch"
    verbose_name = "Dispatch"
