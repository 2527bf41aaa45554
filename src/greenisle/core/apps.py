from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "greenisle.core"
    label = "core"
    verbose_name = "Core"
