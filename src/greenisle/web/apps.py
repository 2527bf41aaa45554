from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "greenisle.web"
    label = "web"
    verbose_name = "Web"
