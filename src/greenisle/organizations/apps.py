from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "greenisle.organizations"
    label = "organizations"
    verbose_name = "Organisations"
