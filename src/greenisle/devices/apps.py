from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "greenisle.devices"
    label = "devices"
    verbose_name = "Devices"
