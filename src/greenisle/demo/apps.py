from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "greenisle.demo"
    label = "demo"
    verbose_name = "Demo data"
