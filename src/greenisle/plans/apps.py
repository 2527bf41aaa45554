from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "greenisle.plans"
    label = "plans"
    verbose_name = "Management plans"
