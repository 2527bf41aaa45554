from django.apps import AppConfig


class ManifestsConfig(AppConfig):
    name = "greenisle.manifests"
    label = "manifests"
    verbose_name = "Manifests"
