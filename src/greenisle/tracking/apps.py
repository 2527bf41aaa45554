from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "greenisle.tracking"
    label = "tracking"
    verbose_name = "Tracking"
