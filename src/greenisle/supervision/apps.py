from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "greenisle.supervision"
    label = "supervision"
    verbose_name = "Supervision"
