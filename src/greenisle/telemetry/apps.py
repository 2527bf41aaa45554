from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "greenisle.telemetry"
    label = "telemetry"
    verbose_name = "Telemetry"
